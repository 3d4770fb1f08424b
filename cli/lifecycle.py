"""create, start, run, state, list, kill, delete: runc's commands of the OCI lifecycle
(runtime-spec runtime.md "Operations"), as runc 1.1 words its errors."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import signal as signals

from libcontainer.plumbing import statedir
from libcontainer.spec import ProcessNotFound, Status, SystemFailure

from . import bundle as bundle_mod
from . import keeper
from .errors import CliError
from .store import Store

#: the cgroup parent when config.json names no linux.cgroupsPath: one per container, so the create
#: makes it and the delete removes it (LC-HOST-04 removes only parents its create made; a parent
#: shared by all lcrun containers outlived the last one whenever two lived at once)
DEFAULT_CGROUP_PARENT = "libcontainer/lcrun-{name}"


def parse_signal(text: str) -> int:
    """``KILL``, ``SIGKILL`` or ``9`` as a signal number; runc's error for anything else."""
    if text.isdigit():
        return int(text)
    name = text.upper()
    name = name if name.startswith("SIG") else f"SIG{name}"
    sig = getattr(signals.Signals, name, None) if name in signals.Signals.__members__ else None
    if sig is None:
        raise CliError(f'unknown signal "{text}"')
    return int(sig)


def create(store: Store, args, start: bool):
    """The container of ``args.bundle`` (default: the working directory), CREATED unless ``start``;
    its stdio is this process's (runc's pass-through), a terminal's with ``--console-socket``."""
    if getattr(args, "no_pivot", False):
        raise CliError("--no-pivot is not supported: the reference always uses pivot_root(2) "
                       "(it has no MS_MOVE+chroot fallback, which does not isolate the old root)")
    bundle = os.path.abspath(args.bundle or os.getcwd())
    config, annotations = bundle_mod.config_of(bundle, args.console_socket,
                                               DEFAULT_CGROUP_PARENT.format(name=statedir.cgroup_name(args.id)))
    if not config.process.terminal:
        config = dataclasses.replace(config, process=dataclasses.replace(config.process, stdin=0, stdout=1, stderr=2))
    try:
        container = store.factory.create(args.id, config, start=start)
    except SystemFailure as e:
        if e.errno != errno.ENOENT:
            raise
        # a delete of the root's last container removed the (empty) root meanwhile: once more
        container = store.factory.create(args.id, config, start=start)
    try:
        try:
            store.save(args.id, bundle, annotations)
        except FileNotFoundError:
            store.save(args.id, bundle, annotations)  # the same race, on the records directory
        if args.pid_file:
            keeper.write_pid_file(args.pid_file, keeper.spawn(container, container.init_pid))
    except BaseException:
        container.destroy()
        store.forget(args.id)
        raise
    return container


def cmd_create(store: Store, args) -> int:
    create(store, args, start=False)
    return 0


def cmd_start(store: Store, args) -> int:
    container = store.load(args.id)
    status = container.status()
    if status == Status.RUNNING:
        raise CliError("cannot start an already running container")
    if status == Status.STOPPED:
        raise CliError("cannot start a container that has stopped")
    if status != Status.CREATED:
        raise CliError(f"cannot start a container in the {store.state(args.id, container)['status']} state")
    container.start()
    return 0


def cmd_run(store: Store, args) -> int:
    container = create(store, args, start=True)
    if args.detach:
        return 0
    pid = container.init_pid
    keeper.forward_signals(container, pid)
    try:
        return container.wait()
    finally:
        container.destroy()
        store.forget(args.id)


def cmd_state(store: Store, args) -> int:
    print(json.dumps(store.state(args.id), indent=2))
    return 0


def cmd_list(store: Store, args) -> int:
    states = []
    for cid in store.ids():
        try:
            states.append(store.state(cid))
        except Exception:  # noqa: BLE001 - a container destroyed meanwhile is not listed
            continue
    if args.quiet:
        print("".join(f"{s['id']}\n" for s in states), end="")
    elif args.format == "json":
        print(json.dumps(states))
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], "root") for s in states]
        widths = [max(len(r[i]) for r in rows) + 3 for i in range(5)]
        for row in rows:
            print("".join(cell.ljust(w) for cell, w in zip(row, widths)) + row[5])
    return 0


def cmd_kill(store: Store, args) -> int:
    container = store.load(args.id)
    sig = parse_signal(args.signal)
    status = container.status()
    if status == Status.STOPPED:
        raise CliError("container not running")
    targets = container.processes() if args.all else [container.init_pid]
    for pid in targets:
        try:
            container.signal(pid, sig)
        except ProcessNotFound:
            if not args.all:
                raise CliError("container not running") from None
    return 0


def cmd_delete(store: Store, args) -> int:
    try:
        container = store.load(args.id)
    except Exception:
        if args.force:
            store.forget(args.id)
            return 0
        raise
    status = container.status()
    if status not in (Status.STOPPED, Status.CREATED) and not args.force:
        status_word = store.state(args.id, container)["status"]
        raise CliError(f"cannot delete container {args.id} that is not stopped: {status_word}")
    container.destroy()
    store.forget(args.id)
    return 0
