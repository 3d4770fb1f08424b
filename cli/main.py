"""``lcrun``'s arguments (runc 1.1's, as OCI tools call them), errors and exit codes.

Errors are reported as runc reports them: without ``--log``, one logrus-style line on stderr
(``time="..." level=error msg="..."``); with ``--log FILE``, that line in FILE (JSON with
``--log-format json``: ``{"level", "msg", "time"}``, which conmon reads) and the bare message on
stderr. A ConfigInvalid is worded "invalid configuration: ...", a NotSupported "not supported: ..."
(the OCI adapter, conformance/oci/container.py, maps them back). Exit status 1 on any error; ``run`` and ``exec`` in the foreground exit with the
process's status.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys

from libcontainer.spec import (ConfigInvalid, ContainerDestroyed, ContainerNotCreated, ContainerNotRunning,
                               ContainerPaused, IdInUse, InvalidIdFormat, LibcontainerError, NotSupported)

from . import events, info, lifecycle, operations
from .errors import CliError
from .store import DEFAULT_ROOT, NotFound, Store


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lcrun", description="An OCI runtime (runc's command line) over the "
                                "libcontainer reference implementation")
    p.add_argument("--version", "-v", action="store_true", help="print the version")
    p.add_argument("--root", default=DEFAULT_ROOT, help=f"root directory for container state (default {DEFAULT_ROOT})")
    p.add_argument("--log", default="", help="write errors to this file")
    p.add_argument("--log-format", default="text", choices=("text", "json"), help="the log's format")
    p.add_argument("--debug", action="store_true", help="accepted for runc compatibility (no effect)")
    p.add_argument("--systemd-cgroup", action="store_true", help="refused: systemd cgroups are not supported")
    p.add_argument("--rootless", default="auto", help="accepted for runc compatibility; only root is supported")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def cmd(name, fn, help_text, *, with_id=True):
        s = sub.add_parser(name, help=help_text)
        s.set_defaults(fn=fn)
        if with_id:
            s.add_argument("id")
        return s

    for name, fn, text in (("create", lifecycle.cmd_create, "create a container (status created)"),
                           ("run", lifecycle.cmd_run, "create and start a container")):
        s = cmd(name, fn, text)
        s.add_argument("--bundle", "-b", default="")
        s.add_argument("--pid-file", default="")
        s.add_argument("--console-socket", default=None)
        s.add_argument("--no-pivot", action="store_true")
        s.add_argument("--no-new-keyring", action="store_true")
        s.add_argument("--preserve-fds", type=int, default=0)
        if name == "run":
            s.add_argument("--detach", "-d", action="store_true")
    cmd("start", lifecycle.cmd_start, "start a created container")
    cmd("state", lifecycle.cmd_state, "print the OCI state of a container")
    s = cmd("kill", lifecycle.cmd_kill, "send a signal to the container's init")
    s.add_argument("signal", nargs="?", default="SIGTERM")
    s.add_argument("--all", "-a", action="store_true")
    s = cmd("delete", lifecycle.cmd_delete, "delete a container")
    s.add_argument("--force", "-f", action="store_true")
    s = cmd("list", lifecycle.cmd_list, "list containers", with_id=False)
    s.add_argument("--format", "-f", default="table", choices=("table", "json"))
    s.add_argument("--quiet", "-q", action="store_true")
    s = cmd("exec", operations.cmd_exec, "run a process in a container")
    s.add_argument("--process", "-p", default="")
    s.add_argument("--detach", "-d", action="store_true")
    s.add_argument("--pid-file", default="")
    s.add_argument("--tty", "-t", action="store_true")
    s.add_argument("--console-socket", default=None)
    s.add_argument("--cwd", default="")
    s.add_argument("--env", "-e", action="append")
    s.add_argument("--user", "-u", default="")
    s.add_argument("command", nargs=argparse.REMAINDER)
    for name, fn, text in (("pause", operations.cmd_pause, "freeze every process of a container"),
                           ("resume", operations.cmd_resume, "thaw a paused container")):
        cmd(name, fn, text)
    s = cmd("ps", operations.cmd_ps, "list the container's processes")
    s.add_argument("--format", "-f", default="table", choices=("table", "json"))
    s.add_argument("ps_args", nargs=argparse.REMAINDER)
    s = cmd("events", events.cmd_events, "print the container's statistics")
    s.add_argument("--stats", action="store_true")
    s.add_argument("--interval", default="5s")
    s = cmd("spec", None, "write an example config.json", with_id=False)
    s.add_argument("--bundle", "-b", default=".")
    s.add_argument("--rootless", action="store_true")
    cmd("features", None, "print the features this runtime honours (JSON)", with_id=False)
    return p


#: runc's wording of an error, where runc has one (the first class that matches wins)
MESSAGES = ((NotFound, "container does not exist"), (IdInUse, "container with given ID already exists"),
            (InvalidIdFormat, "invalid container ID format"), (ContainerNotRunning, "container not running"),
            (ContainerPaused, "container is paused"),
            (ContainerNotCreated, "cannot start an already running container"),
            (ContainerDestroyed, "container does not exist"))


def _message(exc: BaseException) -> str:
    for cls, text in MESSAGES:
        if isinstance(exc, cls):
            return text
    if isinstance(exc, ConfigInvalid):
        return f"invalid configuration: {exc}"
    if isinstance(exc, NotSupported):
        return f"not supported: {exc}"
    return str(exc) or type(exc).__name__


def report(msg: str, log: str, log_format: str) -> None:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    line = (json.dumps({"level": "error", "msg": msg, "time": now}) if log_format == "json"
            else f'time="{now}" level=error msg={json.dumps(msg)}')
    if log:
        try:
            with open(log, "a") as f:
                f.write(line + "\n")
        except OSError:
            pass
        print(msg, file=sys.stderr)
    else:
        print(line, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        sys.stdout.write(info.version_text())
        return 0
    try:
        if args.systemd_cgroup:
            raise CliError("--systemd-cgroup is not supported: the reference manages cgroupfs cgroups "
                           "(linux.cgroupsPath as /parent/name), not systemd units")
        if args.command is None:
            parser.print_help()
            return 0
        if args.command == "spec":
            info.spec(args.bundle)
            return 0
        if args.command == "features":
            print(json.dumps(info.features(), indent=2))
            return 0
        if os.geteuid() != 0:
            raise CliError("lcrun needs root (the reference runs rootful containers only)")
        code = args.fn(Store(args.root), args)
        sys.stdout.flush()
        return code
    except (CliError, NotFound, LibcontainerError, OSError) as e:
        report(_message(e), args.log, args.log_format)
        return 1


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
