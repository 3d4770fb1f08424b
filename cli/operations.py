"""exec, ps, pause, resume, events: runc's commands on a living container."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time

from libcontainer.spec import ConfigInvalid, ContainerDestroyed, Status

from . import bundle as bundle_mod
from . import keeper
from .errors import CliError
from .store import Store


def _exec_process(container, args):
    """The process of ``lcrun exec``: ``--process`` JSON, or the container's process with the
    command line's args, ``--env``, ``--cwd``, ``--user``, ``--tty`` (runc's rules)."""
    console = args.console_socket
    if args.process:
        try:
            with open(args.process) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            raise ConfigInvalid(f"process.json {args.process}: {e}") from None
        process = bundle_mod.process_of(data, container.config(), console)
    else:
        if not args.command:
            raise CliError("exec args cannot be empty")
        base = container.config().process
        env = list(base.env) + list(args.env or [])
        changes = {"args": list(args.command), "env": env, "terminal": bool(args.tty), "console_socket": console}
        if args.cwd:
            changes["cwd"] = args.cwd
        if args.user:
            uid, _, gid = args.user.partition(":")
            changes.update(uid=int(uid), gid=int(gid or 0))
        process = dataclasses.replace(base, **changes)
        if process.terminal and console is None:
            raise CliError("cannot allocate tty if runc will detach without setting console socket")
    if not process.terminal:
        process = dataclasses.replace(process, stdin=0, stdout=1, stderr=2)
    return process


def cmd_exec(store: Store, args) -> int:
    container = store.load(args.id)
    if container.status() == Status.STOPPED:
        raise CliError("cannot exec in a stopped container")
    process = _exec_process(container, args)
    pid = container.start_process(process)
    if args.detach:
        if args.pid_file:
            keeper.write_pid_file(args.pid_file, keeper.spawn(container, pid))
        return 0
    if args.pid_file:
        keeper.write_pid_file(args.pid_file, pid)
    keeper.forward_signals(container, pid)
    return container.wait_process(pid)


def cmd_ps(store: Store, args) -> int:
    container = store.load(args.id)
    pids = container.processes()
    if args.format == "json":
        print(json.dumps(pids))
        return 0
    out = subprocess.run(["ps"] + (args.ps_args or ["-ef"]), capture_output=True, text=True, check=False)
    lines = out.stdout.splitlines()
    if not lines:
        raise CliError(f"ps: {out.stderr.strip()}")
    header = lines[0].split()
    if "PID" not in header:
        raise CliError("couldn't find PID field in ps output")
    column = header.index("PID")
    print(lines[0])
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > column and fields[column].isdigit() and int(fields[column]) in pids:
            print(line)
    return 0


def cmd_pause(store: Store, args) -> int:
    container = store.load(args.id)
    if container.status() != Status.RUNNING:
        raise CliError("container not running")
    container.pause()
    return 0


def cmd_resume(store: Store, args) -> int:
    container = store.load(args.id)
    if container.status() not in (Status.PAUSED, Status.PAUSING):
        raise CliError("container not paused")
    container.resume()
    return 0


def _stats_event(container_id: str, container) -> dict:
    return {"type": "stats", "id": container_id, "data": dataclasses.asdict(container.stats())}


def cmd_events(store: Store, args) -> int:
    """``--stats``: one stats event and exit; else one every ``--interval`` seconds until the
    container is gone (runc also reports OOM events, which the reference does not)."""
    container = store.load(args.id)
    if args.stats:
        print(json.dumps(_stats_event(args.id, container)))
        return 0
    interval = float(args.interval.rstrip("s"))
    while True:
        try:
            print(json.dumps(_stats_event(args.id, container)), flush=True)
        except ContainerDestroyed:
            return 0
        time.sleep(interval)
