"""``python -m libcontainer.vm``: the kernel matrix from the command line.

* ``list``: the VMs of vm/matrix.toml.
* ``prepare [--vm NAME]``: download the kernels and build the initramfs (qemu) or boxes (vagrant).
* ``run [--vm NAME]... [--runtime R]... [--backend qemu|vagrant] [--out DIR] [--no-host | --host-report PATH]
  [--timeout S] [--parallel N] [--suite ARGS] [-- PYTEST ARGS]``: the matrix (host + each VM), merged into DIR/matrix.json and .md.
* ``run --full [--shard I/N]``: the full matrix (every runtime of matrix.toml's full_runtimes in every VM
  that can boot, and the host), or shard I of N of its units (VM or host, runtime); reports in DIR/.
* ``merge DIR... [--out DIR] [--host-report PATH]``: merge run folders (shards) into one matrix.
* ``generate [--check]``: write (or check) .github/workflows/kernel-matrix.yml and vm/Vagrantfile.matrix.
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
    mg = sub.add_parser("merge", help="merge run folders (shards) into one matrix")
    mg.add_argument("dirs", nargs="+", help="run folders, each with a shard.json")
    mg.add_argument("--out", default="reports", help="where matrix.json and .md go (default reports/)")
    mg.add_argument("--host-report", action="append", default=[], help="also merge this clause report")
    gen = sub.add_parser("generate", help="the CI workflow and the Vagrant multi-machine file from matrix.toml")
    gen.add_argument("--check", action="store_true", help="exit 1 if a generated file is not up to date")
    for name in ("prepare", "run", "smoke"):
        s = sub.add_parser(name)
        s.add_argument("--matrix", default=matrix.MATRIX, help="matrix file (default vm/matrix.toml)")
        s.add_argument("--vm", action="append", default=[], help="a VM of the matrix (repeat; default: all enabled)")
        s.add_argument("--backend", default=os.environ.get("LCVM_BACKEND", "qemu"), choices=("qemu", "vagrant"))
        s.add_argument("--cache", default=None, help="kernels and initramfs (default vm/.cache)")
    sub.choices["prepare"].add_argument("--full", action="store_true", help="every VM that can boot")
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
    r.add_argument("--full", action="store_true",
                   help="the full matrix: every VM that can boot, matrix.toml's full_runtimes, and the host")
    r.add_argument("--shard", default=None, help="I/N: only shard I of N of the matrix's units (VM or host, runtime)")
    return p.parse_args(argv), extra


def _terminate(signum, frame):
    raise SystemExit(128 + signum)  # unwinds: the running VM is killed, libvirtd stopped (finally clauses)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    args, extra = parse(argv)
    project = project_root()
    if args.cmd == "list":
        m = matrix.load_matrix()
        print(f"default runtimes: {', '.join(m.default_runtimes)}; full: {', '.join(m.full_runtimes)}")
        for vm in m.vms:
            state = f"cannot boot: {vm.cannot_boot}" if vm.cannot_boot else ("default" if vm.enabled else "full only")
            print(f"{vm.name:17} {vm.package:23} cgroup {vm.cgroup:6} {vm.cmdline or '-':17} {state}")
        return 0
    if args.cmd == "merge":
        from . import merge as merge_mod
        from libcontainer.conformance import report
        out = os.path.abspath(args.out)
        rc, merged = merge_mod.merge_dirs([os.path.abspath(d) for d in args.dirs], out, args.host_report)
        print(report.markdown(merged), flush=True)
        print(f"[merge] {len(args.dirs)} folder(s) into {out}/matrix.json and matrix.md, status {rc}", flush=True)
        return rc
    if args.cmd == "generate":
        from . import generate
        return generate.main(project, check=args.check)
    try:
        m = matrix.load_matrix(args.matrix)
        full = getattr(args, "full", False)
        vms = matrix.select(m.vms, args.vm, full=full)
        shard = matrix.parse_shard(args.shard) if getattr(args, "shard", None) else None
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    kwargs = {"project": project}
    if args.cache:
        kwargs["cache"] = args.cache
    if args.cmd == "smoke":
        args.backend, args.runtime, args.no_host, args.host_report = "vagrant", [], True, None
        vms = vms[-1:] if not args.vm else vms[:1]
    if getattr(args, "suite", None):
        import dataclasses
        import shlex
        vms = [dataclasses.replace(v, suite=tuple(shlex.split(args.suite)), peer_suite=tuple(shlex.split(args.suite)))
                for v in vms]
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
    runtimes = args.runtime or list(m.full_runtimes if full else m.default_runtimes)
    plan, host_runtimes = None, None
    if shard:
        mine = matrix.shard(matrix.units(vms, runtimes, host is not None), *shard)
        plan = {}
        for name, rt in mine:
            if name != matrix.HOST:
                plan.setdefault(name, []).append(rt)
        host_runtimes = [rt for name, rt in mine if name == matrix.HOST]
        vms = [v for v in vms if v.name in plan]
        print(f"[shard {args.shard}] " + ", ".join(f"{n}:{rt}" for n, rt in mine), flush=True)
    try:
        return runner.run_matrix(be, vms, project, out, runtimes, python, extra, host,
                                 args.timeout, parallel=getattr(args, "parallel", 1) if be.name == "qemu" else 1,
                                 plan=plan, host_runtimes=host_runtimes,
                                 all_vms=m.vms if (full or shard) else vms, shard=getattr(args, "shard", None) or "")
    finally:
        be.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
