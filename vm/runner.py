"""Run the matrix: each VM in turn boots, runs the suite against each runtime, and the clause reports merge.

:func:`run_matrix` is what ``python -m libcontainer.vm run`` calls. Per VM it
writes ``OUT/vm/<name>/`` (``junit-<runtime>.xml``, ``clauses-<runtime>.json``,
``console.log``, ``progress``), then ``OUT/matrix.json`` and ``OUT/matrix.md``
(:mod:`libcontainer.conformance.report`, host included) and
``OUT/vm/summary.json`` (per VM: status, error, timings in seconds).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shlex
import subprocess
import sys
import time

from libcontainer.conformance import report

from . import selection
from .backend import Backend, Request, Result
from .matrix import split_part

GUEST_TMP = "/tmp/lcvm-pytest"
#: the niceness (nice(1)) of the host's suite when it runs beside the VMs
HOST_NICE = 10


def pytest_argv(python: str, suite: list[str] | tuple[str, ...], runtime: str, out: str, label: str,
                extra: list[str], basetemp: str | None = None, name: str | None = None) -> list[str]:
    """The pytest command that runs ``suite`` against ``runtime`` with JUnit XML and the clause report in ``out``
    (files named for ``name``, default ``runtime``: a part of a runtime's suite has its own, ``runc@2/6``)."""
    name = name or runtime
    argv = [python, "-m", "pytest", "-p", "no:cacheprovider", *suite, "--runtime", runtime,
            "--junitxml", os.path.join(out, f"junit-{safe(name)}.xml"), "-o", f"junit_suite_name={label}",
            "--clause-report", os.path.join(out, f"clauses-{safe(name)}.json"), "-rfEs"]
    if basetemp:
        argv += ["--basetemp", basetemp]
    return argv + list(extra)


def host_only_path(out: str, runtime: str) -> str:
    """Where a guest's run lists the tests it left to the host (:mod:`libcontainer.vm.selection`)."""
    return os.path.join(out, f"host-only-{safe(runtime)}.json")


def safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def guest_request(vm, project: str, python: str, runtimes: list[str], out: str, extra: list[str],
                  timeout: float) -> Request:
    """The Request that runs the suite once per runtime inside ``vm``; its status is the worst pytest status."""
    runs = []
    for label in runtimes:
        rt, part = split_part(label)  # "runc@2/6": every 6th kernel-dependent test of runc's suite from the 2nd
        workers = ["-n", str(vm.workers)] if getattr(vm, "workers", 1) > 1 else []
        suite = vm.suite_for(rt) if hasattr(vm, "suite_for") else vm.suite
        argv = pytest_argv(python, suite, rt, out, f"libcontainer-{vm.name}-{safe(label)}", workers + list(extra),
                           basetemp=f"{GUEST_TMP}-{safe(label)}", name=label)
        # plugins a guest never uses (testinfra; xdist with one worker) cost seconds of import under emulation
        plugins, prefix = "-p libcontainer.vm.progress -p no:pytest11.testinfra", ""
        if not workers:
            plugins += " -p no:xdist -p no:xdist.looponfail"
        if getattr(vm, "kernel_only", False):  # the rest runs on the host only: selection.py writes which
            plugins += " -p libcontainer.vm.selection"
            prefix = f"LCVM_HOST_ONLY={shlex.quote(host_only_path(out, label))} "
        if part:
            prefix += f"LCVM_PART={part} "
        runs.append(f"{prefix}{shlex.join(argv[:3])} {plugins} {shlex.join(argv[3:])} || rc=$?")
    script = "rc=0\n" + "\n".join(runs) + "\nexit $rc\n"
    # bytecode compiled on the host (precompile) is read over 9p; the guest writes none
    # LIBCONTAINER_TIMEOUT: the suite's per-test timeout (120 s natively) scaled for emulated guests (15-45x slower)
    env = {"LCVM_PROGRESS": os.path.join(out, "progress"), "PYTHONDONTWRITEBYTECODE": "1",
           "LIBCONTAINER_TIMEOUT": "1800",
           "PYTHONUNBUFFERED": "1", "TERM": "dumb", "LANG": "C.UTF-8"}
    return Request(argv=["/bin/sh", "-c", script], cwd=project, out=out, env=env, timeout=timeout)


class Progress:
    """Prints one line per VM event: booting, booted, each test (done/total), finished or failed."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.t0: dict[str, float] = {}

    def say(self, name: str, text: str) -> None:
        start = self.t0.setdefault(name, time.monotonic())
        print(f"[{name} {time.monotonic() - start:6.1f}s] {text}", file=self.stream, flush=True)

    def event(self, name: str, line: str) -> None:
        parts = line.split(" ", 2)
        if len(parts) < 2:
            return
        kind, rest = parts[1], parts[2] if len(parts) > 2 else ""
        if kind == "agent":
            self.say(name, f"booted kernel {rest}, guest up at {parts[0]} s; starting the suite")
        elif kind == "collected":
            self.say(name, f"collected {rest} tests")
        elif kind == "test":
            count, outcome, nodeid = (rest.split(" ", 2) + ["", ""])[:3]
            self.say(name, f"tests {count} {outcome:7} {nodeid}")
        elif kind == "crash":
            self.say(name, rest)
        elif kind == "finished":
            p, f, s = (rest.split() + ["?"] * 3)[:3]
            self.say(name, f"suite finished: {p} passed, {f} failed, {s} skipped")


def tail(path: str, lines: int = 60) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except FileNotFoundError:
        return "(no console log)"


def run_host(python: str, project: str, runtimes: list[str], out: str, extra: list[str],
             suite=("--pyargs", "libcontainer.spec.tests"), workers: int = 2) -> int:
    """The suite on this host (``-n workers``), reports into ``out``; returns the worst pytest status."""
    os.makedirs(out, exist_ok=True)
    rc = 0
    for rt in runtimes:
        argv = pytest_argv(python, suite, rt, out, f"libcontainer-host-{safe(rt)}", extra)
        if workers > 1:
            argv += ["-n", str(workers)]
        # niced: on a host with as many cores as running VMs the guests are the critical path; the host's suite
        # takes what they leave (and the core the first guest to finish frees)
        argv = ["nice", "-n", str(HOST_NICE), *argv] if HOST_NICE else argv
        print(f"[host] {shlex.join(argv)}", flush=True)
        rc = max(rc, subprocess.run(argv, cwd=project).returncode)
    return rc


def _record(backend: Backend, vm, result: Result) -> dict:
    return {"backend": backend.name, "package": vm.package, "cgroup": vm.cgroup, "status": result.status,
            "error": result.error, "timings": result.timings, "console": result.console}


def precompile(python: str, project: str, suites=()) -> None:
    """Compile the project's modules to bytecode on the host once, so that every guest reads .pyc files over 9p
    instead of compiling each module in its emulated CPU (the guests write no bytecode themselves). For each
    of ``suites`` (pytest arguments), collect it on the host with bytecode writing on: pytest caches its
    assertion-rewritten test modules (``__pycache__/*-pytest-*.pyc``), which the guests then read instead of
    rewriting every test module (measured: a third of the collection's CPU time)."""
    dirs = [os.path.join(project, d) for d in ("spec", "reference", "conformance", "vm")
            if os.path.isdir(os.path.join(project, d))]
    subprocess.run([python, "-m", "compileall", "-q", "-j", "0", *dirs], cwd=project,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for suite in dict.fromkeys(tuple(s) for s in suites):
        subprocess.run([python, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", *suite],
                       cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if suites:
        # hypothesis's caches in PROJECT/.hypothesis (the guests' working directory): the Unicode table text()
        # draws from, made from every code point on first use (35 s of an emulated guest's CPU, measured in the
        # first guest to reach test_hostile), and the constants of the project's modules (also written by the
        # collection above)
        subprocess.run([python, "-c", HYPOTHESIS_WARM], cwd=project, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


#: one example of a text() strategy: builds hypothesis's Unicode cache (public API only)
HYPOTHESIS_WARM = """
try:
    from hypothesis import given, settings, strategies
except ImportError:
    raise SystemExit(0)
given(strategies.text(min_size=1))(settings(max_examples=1, database=None)(lambda s: None))()
"""


def run_matrix(backend: Backend, vms, project: str, out: str, runtimes: list[str], python: str,
               extra: list[str] = (), host: str | None = "run", timeout: float | None = None,
               progress: Progress | None = None, parallel: int = 1, plan: dict[str, list[str]] | None = None,
               host_runtimes: list[str] | None = None, all_vms=None, shard: str = "") -> int:
    """Boot each of ``vms`` in turn with ``backend``, run the suite against ``runtimes`` inside, merge every clause
    report (and the host's: ``host`` is "run", None to leave it out, or the path of an existing report) into
    ``out/matrix.json`` and ``.md``. ``parallel`` > 1 runs that many VMs at once (each VM has its own vCPUs:
    ``cpus`` of the matrix). ``plan`` (VM name -> runtimes) narrows the runtimes per VM and ``host_runtimes``
    those of the host (a shard's units); ``all_vms`` are the matrix's cells to list (with those that cannot
    boot). Writes ``out/shard.json`` (:mod:`libcontainer.vm.merge`). Returns 0 when every VM ran and every
    suite passed, else 1."""
    from . import merge as merge_mod
    progress = progress or Progress()
    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    plan = plan if plan is not None else {vm.name: list(runtimes) for vm in vms}
    host_runtimes = list(runtimes) if host_runtimes is None else host_runtimes
    reports: list[str] = []
    rc = 0
    host_run = None
    if host == "run" and host_runtimes:
        # the host's suite runs while the VMs boot (their first half minute is mostly waiting on 9p)
        host_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        host_run = host_pool.submit(run_host, python, project, host_runtimes, os.path.join(out, "host"), list(extra))
        host_pool.shutdown(wait=False)
        reports += [os.path.join(out, "host", f"clauses-{safe(rt)}.json") for rt in host_runtimes]
    elif host and host != "run":
        reports.append(os.path.abspath(host))
    compiling = None
    if vms:
        # beside the boots: a guest starts Python some 20 s after qemu; bytecode is written atomically (a guest
        # that is faster reads the source, or rewrites a test module itself, and is only slower)
        compile_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        compiling = compile_pool.submit(precompile, python, project, [
            vm.suite_for(rt) if hasattr(vm, "suite_for") else vm.suite
            for vm in vms for rt in {split_part(label)[0] for label in plan[vm.name]}])
        compile_pool.shutdown(wait=False)
    summary: dict[str, dict] = {}
    prepared = []
    for vm in vms:
        vm_out = os.path.join(out, "vm", vm.name)
        os.makedirs(vm_out, exist_ok=True)
        for stale in os.listdir(vm_out):
            if stale.startswith(("junit-", "clauses-", "console-crash-", "host-only-")):
                os.unlink(os.path.join(vm_out, stale))
        progress.say(vm.name, f"preparing ({backend.name}: {vm.package}, cgroup {vm.cgroup})")
        try:
            backend.prepare(vm)
            prepared.append(vm)
        except Exception as e:  # noqa: BLE001 - one VM that cannot be prepared fails, the others still run
            summary[vm.name] = _record(backend, vm, Result(vm.name, None, f"prepare failed: {e}", "", vm_out))

    def one(vm) -> None:
        vm_out = os.path.join(out, "vm", vm.name)
        progress.say(vm.name, "booting")
        req = guest_request(vm, project, backend.guest_python(python), plan[vm.name], vm_out, list(extra),
                            timeout or vm.timeout_s)
        try:
            result = backend.run(vm, req, progress.event)
        except Exception as e:  # noqa: BLE001 - reported as this VM's failure
            result = Result(vm.name, None, f"backend error: {e!r}", os.path.join(vm_out, "console.log"), vm_out)
        summary[vm.name] = {**_record(backend, vm, result), "runtimes": list(plan[vm.name])}
        for rt in plan[vm.name]:  # the tests left to the host: host-only cells in this VM's columns
            selection.fold(os.path.join(vm_out, f"clauses-{safe(rt)}.json"), host_only_path(vm_out, rt))
        times = ", ".join(f"{k} {v:.0f} s" for k, v in result.timings.items())
        if result.error:
            progress.say(vm.name, f"FAILED: {result.error} ({times})")
            progress.say(vm.name, f"console log kept: {result.console}; its end:\n{tail(result.console)}")
        else:
            progress.say(vm.name, f"finished, suite status {result.status} ({times})")

    try:
        if parallel > 1:
            with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
                try:
                    list(pool.map(one, prepared))
                except BaseException:
                    backend.close()  # SIGTERM or Ctrl-C: kill the running VMs, or leaving the pool waits for them
                    raise
        else:
            for vm in prepared:
                one(vm)
    except BaseException:
        backend.close()
        raise
    if compiling is not None:
        compiling.result()
    if host_run is not None:
        rc |= host_run.result() != 0
    crashed: list[dict] = []
    for vm in vms:
        s = summary[vm.name]
        if s["error"] or s["status"] != 0:
            rc = 1
        for rt in plan[vm.name]:
            path = os.path.join(out, "vm", vm.name, f"clauses-{safe(rt)}.json")
            if os.path.exists(path):
                reports.append(path)
            else:
                crashed.extend(report.crashed_run(split_part(rt)[0], vm.name, vm.cgroup, s["status"],
                                                  s["error"] or "no clause report"))
                if not s["error"]:
                    rc = 1
                    progress.say(vm.name, f"no clause report for runtime {rt}")
    os.makedirs(os.path.join(out, "vm"), exist_ok=True)
    with open(os.path.join(out, "vm", "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    crashed_path = os.path.join(out, "vm", "crashed.json")
    if os.path.exists(crashed_path):
        os.unlink(crashed_path)
    if crashed:  # a run that left no clause report still has its column in the matrix, marked crashed
        with open(crashed_path, "w") as f:
            json.dump(crashed, f, indent=1)
        reports.append(crashed_path)
    cells = merge_mod.cell_rows(all_vms if all_vms is not None else vms,
                                {name: plan.get(name, []) for name in {v.name for v in (all_vms or vms)}},
                                host_runtimes if host else [])
    merge_mod.write_manifest(out, reports, summary, cells, shard)
    mrc, merged = merge_mod.merge_dirs([out], out)
    rc |= mrc
    print(report.markdown(merged), flush=True)
    print(f"[matrix] {os.path.join(out, 'matrix.json')} and matrix.md; per VM: {os.path.join(out, 'vm')}", flush=True)
    for name, s in summary.items():
        t = s["timings"]
        print(f"[matrix] {name}: " + (f"FAILED ({s['error']})" if s["error"] else f"suite status {s['status']}")
              + " | " + ", ".join(f"{k} {v:.0f} s" for k, v in t.items()), flush=True)
    return rc
