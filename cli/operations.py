"""exec, ps, pause, resume: runc's commands on a living container."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess

from libcontainer.plumbing import linux
from libcontainer.spec import ConfigInvalid

from . import bundle as bundle_mod
from . import execproc
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
    """runc's ``exec``: the process is this command's child (:mod:`.execproc`); ``--pid-file`` gets
    its pid; with ``--detach`` the command exits at once (the process goes to the caller's
    subreaper), else it waits and exits with the process's status (128 + signal for a signal
    death), forwarding the signals it gets."""
    container = store.load(args.id)
    process = _exec_process(container, args)
    pid = execproc.start(store.factory, container, process)
    if args.pid_file:
        keeper.write_pid_file(args.pid_file, pid)
    if args.detach:
        return 0
    keeper.forward_signals_to_child(pid)
    return linux.exit_status(os.waitpid(pid, 0)[1])


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
    """The reference's pause (SPEC.md's table: a no-op when PAUSED, ContainerNotRunning when STOPPED
    or CREATED); runc 1.1 refuses a paused container instead."""
    store.load(args.id).pause()
    return 0


def cmd_resume(store: Store, args) -> int:
    """The reference's resume (a no-op when RUNNING); runc 1.1 refuses a running container instead."""
    store.load(args.id).resume()
    return 0
