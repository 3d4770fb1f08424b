"""``python -m libcontainer.vm``: the kernel matrix from the command line.

* ``list``: the VMs of vm/matrix.toml.
* ``prepare [--vm NAME]``: download the kernels and build the initramfs (qemu) or boxes (vagrant).
* ``run [--vm NAME]... [--runtime R]... [--backend qemu|vagrant] [--out DIR] [--no-host | --host-report PATH]
  [--timeout S] [--parallel N] [--suite ARGS] [-- PYTEST ARGS]``: the matrix (host + each VM), merged into DIR/matrix.json and .md.
* ``smoke [--vm NAME] [--out DIR]``: the Vagrant backend's smoke test: one box up, one group of clauses
  (the lifecycle tests), destroyed again; reports in DIR/smoke/.
Exit status: 0 when every VM ran and every suite passed, 1 otherwise, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from . import backend as backend_mod, matrix, runner


def project_root() -> str:
    """The checkout this package was imported from (vm/ is mapped to libcontainer.vm)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(prog="python -m libcontainer.vm", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="the VMs of the matrix")
    for name in ("prepare", "run", "smoke"):
        s = sub.add_parser(name)
        s.add_argument("--matrix", default=matrix.MATRIX, help="matrix file (default vm/matrix.toml)")
        s.add_argument("--vm", action="append", default=[], help="a VM of the matrix (repeat; default: all enabled)")
        s.add_argument("--backend", default=os.environ.get("LCVM_BACKEND", "qemu"), choices=("qemu", "vagrant"))
        s.add_argument("--cache", default=None, help="kernels and initramfs (default vm/.cache)")
    sm = sub.choices["smoke"]
    sm.add_argument("--out", default="reports/smoke", help="report folder (default reports/smoke)")
    sm.add_argument("--suite", default="--pyargs libcontainer.spec.tests.test_lifecycle", help="pytest arguments")
    sm.add_argument("--timeout", type=float, default=1800, help="seconds (default 1800)")
    r = sub.choices["run"]
    r.add_argument("--suite", default=None, help="pytest arguments choosing the tests, instead of the matrix's suite")
    r.add_argument("--runtime", action="append", default=[], help="implementation under test (repeat; default reference)")
    r.add_argument("--out", default="reports", help="report folder (default reports/)")
    r.add_argument("--no-host", action="store_true", help="leave the host's run out of the matrix")
    r.add_argument("--host-report", default=None, help="merge this existing host clause report instead of running the host")
    r.add_argument("--timeout", type=float, default=None, help="seconds per VM (default: the matrix's timeout_s)")
    r.add_argument("--parallel", type=int, default=1,
                   help="VMs booted at once (default 1: in turn; qemu backend only)")
    return p.parse_args(argv), extra


def _terminate(signum, frame):
    raise SystemExit(128 + signum)  # unwinds: the running VM is killed, libvirtd stopped (finally clauses)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    args, extra = parse(argv)
    if args.cmd == "list":
        for vm in matrix.load():
            print(f"{vm.name:16} {vm.package:26} cgroup {vm.cgroup}  {vm.cmdline or '-':18} "
                  f"{'enabled' if vm.enabled else 'disabled'}  suite: {' '.join(vm.suite)}")
        return 0
    try:
        vms = matrix.select(matrix.load(args.matrix), args.vm)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    project = project_root()
    kwargs = {"project": project}
    if args.cache:
        kwargs["cache"] = args.cache
    if args.cmd == "smoke":
        args.backend, args.runtime, args.no_host, args.host_report = "vagrant", [], True, None
        vms = vms[-1:] if not args.vm else vms[:1]
    if getattr(args, "suite", None):
        import dataclasses
        import shlex
        vms = [dataclasses.replace(v, suite=tuple(shlex.split(args.suite))) for v in vms]
    be = backend_mod.get(args.backend, **kwargs)
    if args.cmd == "prepare":
        try:
            for vm in vms:
                be.prepare(vm)
                print(f"{vm.name}: ready ({be.name})")
        finally:
            be.close()
        return 0
    host = None if args.no_host else (args.host_report or "run")
    python = os.path.join(project, ".venv", "bin", "python")
    if not os.path.exists(python):
        python = sys.executable
    out = args.out if os.path.isabs(args.out) else os.path.join(project, args.out)
    try:
        return runner.run_matrix(be, vms, project, out, args.runtime or ["reference"], python, extra, host,
                                 args.timeout, parallel=getattr(args, "parallel", 1) if be.name == "qemu" else 1)
    finally:
        be.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
