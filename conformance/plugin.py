"""The pytest plugin (entry point ``pytest11``): ``--runtime``, fixtures, preflight, timeouts, clause report.

Installed, the plugin is inert for other projects. It acts (child subreaper,
preflight, timeouts, clause records, cgroup clean-up at exit) only when the
conformance suite runs: ``--runtime``/``--lc-runtime`` is given, or the
arguments name the specification's tests (``libcontainer.spec.tests``) or
the reference's tests. Its fixtures carry the ``lc_`` prefix
(:mod:`.fixtures`); ``--runtime`` is added only when no other plugin or
conftest owns it, ``--lc-runtime`` always.

Options:

* ``--runtime NAME`` / ``--lc-runtime NAME``: the implementation under test,
  ``reference`` (default), ``runc`` or ``crun`` (OCI runtimes through their
  command line, :mod:`libcontainer.conformance.oci`), or ``module:callable``
  returning a Factory for a root directory (modules in the current directory
  are found).
* ``--clause-report PATH.json``: write the clause records, with a Markdown
  table and an HTML matrix beside them (:mod:`.report`).
* ``--lc-clause ID``: run only the tests of these clauses (repeatable,
  comma-separated; ``LC-WAIT`` selects every ``LC-WAIT-nn``).
* ``--lc-deviations PATH.toml``: the runtime's own known deviations
  (:func:`libcontainer.conformance.deviations.load_file`).
* ``--lc-timeout SECONDS``: per-test timeout (default 120, or the environment's
  ``LIBCONTAINER_TIMEOUT``; 0 for none), see :mod:`.timeouts`.

Outcomes of tests and clauses: :mod:`.outcomes` (passed only when every test
of a clause passed; not-supported and blocked are outcomes of their own).

Known deviations of a peer runtime become a strict ``xfail`` (non-strict
only where a race decides whether one run shows it) only when
``--runtime`` names that runtime. Three ways to declare one: the table in
:mod:`libcontainer.conformance.deviations`, a TOML file of the runtime
author's (``--lc-deviations``), or a marker on a test or ``pytest.param``:
``@pytest.mark.deviation("runc", reason="...", raises=None)``. The
reference may not be named: a deviation of the reference is a bug to fix.
"""

from __future__ import annotations

import collections
import functools
import importlib.util
import os

import pytest

from . import deviations, outcomes, preflight, records, report, timeouts
from .fixtures import (CALL_FAILED, lc_cgroup_parent, lc_config, lc_container, lc_factory,  # noqa: F401
                       lc_factory_class, lc_factory_root, lc_rootfs, lc_runtime_name)
from .timeouts import pytest_timeout_cancel_timer, pytest_timeout_set_timer  # noqa: F401

STATE = pytest.StashKey["State"]()
_CURRENT: dict = {}  # the active session's State ("state"; logreport has no config) and collected count


class State:
    """What the plugin knows about this session (only when the suite runs)."""

    def __init__(self, runtime: str, suite: bool):
        self.runtime = runtime
        self.suite = suite                  # the specification's tests are in the arguments, or --runtime given
        self.runtime_version = "unknown"
        self.extra_deviations: tuple = ()
        self.results: dict[str, dict] = {}  # node id -> {clauses, phases, message, setup_failed}
        self.skip_reasons: collections.Counter = collections.Counter()
        self.setup_failed: dict[str, str] = {}  # set-up clause -> node id of the test that reported it failed


def pytest_addoption(parser):
    group = parser.getgroup("libcontainer", "libcontainer conformance")
    group.addoption("--lc-runtime", dest="lc_runtime", default=None, metavar="NAME",
                    help="implementation under test: reference (default), runc, crun or module:callable")
    group.addoption("--clause-report", default=None, metavar="PATH.json",
                    help="write clause-by-runtime records as JSON, with a Markdown table and an HTML matrix beside")
    group.addoption("--lc-clause", action="append", default=[], metavar="ID",
                    help="run only the tests of these SPEC.md clauses (repeatable; LC-WAIT selects LC-WAIT-nn)")
    group.addoption("--lc-deviations", action="append", default=[], metavar="PATH.toml",
                    help="a TOML file of the runtime's own known deviations ([[deviation]] entries)")
    group.addoption("--lc-timeout", type=float, default=None, metavar="SECONDS",
                    help=f"per-test timeout of the suite's tests (default {timeouts.DEFAULT:g}; 0: none)")
    parser.addini("lc_timeout", f"per-test timeout of the suite's tests (default {timeouts.DEFAULT:g})", default="")


def _owned(parser, name: str) -> bool:
    opts = list(parser._anonymous.options)
    for g in parser._groups:
        opts += g.options
    return any(name in o.names() for o in opts)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """After the other plugins and the initial conftests registered their options: take ``--runtime``
    only if nobody owns it (else ``--lc-runtime`` is the only spelling)."""
    result = yield
    if not _owned(parser, "--runtime"):
        parser.getgroup("libcontainer").addoption("--runtime", dest="lc_runtime", default=None,
                                                  help="the same as --lc-runtime")
    return result


def suite_dirs() -> dict[str, str]:
    """Where the suite's tests live: ``spec`` (the specification's tests) and ``reference`` (its unit tests)."""
    import libcontainer.reference
    import libcontainer.spec
    return {"spec": os.path.join(os.path.dirname(os.path.abspath(libcontainer.spec.__file__)), "tests"),
            "reference": os.path.join(os.path.dirname(os.path.abspath(libcontainer.reference.__file__)), "tests")}


def _arg_path(config, arg: str) -> str | None:
    arg = arg.split("::")[0]
    if config.option.pyargs and not os.path.exists(arg):
        try:
            spec = importlib.util.find_spec(arg)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.origin:
            return None
        return os.path.dirname(spec.origin) if spec.origin.endswith("__init__.py") else spec.origin
    return os.path.abspath(os.path.join(str(config.invocation_params.dir), arg))


def touched(config) -> set[str]:
    """Which of :func:`suite_dirs` the session's arguments name, contain or lie in."""
    found = set()
    for arg in config.args:
        path = _arg_path(config, arg)
        if path is None:
            continue
        path = os.path.realpath(path)
        for name, d in suite_dirs().items():
            d = os.path.realpath(d)
            if path == d or d.startswith(path.rstrip("/") + "/") or path.startswith(d + "/"):
                found.add(name)
    return found


def state(config) -> State | None:
    return config.stash.get(STATE, None)


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    config.addinivalue_line("markers", "clause(*ids): the SPEC.md clause IDs a test encodes")
    config.addinivalue_line("markers", "deviation(runtime, reason, raises=None): a known deviation of a peer "
                                       "runtime from SPEC.md; a strict xfail only under --runtime RUNTIME")
    explicit = config.getoption("lc_runtime")
    where = touched(config)
    if explicit is None and not where:
        return  # not our suite: stay inert
    st = State(explicit or "reference", suite=explicit is not None or "spec" in where)
    config.stash[STATE] = st
    _CURRENT.clear()
    _CURRENT["state"] = st
    controller = not hasattr(config, "workerinput")
    wanted_clauses(config.getoption("lc_clause"))
    if st.suite and controller and not (config.option.help or config.option.collectonly):
        try:
            st.runtime_version = preflight.check(st.runtime)
        except preflight.PreflightError as e:
            raise pytest.UsageError(str(e)) from None
    try:
        for path in config.getoption("lc_deviations"):
            st.extra_deviations += deviations.load_file(path, st.runtime)
    except deviations.DeviationFileError as e:
        raise pytest.UsageError(str(e)) from None
    if os.geteuid() == 0:
        # orphans of the tests (a monitor whose creator exited) are reparented here and reaped by the leak check
        from libcontainer.plumbing import linux
        linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)


def pytest_report_header(config):
    st = state(config)
    if st is None:
        return None
    return (f"libcontainer: runtime={st.runtime} ({st.runtime_version}) suite={report.suite_version()} "
            f"SPEC.md={report.spec_version()} kernel={report.kernel()} cgroup={report.cgroup_mode()}")


def pytest_sessionstart(session):
    st = state(session.config)
    if st is None or hasattr(session.config, "workerinput"):
        return
    from _pytest.junitxml import xml_key
    xml = session.config.stash.get(xml_key, None)
    if xml is not None:
        for name, value in (("libcontainer.runtime", st.runtime), ("libcontainer.runtime_version", st.runtime_version),
                            ("libcontainer.suite_version", report.suite_version()),
                            ("libcontainer.spec_version", report.spec_version()),
                            ("libcontainer.kernel", report.kernel()), ("libcontainer.cgroup", report.cgroup_mode())):
            xml.add_global_property(name, value)


def deviation_marks(item, runtime: str, extra: tuple = ()) -> list:
    """The strict xfail marks that ``item``'s deviation markers and the deviations tables give under ``runtime``."""
    marks = []
    for d in deviations.for_test(suite_nodeid(item), runtime, extra):
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


@functools.lru_cache(maxsize=None)
def _real(path: str) -> str:
    """os.path.realpath, once per path: collection asks it twice per test, and under emulation over 9p
    each of its lstat(2)s is a round trip."""
    return os.path.realpath(path)


def suite_nodeid(item) -> str:
    """The test's id as the suite names it wherever pytest runs from: ``spec/tests/test_x.py::test_y[p]``
    (pytest's node id depends on the rootdir: ``::test_y[p]`` for ``--pyargs`` from another directory)."""
    if getattr(item, "path", None) is None:
        return item.nodeid
    path = _real(str(item.path))
    for name, d in suite_dirs().items():
        d = _real(d)
        if path.startswith(d + "/"):
            tail = item.nodeid.split("::", 1)[1] if "::" in item.nodeid else item.name
            return f"{name}/tests/{os.path.relpath(path, d)}::{tail}"
    return item.nodeid


def clause_ids(item) -> list[str]:
    return [c for m in item.iter_markers("clause") for c in m.args]


def wanted_clauses(args: list[str]) -> list[str]:
    """The clause ids or prefixes of ``--lc-clause``; UsageError for one SPEC.md does not define."""
    wanted = [w.strip() for arg in args for w in arg.split(",") if w.strip()]
    known = set(report.clause_titles())
    unknown = [w for w in wanted if w not in known and not any(k.startswith(w + "-") for k in known)]
    if unknown:
        raise pytest.UsageError(f"--lc-clause {', '.join(unknown)}: no such clause in SPEC.md")
    return wanted


def select_clauses(config, items, wanted: list[str]) -> None:
    """Keep only the items that mark one of ``wanted`` (an id, or a prefix such as ``LC-WAIT``)."""
    wanted = wanted_clauses(wanted)
    keep, drop = [], []
    for item in items:
        ids = clause_ids(item)
        (keep if any(c == w or c.startswith(w + "-") for c in ids for w in wanted) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_collection_modifyitems(config, items):
    st = state(config)
    if st is None:
        return
    if config.getoption("lc_clause"):
        select_clauses(config, items, config.getoption("lc_clause"))
    dirs = tuple(d + "/" for d in suite_dirs().values())
    ours = [i for i in items if str(i.path).startswith(dirs) or clause_ids(i)]
    for item in ours:
        ids = clause_ids(item)
        item.user_properties.append(("lc_test", suite_nodeid(item)))
        if ids:
            item.user_properties.append(("clauses", ",".join(ids)))
        for mark in deviation_marks(item, st.runtime, st.extra_deviations):
            item.add_marker(mark)
    seconds = timeouts.seconds(config.getoption("lc_timeout"), config.getini("lc_timeout"))
    timeouts.mark_items(config, ours, seconds)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Not supported and blocked-by-set-up outcomes (after xfail processing: a declared deviation wins)."""
    result = yield
    st = state(item.config)
    if st is None:
        return
    rep = result.get_result()
    exc = call.excinfo.value if call.excinfo is not None else None
    if rep.failed and not hasattr(rep, "wasxfail"):
        path, line = str(item.path), (item.location[1] or 0) + 1
        if outcomes.is_not_supported(exc):
            rep.outcome = "skipped"
            rep.longrepr = (path, line, f"not supported: {exc}")
            rep.user_properties = list(rep.user_properties) + [("lc_outcome", "not-supported")]
        elif isinstance(exc, outcomes.SetupFailed):
            props = [("lc_outcome", "blocked"), ("lc_blocked_by", exc.clause)]
            first = records.first_setup_failure(item.config, st, exc.clause, suite_nodeid(item))
            if first == suite_nodeid(item):
                props.append(("lc_setup_failed", exc.clause))
            else:
                rep.outcome = "skipped"
                rep.longrepr = (path, line, f"blocked by set-up {exc.clause} (failed in {first}): {exc.message}")
            rep.user_properties = list(rep.user_properties) + props
    if call.when in ("setup", "call") and not rep.passed:
        item.stash[CALL_FAILED] = True  # the test did not finish: what it left is removed, not failed again


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report):
    st = _CURRENT.get("state")
    if st is None:
        return
    props = dict(report.user_properties)
    outcome = outcomes.test_outcome(report)
    if outcome is None:
        return
    clauses = [c for c in props.get("clauses", "").split(",") if c]
    res = st.results.setdefault(props.get("lc_test", report.nodeid),
                                {"clauses": clauses, "phases": [], "message": "", "setup_failed": None})
    res["phases"].append(outcome)
    if outcome != "passed" and not res["message"]:
        res["message"] = records.reason(report)
    if props.get("lc_setup_failed"):
        res["setup_failed"] = props["lc_setup_failed"]
    if report.skipped and not hasattr(report, "wasxfail"):
        st.skip_reasons[records.reason(report)] += 1


def pytest_collection_finish(session):
    _CURRENT["collected"] = len(session.items)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    _CURRENT["collected"] = max(_CURRENT.get("collected", 0), len(ids))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    st = state(config)
    if st is None or hasattr(config, "workerinput"):
        return
    tr = terminalreporter
    if st.skip_reasons:
        tr.section("why tests were skipped (what this host or runtime lacks)")
        for reason, n in st.skip_reasons.most_common():
            tr.write_line(f"{n:4} {reason}")
    recs = records.records(st, exitstatus, _CURRENT.get("collected"))
    path = config.getoption("--clause-report")
    if path:
        # a run with no clause test still writes its header: its column shows what ran and how it ended
        report.write(path, recs or report.empty_run(records.run(st, exitstatus, _CURRENT.get("collected"))))
        base = os.path.splitext(path)[0]
    if not recs:
        return
    tr.section(f"clauses ({st.runtime} {st.runtime_version}, {report.kernel()}, cgroup {report.cgroup_mode()})")
    for r in recs:
        tr.write_line(f"{r['outcome']:13} {r['clause']:16} {r['title'][:64]}")
    counts = {o: sum(r["outcome"] == o for r in recs) for o in outcomes.OUTCOMES}
    tr.write_line(", ".join(f"{n} {o}" for o, n in counts.items() if n) + f" of {len(recs)} clauses; "
                  f"{len(st.results)} tests ran, exit status {int(exitstatus)}")
    if path:
        tr.write_line(f"clause report: {path}, {base}.md and {base}.html")


def pytest_unconfigure(config):
    if state(config) is not None and _CURRENT.get("state") is state(config):
        _CURRENT.clear()


def pytest_sessionfinish(session, exitstatus):
    st = state(session.config)
    if st is None:
        return
    from . import leaks as leakcheck
    for top in leakcheck.cgroup_dirs("libcontainer"):
        try:
            os.rmdir(top)  # only when empty: another run may still use it
        except OSError:
            pass
