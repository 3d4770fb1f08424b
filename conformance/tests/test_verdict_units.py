"""Unit tests of the verdict: clause outcomes, run headers, merging, Markdown, HTML, deviation files, preflight."""

from __future__ import annotations

import dataclasses
import html.parser
import json
import os

import pytest

from libcontainer.conformance import deviations, htmlreport, outcomes, preflight, report
from libcontainer.spec import ErrorCode, LibcontainerError, NotSupported, SystemFailure


@pytest.mark.parametrize("tests, clause", [
    (["passed", "passed"], "passed"),
    (["passed", "xfailed"], "xfailed"),            # LC-ID-01 under runc: one deviation, the clause is not passed
    (["xfailed", "failed", "passed"], "failed"),
    (["passed", "skipped"], "skipped"),
    (["passed", "not-supported"], "not-supported"),
    (["skipped", "not-supported"], "not-supported"),
    (["xfailed", "not-supported"], "xfailed"),
    (["passed", "blocked"], "blocked"),
    (["blocked", "failed"], "failed"),
])
def test_a_clause_is_passed_only_when_every_test_passed(tests, clause):
    assert outcomes.combine(tests) == clause


class _Mine(LibcontainerError):
    code = ErrorCode.NOT_SUPPORTED


def test_not_supported_is_matched_by_class_or_code():
    assert outcomes.is_not_supported(NotSupported("x"))
    assert outcomes.is_not_supported(_Mine("x"))
    assert not outcomes.is_not_supported(SystemFailure("x"))
    assert not outcomes.is_not_supported(None)


def _rec(clause, outcome, runtime="reference", kernel="6.1", cgroup="v1", exitstatus=0, tests=None):
    run = report.run_header(runtime, "1.0", exitstatus, 3, 3)
    run.update(kernel=kernel, cgroup=cgroup)
    tests = tests or [f"t::{clause}-{outcome}"]
    return {"clause": clause, "title": "t", "runtime": runtime, "kernel": kernel, "cgroup": cgroup,
            "outcome": outcome, "tests": tests, "by_outcome": {outcome: tests}, "messages": {tests[0]: "boom"},
            "run": run}


def test_merge_combines_outcomes_names_tests_and_carries_runs():
    merged = report.merge([_rec("LC-A-01", "passed"), _rec("LC-A-01", "xfailed"), _rec("LC-B-01", "passed")])
    a = next(r for r in merged if r["clause"] == "LC-A-01")
    assert a["outcome"] == "xfailed"
    assert a["by_outcome"] == {"passed": ["t::LC-A-01-passed"], "xfailed": ["t::LC-A-01-xfailed"]}
    assert all(len(r["runs"]) == 1 and r["runs"][0]["runtime_version"] == "1.0" for r in merged)


def test_a_run_that_exited_non_zero_never_reads_green():
    records = report.merge([_rec("LC-A-01", "passed", exitstatus=1), _rec("LC-A-01", "passed", runtime="runc")])
    md = report.markdown(records)
    assert "| LC-A-01 | t | passed (run failed) | passed |" in md
    assert "RUN FAILED: exit 1, 3 of 3 tests ran" in md
    page = htmlreport.render(records)
    cells = _Table.parse(page).cells
    assert cells[("LC-A-01", "reference|6.1|v1")]["class"].endswith("run-failed")
    assert "run-failed" not in cells[("LC-A-01", "runc|6.1|v1")]["class"]


def test_a_crashed_run_shows_as_a_column():
    records = report.merge([_rec("LC-A-01", "passed")] + report.crashed_run("reference", "vm-x", "v2", None, "timeout"))
    md = report.markdown(records)
    assert "reference @ vm-x (v2)" in md and "crashed (None): timeout" in md
    assert "| LC-A-01 | t | passed | - |" in md


def test_versions_are_in_the_markdown_header():
    md = report.markdown(report.merge([_rec("LC-A-01", "passed")]))
    assert "reference 1.0" in md and "suite " in md and "SPEC.md sha256:" in md and "cgroup v1" in md


class _Table(html.parser.HTMLParser):
    """Rows (clause links), header columns and cells (class, outcome, details) of the HTML matrix."""

    def __init__(self):
        super().__init__()
        self.columns, self.links, self.cells, self.stack = [], {}, {}, []
        self.clause = None
        self.col = 0
        self.details = 0
        self.external = []

    @classmethod
    def parse(cls, text):
        p = cls()
        p.feed(text)
        return p

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("link", "script", "img") or (tag == "a" and a.get("href", "").startswith("http")):
            self.external.append((tag, a))
        if tag == "th" and "data-column" in a:
            self.columns.append(a["data-column"])
        if tag == "tr" and "data-clause" in a:
            self.clause, self.col = a["data-clause"], 0
        if tag == "a" and self.clause:
            self.links[self.clause] = a["href"]
        if tag == "td" and self.clause and "cell" in a.get("class", ""):
            self.cells[(self.clause, self.columns[self.col])] = a
            self.col += 1
        if tag == "details":
            self.details += 1


def test_html_matrix_structure(tmp_path):
    records = [_rec("LC-A-01", "passed"), _rec("LC-A-01", "failed", "runc", "6.12", "v2"),
               _rec("LC-B-02", "xfailed", "runc", "6.12", "v2")]
    path = tmp_path / "m.json"
    report.write(str(path), records)
    page = (tmp_path / "m.html").read_text()
    t = _Table.parse(page)
    assert t.columns == ["reference|6.1|v1", "runc|6.12|v2"]
    assert set(t.links) == {"LC-A-01", "LC-B-02"} and all("SPEC.md#:~:text=LC-" in h for h in t.links.values())
    assert t.cells[("LC-A-01", "runc|6.12|v2")]["data-outcome"] == "failed"
    assert t.cells[("LC-B-02", "runc|6.12|v2")]["data-outcome"] == "xfailed"
    assert t.cells[("LC-B-02", "reference|6.1|v1")]["class"] == "cell none"
    assert t.details == 3, "each outcome cell opens to its tests"
    assert "t::LC-A-01-failed" in page and "boom" in page, "the failed tests and messages are in the page"
    assert not t.external, f"self-contained: {t.external}"
    assert os.path.exists(tmp_path / "m.md") and json.loads(path.read_text())


TOML = '''
[[deviation]]
key = "D-MINE"
clauses = ["LC-PAUSE-03"]
tests = ["test_transitions.py::test_cell[PAUSED-pause]"]
reason = "pause of a paused container fails"
raises = "SystemFailure"
'''


def test_a_runtime_author_declares_deviations_in_toml(tmp_path):
    path = tmp_path / "dev.toml"
    path.write_text(TOML)
    (d,) = deviations.load_file(str(path), "mymod:make")
    assert d.runtimes == ("mymod:make",) and d.raises is SystemFailure and d.strict
    assert deviations.for_test("spec/tests/test_transitions.py::test_cell[PAUSED-pause]", "mymod:make", (d,)) == [d]
    assert deviations.for_test("spec/tests/test_transitions.py::test_cell[PAUSED-pause]", "other", (d,)) == []


@pytest.mark.parametrize("text, field", [
    ("[[deviation]]\nkey='k'\nclauses=['LC-A-01']\ntests=['x']\n", "reason"),
    ("[[deviation]]\nkey='k'\nreason='r'\nclauses=[]\ntests=['x']\n", "clauses"),
    ("[[deviation]]\nkey='k'\nreason='r'\nclauses=['c']\ntests=['x']\nruntimes=['reference']\n", "reference"),
    ("[[deviation]]\nkey='k'\nreason='r'\nclauses=['c']\ntests=['x']\nraises='Nope'\n", "raises"),
    ("[[deviation]]\nkey='k'\nreason='r'\nclauses=['c']\ntests=['x']\ncolour='red'\n", "colour"),
    ("not toml [", "deviations file"),
])
def test_a_bad_deviation_file_names_the_field(tmp_path, text, field):
    path = tmp_path / "dev.toml"
    path.write_text(text)
    with pytest.raises(deviations.DeviationFileError, match=field):
        deviations.load_file(str(path), "x:y")


@pytest.mark.root  # the root check comes first
def test_preflight_refuses_without_busybox(monkeypatch):
    monkeypatch.setattr("libcontainer.conformance.rootfs.find_busybox", lambda: None)
    with pytest.raises(preflight.PreflightError, match="busybox-static"):
        preflight.check("reference")


def test_preflight_refuses_non_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(preflight.PreflightError, match="root"):
        preflight.check("reference")


@pytest.mark.parametrize("name", ["nope", "no_such_module:make", "libcontainer.reference:Nope"])
@pytest.mark.root  # the root check comes first
def test_preflight_refuses_an_unusable_runtime(name):
    with pytest.raises(preflight.PreflightError, match="--runtime"):
        preflight.check(name)


@pytest.mark.parametrize("name", ["builtins:str", "os.path:basename"])
@pytest.mark.root  # the root check comes first
def test_preflight_refuses_a_callable_that_makes_no_factory(name):
    """`--runtime builtins:str` made a str and went on to fail every test (one usage error instead)."""
    with pytest.raises(preflight.PreflightError, match="not a libcontainer.spec.Factory"):
        preflight.check(name)


def test_a_hung_call_behind_a_helper_names_the_tests_line_too(tmp_path):
    """A test hung in a helper's thread join (test_cell[RUNNING-wait]) was named only by
    "`self._thread.join(timeout)` (helpers.py...)"; the test's own line is named after it."""
    import sys

    from libcontainer.conformance.timeouts import hung_call
    (tmp_path / "helpers.py").write_text("def join(cb):\n    return cb()\n")
    (tmp_path / "test_x.py").write_text("def test_x(join, cb):\n    return join(cb)  # c.wait() in a thread\n")
    spaces = [{}, {}]
    for name, ns in zip(("helpers.py", "test_x.py"), spaces):
        exec(compile((tmp_path / name).read_text(), str(tmp_path / name), "exec"), ns)
    said = spaces[1]["test_x"](spaces[0]["join"], lambda: hung_call(sys._getframe(), (str(tmp_path) + "/",)))
    assert said.startswith("`return cb()` (helpers.py:2, in join) from `return join(cb)  # c.wait() in a thread` "
                           "(test_x.py:2, in test_x)"), said
    assert "innermost: <lambda>" in said


def _mounts(tmp_path, *lines):
    path = tmp_path / "mounts"
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def test_hugetlb_deviation_shows_only_on_a_v1_layout_without_hugetlb(tmp_path, monkeypatch):
    """D-HUGETLB-HYBRID was declared on every host; in the 6.1 guests (a v1 hugetlb hierarchy, or pure v2)
    runc and crun honour the limit, and the strict xfail failed there (full-matrix shards 4, 5, 13, 41)."""
    hybrid = _mounts(tmp_path, "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid 0 0",
                     "cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,memory 0 0")
    assert deviations.v1_without_hugetlb(hybrid)
    assert not deviations.v1_without_hugetlb(_mounts(
        tmp_path, "cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0",
        "cgroup /sys/fs/cgroup/hugetlb cgroup rw,nosuid,hugetlb 0 0"))
    assert not deviations.v1_without_hugetlb(_mounts(tmp_path, "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0"))
    node = "spec/tests/test_config_resources.py::test_hugetlb_limit_is_the_cgroup_hugetlb_limit"
    monkeypatch.setattr(deviations, "DEVIATIONS", tuple(
        d if d.key != "D-HUGETLB-HYBRID" else dataclasses.replace(d, shows=lambda: False)
        for d in deviations.DEVIATIONS))
    assert [d.key for d in deviations.for_test(node, "runc")] == []
    monkeypatch.setattr(deviations, "DEVIATIONS", tuple(
        d if d.key != "D-HUGETLB-HYBRID" else dataclasses.replace(d, shows=lambda: True)
        for d in deviations.DEVIATIONS))
    assert [d.key for d in deviations.for_test(node, "runc")] == ["D-HUGETLB-HYBRID"]
