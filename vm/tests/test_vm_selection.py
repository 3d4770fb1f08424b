"""The rule that decides which tests run in the kernel matrix's guests and which are host-only (vm/selection.py)."""

import json

import pytest

from libcontainer.conformance import report
from libcontainer.conformance.outcomes import HOST_ONLY, OUTCOMES, combine
from libcontainer.vm import runner, selection

KERNEL_CLAUSES = {  # one per kernel mechanism: cgroups, freezer, namespaces, mounts, seccomp, devices, stats
    "LC-CFG-RES-01": "With `memory`, the cgroup's memory limit is that many bytes",
    "LC-PAUSE-01": "`pause()` on a RUNNING container freezes every process; the state becomes PAUSING",
    "LC-CFG-NS-01": "Each kernel namespace named in `namespaces` is new",
    "LC-CFG-FS-03": "Each entry of `mounts` is mounted at its `destination` in the container",
    "LC-CFG-SEC-04": "With `seccomp`, `Seccomp:` of `/proc/self/status` is 2",
    "LC-NS-01": "With the pid namespace (default), init is pid 1 in its namespace",
    "LC-CFG-STATS-02": "`stats().cpu.total_ns` grows by at least the CPU time",
}


def test_the_listed_host_only_clauses_pass_the_check_against_spec_md():
    selection.check()
    assert set(selection.HOST_ONLY_CLAUSES) <= set(report.clause_titles())


@pytest.mark.parametrize("clause", sorted(KERNEL_CLAUSES))
def test_a_kernel_dependent_clause_cannot_be_classified_host_only(clause, monkeypatch):
    assert selection.kernel_reason(clause, KERNEL_CLAUSES[clause])
    monkeypatch.setitem(selection.HOST_ONLY_CLAUSES, clause, "wrongly listed")
    with pytest.raises(ValueError, match=clause):
        selection.check({**report.clause_titles(), clause: KERNEL_CLAUSES[clause]})


def test_every_spec_clause_naming_a_kernel_mechanism_is_refused():
    titles = report.clause_titles()
    kernelish = [c for c, t in titles.items() if any(w in t.lower() for w in ("cgroup", "freez", "namespace",
                                                                              "mount", "seccomp"))]
    assert kernelish, "SPEC.md names no kernel mechanism?"
    assert not set(kernelish) & set(selection.HOST_ONLY_CLAUSES)
    assert all(selection.kernel_reason(c, titles[c]) for c in kernelish)


def test_the_rule_for_one_test():
    assert selection.kernel_dependent([])  # no clause: the reference's cgroup tests, anything unclassified
    assert not selection.kernel_dependent(["LC-ID-01"])
    assert selection.kernel_dependent(["LC-ID-01", "LC-CFG-NS-01"])  # one kernel clause is enough
    assert selection.kernel_dependent(["LC-ID-01"], fixtures=["make_driver"])  # drives cgroups itself


def test_each_test_is_placed_by_its_own_clauses_and_function():
    tests = {"m.py::a": (["LC-ID-01"], []), "m.py::b": (["LC-ID-01", "LC-PAUSE-01"], []),
             "m.py::c[x]": (["LC-EXEC-05"], []), "m.py::e": ([], []),
             "m.py::test_ids_that_name_host_files_are_ordinary_ids[tasks]": (["LC-ID-01"], [])}
    # a: its only clause is host-only, though b judges LC-ID-01 in the guest; the KERNEL_TESTS function runs there
    assert selection.guest_tests(tests) == {"m.py::b", "m.py::e",
                                            "m.py::test_ids_that_name_host_files_are_ordinary_ids[tasks]"}
    assert set(selection.KERNEL_TESTS) and all(why for why in selection.KERNEL_TESTS.values())


def test_fold_lists_host_only_tests_beside_a_clause_judged_in_the_guest(tmp_path):
    ran = {"clause": "LC-ID-01", "title": "", "runtime": "reference", "kernel": "6.1.0", "cgroup": "v1",
           "outcome": "passed", "tests": ["t1"], "by_outcome": {"passed": ["t1"]}, "messages": {}, "run": RUN}
    clauses = _guest_report(tmp_path, [ran])
    listed = tmp_path / "host-only-reference.json"
    listed.write_text(json.dumps([{"nodeid": "t2", "clauses": ["LC-ID-01"], "judged_in_guest": ["LC-ID-01"]},
                                  {"nodeid": "t3", "clauses": ["LC-GEN-03"], "judged_in_guest": ["LC-GEN-03"]}]))
    assert selection.fold(str(clauses), str(listed)) == 0  # LC-GEN-03: judged by a guest test of another part
    merged = {r["clause"]: r for r in report.merge(json.loads(clauses.read_text()))}
    assert set(merged) == {"LC-ID-01"}
    cell = merged["LC-ID-01"]
    assert cell["outcome"] == "passed", "judged in the guest by t1"
    assert cell["by_outcome"] == {"passed": ["t1"], HOST_ONLY: ["t2"]} and cell["tests"] == ["t1", "t2"]
    assert "host only" in cell["messages"]["t2"]


def _guest_report(tmp_path, records):
    path = tmp_path / "clauses-reference.json"
    path.write_text(json.dumps(records))
    return path


RUN = {"runtime": "reference", "kernel": "6.1.0", "cgroup": "v1", "exitstatus": 0}


def test_fold_adds_host_only_cells_in_the_guests_column_never_passed(tmp_path):
    ran = {"clause": "LC-PAUSE-01", "title": "", "runtime": "reference", "kernel": "6.1.0", "cgroup": "v1",
           "outcome": "passed", "tests": ["t1"], "by_outcome": {"passed": ["t1"]}, "messages": {}, "run": RUN}
    clauses = _guest_report(tmp_path, [ran])
    listed = tmp_path / "host-only-reference.json"
    listed.write_text(json.dumps([{"nodeid": "t2", "clauses": ["LC-ID-01", "LC-GEN-03"]},
                                  {"nodeid": "t3", "clauses": ["LC-ID-01"]}]))
    assert selection.fold(str(clauses), str(listed)) == 2
    merged = {r["clause"]: r for r in report.merge(json.loads(clauses.read_text()))}
    assert merged["LC-PAUSE-01"]["outcome"] == "passed"
    for c in ("LC-ID-01", "LC-GEN-03"):
        assert merged[c]["outcome"] == HOST_ONLY
        assert (merged[c]["kernel"], merged[c]["cgroup"]) == ("6.1.0", "v1")
    assert merged["LC-ID-01"]["tests"] == ["t2", "t3"]
    table = report.markdown(list(merged.values()))
    assert "| LC-ID-01 |" in table and "host-only" in table.split("| LC-ID-01 |")[1].splitlines()[0]


def test_host_only_is_never_combined_into_passed():
    assert OUTCOMES.index(HOST_ONLY) < OUTCOMES.index("passed")
    assert combine(["passed", HOST_ONLY]) == HOST_ONLY


def test_the_guest_command_deselects_only_with_kernel_only(tmp_path):
    class VM:
        name, suite, workers, kernel_only = "v", ("--pyargs", "libcontainer.spec.tests"), 1, True
    req = runner.guest_request(VM, "/p", "/py", ["reference"], str(tmp_path), [], 60)
    script = req.argv[-1]
    assert "-p libcontainer.vm.selection" in script
    assert f"LCVM_HOST_ONLY={tmp_path}/host-only-reference.json" in script
    VM.kernel_only = False
    assert "selection" not in runner.guest_request(VM, "/p", "/py", ["reference"], str(tmp_path), [], 60).argv[-1]


def test_the_plugin_deselects_host_only_tests_and_lists_them(pytester, monkeypatch, tmp_path):
    listed = tmp_path / "host-only.json"
    monkeypatch.setenv("LCVM_HOST_ONLY", str(listed))
    pytester.makepyfile("""
        import pytest
        @pytest.mark.clause("LC-ID-01")
        def test_id(): pass
        @pytest.mark.clause("LC-PAUSE-01")
        def test_pause(): pass
        def test_unmarked(): pass
    """)
    result = pytester.runpytest("-p", "libcontainer.vm.selection", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, deselected=1)
    assert [t["nodeid"].split("::")[1] for t in json.loads(listed.read_text())] == ["test_id"]
    # a test that -k deselected is not listed host-only (the plugin selects last)
    pytester.runpytest("-p", "libcontainer.vm.selection", "-k", "test_pause")
    assert json.loads(listed.read_text()) == []


def test_the_guests_plugin_flags_load_together(pytester):
    """The guest's pytest line without xdist and testinfra: every hook of the guest plugins must validate."""
    pytester.makepyfile("def test_one(): pass\n")
    script = runner.guest_request(type("VM", (), {"name": "v", "suite": (), "workers": 1, "kernel_only": True}),
                                  "/p", "/py", ["reference"], "/o", [], 60).argv[-1]
    flags = [w for w in script.split() if w.startswith(("libcontainer.vm.", "no:"))]
    args = [a for f in flags for a in ("-p", f)]
    assert "no:xdist" in flags and "libcontainer.vm.progress" in flags
    pytester.runpytest(*args).assert_outcomes(passed=1)


@pytest.mark.parametrize("part", ["1/2", "2/2"])
def test_a_part_runs_every_nth_kernel_dependent_test(pytester, monkeypatch, tmp_path, part):
    monkeypatch.setenv("LCVM_HOST_ONLY", str(tmp_path / "host-only.json"))
    monkeypatch.setenv("LCVM_PART", part)
    pytester.makepyfile("""
        import pytest
        @pytest.mark.clause("LC-ID-01")
        def test_id(): pass
        @pytest.mark.parametrize("k", range(5))
        def test_kernel(k): pass
    """)
    result = pytester.runpytest("-p", "libcontainer.vm.selection", "-v")
    ran = sorted(line.split("[")[1].split("]")[0] for line in result.outlines if "PASSED" in line)
    assert ran == (["0", "2", "4"] if part == "1/2" else ["1", "3"])
    assert len(json.loads((tmp_path / "host-only.json").read_text())) == 1  # every part lists the host-only tests
