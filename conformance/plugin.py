"""The pytest plugin (entry point ``pytest11``): ``--runtime``, fixtures, leak check, clause report.

Options:

* ``--runtime NAME``: the implementation under test, ``reference`` (default),
  ``runc`` or ``crun`` (OCI runtimes through their command line,
  :mod:`libcontainer.conformance.oci`), or ``module:callable`` returning a
  Factory for a root directory.
* ``--clause-report PATH.json``: write the clause matrix records (and a
  Markdown table beside them).

Fixtures: ``factory`` (a fresh factory on a fresh root; after the test it
fails the test if a process, cgroup, mount or state directory is left),
``rootfs`` (busybox-static, built once per session), ``config`` (a minimal
valid Config whose init sleeps), ``runtime_name``.

Known deviations of a peer runtime become a strict ``xfail`` (non-strict
only where a race decides whether one run shows it) only when
``--runtime`` names that runtime, so the clause report shows ``xfailed``
for it and ``passed``/``failed`` for every other runtime. Strict: if the
runtime starts to pass, the test fails until the entry goes. Two ways to
declare one: the table in :mod:`libcontainer.conformance.deviations`
(by test node id; the specification's tests stay free of runtime names),
or a marker on a test or on one ``pytest.param``:
``@pytest.mark.deviation("runc", reason="...", raises=None)``
(``raises=ExcClass`` narrows the expected failure to that exception).
Each deviation is explained in SPEC.md's "Deviations of peer runtimes".
The reference may not be named: a deviation of the reference is a bug to
fix, never an expected failure.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess

import pytest

from libcontainer.spec import Config, Process

from . import leaks as leakcheck
from . import deviations, report, rootfs as rootfs_mod, runtimes

PR_SET_CHILD_SUBREAPER = 36
_counter = itertools.count()


def pytest_addoption(parser):
    group = parser.getgroup("libcontainer", "libcontainer conformance")
    group.addoption("--runtime", default="reference",
                    help="implementation under test: reference (default) or module:callable")
    group.addoption("--clause-report", default=None, metavar="PATH.json",
                    help="write clause-by-runtime records as JSON, and a Markdown table beside them")


def pytest_configure(config):
    config.addinivalue_line("markers", "clause(*ids): the SPEC.md clause IDs a test encodes")
    config.addinivalue_line("markers", "deviation(runtime, reason, raises=None): a known deviation of a peer "
                                       "runtime from SPEC.md; a strict xfail only under --runtime RUNTIME")
    config._lc_results = {}
    # orphans of the tests (a monitor whose creator exited) are reparented here and reaped by the leak check
    if os.geteuid() == 0:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def pytest_report_header(config):
    return (f"libcontainer: runtime={config.getoption('--runtime')} kernel={report.kernel()} "
            f"cgroup={report.cgroup_mode()}")


def deviation_marks(item, runtime: str) -> list:
    """The strict xfail marks that ``item``'s deviation markers and the deviations table give under ``runtime``."""
    marks = []
    for d in deviations.for_test(item.nodeid, runtime):
        kwargs = {"raises": d.raises} if d.raises else {}
        marks.append(pytest.mark.xfail(strict=d.strict, reason=f"{runtime} deviates ({d.key}, "
                                       f"{', '.join(d.clauses)}): {d.reason}", **kwargs))
    for m in item.iter_markers("deviation"):
        if not m.args or not m.kwargs.get("reason"):
            raise pytest.UsageError(f"{item.nodeid}: deviation needs a runtime and reason=...")
        names = m.args if isinstance(m.args[0], str) else m.args[0]
        if "reference" in names:
            raise pytest.UsageError(f"{item.nodeid}: the reference may not have expected failures; fix it")
        if runtime in names:
            kwargs = {"raises": m.kwargs["raises"]} if m.kwargs.get("raises") else {}
            marks.append(pytest.mark.xfail(strict=True, reason=f"{runtime} deviates: {m.kwargs['reason']}",
                                           **kwargs))
    return marks


def pytest_collection_modifyitems(config, items):
    runtime = config.getoption("--runtime")
    for item in items:
        ids = [c for m in item.iter_markers("clause") for c in m.args]
        if ids:
            item.user_properties.append(("clauses", ",".join(ids)))
        for mark in deviation_marks(item, runtime):
            item.add_marker(mark)


def _outcome(rep) -> str | None:
    if hasattr(rep, "wasxfail"):
        # a non-strict expected failure that passed this time (XPASS) passed
        return "xfailed" if rep.skipped else ("passed" if rep.passed else "failed")
    if rep.failed:
        return "failed"
    if rep.skipped:
        return "skipped"
    if rep.when == "call":
        return "passed"
    return None


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report):
    props = dict(report.user_properties)
    if "clauses" not in props:
        return
    outcome = _outcome(report)
    if outcome is None:
        return
    results = _RESULTS.setdefault(report.nodeid, {"clauses": props["clauses"].split(","), "outcomes": []})
    results["outcomes"].append(outcome)


_RESULTS: dict[str, dict] = {}


def _records(config) -> list[dict]:
    titles = report.clause_titles()
    per_clause: dict[str, dict] = {}
    for nodeid, res in _RESULTS.items():
        outcome = report.combine(res["outcomes"])
        for clause in res["clauses"]:
            rec = per_clause.setdefault(clause, {"outcomes": [], "tests": []})
            rec["outcomes"].append(outcome)
            rec["tests"].append(nodeid)
    runtime = config.getoption("--runtime")
    kernel, cgroup = report.kernel(), report.cgroup_mode()
    return [{"clause": c, "title": titles.get(c, ""), "runtime": runtime, "kernel": kernel, "cgroup": cgroup,
             "outcome": report.combine(r["outcomes"]), "tests": sorted(r["tests"])}
            for c, r in sorted(per_clause.items())]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workerinput") or not _RESULTS:
        return
    records = _records(config)
    tr = terminalreporter
    tr.section(f"clauses ({config.getoption('--runtime')}, {report.kernel()}, cgroup {report.cgroup_mode()})")
    for r in records:
        tr.write_line(f"{r['outcome']:8} {r['clause']:16} {r['title'][:70]}")
    counts = {o: sum(r["outcome"] == o for r in records) for o in report.OUTCOMES}
    tr.write_line(", ".join(f"{n} {o}" for o, n in counts.items() if n) + f" of {len(records)} clauses")
    path = config.getoption("--clause-report")
    if path:
        report.write(path, records)
        tr.write_line(f"clause report: {path} and {os.path.splitext(path)[0]}.md")


# -- fixtures --------------------------------------------------------------

@pytest.fixture(scope="session")
def runtime_name(pytestconfig) -> str:
    return pytestconfig.getoption("--runtime")


@pytest.fixture(scope="session")
def factory_class(runtime_name):
    try:
        return runtimes.resolve(runtime_name)
    except ValueError as e:
        raise pytest.UsageError(str(e)) from e


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory) -> str:
    """A busybox-static root filesystem, built once per session (worker)."""
    if os.geteuid() != 0:
        pytest.skip("containers need root")
    if rootfs_mod.find_busybox() is None:
        pytest.skip("no static busybox on this host (apt-get install busybox-static)")
    path = rootfs_mod.build_busybox_rootfs(str(tmp_path_factory.mktemp("rootfs")))
    yield path
    for point in reversed(leakcheck.mounts_under(path)):
        subprocess.run(["umount", "-l", point], check=False)


@pytest.fixture
def cgroup_parent() -> str:
    """A cgroup parent of the test's own, under the project's ``libcontainer`` parent."""
    name = f"libcontainer/pytest-{os.getpid()}-{next(_counter)}"
    yield name
    # only the test's own parent: the shared ``libcontainer`` goes at session end, so a runtime that is
    # creating ``libcontainer/pytest-…`` in another worker never finds its parent removed under it
    for top in leakcheck.cgroup_dirs(name):
        try:
            os.rmdir(top)
        except OSError:
            pass


def pytest_sessionfinish(session, exitstatus):
    for top in leakcheck.cgroup_dirs("libcontainer"):
        try:
            os.rmdir(top)  # only when empty: another run may still use it
        except OSError:
            pass


@pytest.fixture
def factory_root(tmp_path) -> str:
    root = tmp_path / "root"
    root.mkdir()
    return str(root)


@pytest.fixture
def factory(factory_class, factory_root, cgroup_parent, rootfs):
    """A fresh factory; after the test, fails it if anything of the test is left on the host."""
    f = factory_class(factory_root)
    yield f
    found = leakcheck.find_leaks(factory_root, cgroup_parent, rootfs)
    if found:
        for name in sorted(os.listdir(factory_root)) if os.path.isdir(factory_root) else []:
            try:
                f.load(name).destroy()
            except Exception:  # noqa: BLE001 - best-effort cleanup before reporting
                pass
        leakcheck.clean(factory_root, cgroup_parent)
        for point in reversed(leakcheck.mounts_under(factory_root)):
            subprocess.run(["umount", "-l", point], check=False)
        shutil.rmtree(factory_root, ignore_errors=True)
        os.makedirs(factory_root, exist_ok=True)
        pytest.fail(f"the test left behind: {found}", pytrace=False)


@pytest.fixture
def config(rootfs, cgroup_parent) -> Config:
    """A minimal valid config: the busybox rootfs, init ``sleep 86400``, the test's cgroup parent."""
    return Config(rootfs=rootfs, process=Process(args=["sleep", "86400"]), hostname="spec",
                  cgroup_parent=cgroup_parent)


@pytest.fixture
def container(factory, config):
    """A RUNNING container made from ``config`` (id ``spec-c``); destroyed after the test, before the leak check."""
    c = factory.create("spec-c", config)
    yield c
    c.destroy()
