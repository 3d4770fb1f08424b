"""The matrix's cells, shards, merge and generated CI files (no VM booted: a stand-in backend writes reports)."""

import json
import os
import re
import shlex
import sys

import pytest

from libcontainer.vm import __main__ as cli, backend, generate, matrix, merge, runner


def test_the_matrix_has_every_cgroup_mode_a_user_meets_and_says_which_cannot_boot():
    m = matrix.load_matrix()
    cells = {(v.package, v.cgroup): v for v in m.vms}
    assert {("linux-image-amd64", mode) for mode in ("v1", "hybrid", "v2")} <= set(cells)
    assert ("linux-image-6.12-amd64", "v2") in cells
    no = cells[("linux-image-6.12-amd64", "v1")]
    assert "memory" in no.cannot_boot and no not in matrix.select(m.vms, [], full=True)
    with pytest.raises(ValueError, match="cannot boot"):
        matrix.select(m.vms, [no.name])
    assert [v.name for v in matrix.select(m.vms, [])] == ["deb12-6.1-v1", "deb12-6.12-v2"]  # the default matrix
    assert m.default_runtimes == ("reference",) and {"reference", "runc", "crun"} <= set(m.full_runtimes)
    v1 = cells[("linux-image-amd64", "v1")]
    assert "reference/tests/test_cgroups_freezer.py" in v1.suite_for("reference")
    assert v1.suite_for("runc")[:2] == ("--pyargs", "libcontainer.spec.tests")
    assert "reference/tests/test_cgroups_freezer.py" not in v1.suite_for("runc")


@pytest.mark.parametrize("n", [1, 2, 4, 15, 20])
def test_shards_cover_every_unit_exactly_once(n):
    m = matrix.load_matrix()
    work = matrix.units(matrix.select(m.vms, [], full=True), m.full_runtimes)
    shards = [matrix.shard(work, i, n) for i in range(1, n + 1)]
    flat = [u for s in shards for u in s]
    assert sorted(flat) == sorted(work) and len(flat) == len(set(flat))
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("bad", ["0/3", "4/3", "x", "1/0", "1-2"])
def test_a_bad_shard_is_refused(bad):
    with pytest.raises(ValueError, match="shard"):
        matrix.parse_shard(bad)


class _ReportingBackend(backend.Backend):
    """Writes, per runtime the request asks for, the clause report a guest of that VM would."""

    name = "fake"

    def prepare(self, vm):
        pass

    def run(self, vm, request, on_event=None):
        for line in request.argv[-1].splitlines():
            words = shlex.split(line)
            if "--runtime" in words:
                rt, path = words[words.index("--runtime") + 1], words[words.index("--clause-report") + 1]
                _report(path, rt, vm.package, vm.cgroup)
        return backend.Result(vm.name, 0, None, "", request.out, {"total": 1.0})


def _report(path, runtime, kernel, cgroup):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump([{"clause": c, "title": c, "runtime": runtime, "kernel": kernel, "cgroup": cgroup,
                    "outcome": "passed", "tests": [f"t::{c}"]} for c in ("LC-A-01", "LC-B-02")], f)


def _fake_host(python, project, runtimes, out, extra, suite=None, workers=2):
    for rt in runtimes:
        _report(os.path.join(out, f"clauses-{runtime_file(rt)}.json"), rt, "host-kernel", "hybrid")
    return 0


def runtime_file(rt):
    return runner.safe(rt)


def _run(monkeypatch, tmp_path, out, argv):
    monkeypatch.setattr(runner, "run_host", _fake_host)
    monkeypatch.setattr(runner, "precompile", lambda python, project, suites=(): None)
    monkeypatch.setattr(cli.backend_mod, "get", lambda name, **kw: _ReportingBackend())
    return cli.main(["run", "--full", "--out", str(tmp_path / out), *argv])


def test_shards_merge_into_the_same_matrix_as_a_local_run(monkeypatch, tmp_path, capsys):
    assert _run(monkeypatch, tmp_path, "local", []) == 0
    local = json.loads((tmp_path / "local" / "matrix.json").read_text())
    m = matrix.load_matrix()
    n = generate.shard_count(m)
    for i in range(1, n + 1):
        assert _run(monkeypatch, tmp_path, f"shard-{i}", ["--shard", f"{i}/{n}"]) == 0
        assert "[shard" in capsys.readouterr().out
    assert cli.main(["merge", *(str(tmp_path / f"shard-{i}") for i in range(1, n + 1)),
                     "--out", str(tmp_path / "merged")]) == 0
    merged = json.loads((tmp_path / "merged" / "matrix.json").read_text())
    assert merged == local
    # clause x runtime x kernel x cgroup: every runtime in every mode that boots, and the host
    cols = {(r["runtime"], r["kernel"], r["cgroup"]) for r in merged}
    want = {(rt, v.package, v.cgroup) for v in matrix.select(m.vms, [], full=True) for rt in m.full_runtimes}
    assert cols == want | {(rt, "host-kernel", "hybrid") for rt in m.full_runtimes}
    for folder in ("local", "merged"):
        md = (tmp_path / folder / "matrix.md").read_text()
        assert re.search(r"\| deb12-6\.12-v1 \|.*cannot boot: .*memory", md), md
        assert "| deb12-6.1-hybrid |" in md and "not run" not in md
    # a VM booted by several shards (one per runtime, or per part of a runtime's suite) is one cell with every
    # runtime once
    md = (tmp_path / "merged" / "matrix.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| deb12-6.12-v2 |"))
    vm = next(v for v in m.vms if v.name == "deb12-6.12-v2")
    boots = sum(vm.parts_for(rt) for rt in m.full_runtimes)
    assert f"| {', '.join(sorted(m.full_runtimes))} |" in row and f"in {boots} boots" in row, row
    assert "@" not in row


def test_merge_fails_on_a_missing_shard_folder_or_a_failed_vm(monkeypatch, tmp_path):
    assert _run(monkeypatch, tmp_path, "s1", ["--shard", "1/2"]) == 0
    assert cli.main(["merge", str(tmp_path / "s1"), str(tmp_path / "absent"), "--out", str(tmp_path / "m")]) == 1
    (tmp_path / "s1.log").write_text("a file given as a folder")
    assert cli.main(["merge", str(tmp_path / "s1"), str(tmp_path / "s1.log"), "--out", str(tmp_path / "m")]) == 1
    man = json.loads((tmp_path / "s1" / merge.MANIFEST).read_text())
    name = next(iter(man["summary"]))
    man["summary"][name]["status"] = 1
    (tmp_path / "s1" / merge.MANIFEST).write_text(json.dumps(man))
    assert cli.main(["merge", str(tmp_path / "s1"), "--out", str(tmp_path / "m")]) == 1


def test_the_generated_ci_files_are_up_to_date_with_the_matrix(tmp_path):
    project = cli.project_root()
    assert generate.main(project, check=True) == 0, "run: python -m libcontainer.vm generate"
    m = matrix.load_matrix()
    wf = generate.workflow(m)
    n = generate.shard_count(m)
    shards = re.search(r"shard: \[([0-9, ]+)\]", wf).group(1)
    assert [int(x) for x in shards.split(",")] == list(range(1, n + 1))  # one job per unit
    assert f"--shard ${{{{ matrix.shard }}}}/{n}" in wf and "libcontainer.vm merge shards/*" in wf
    vf = generate.vagrantfile(m)
    defined = re.findall(r'config\.vm\.define "([^"]+)"', vf)
    assert defined == [v.name for v in matrix.select(m.vms, [], full=True)]
    # a matrix.toml edit makes the check fail until the files are generated again
    edited = tmp_path / "m.toml"
    edited.write_text(open(matrix.MATRIX).read().replace('name = "deb12-6.1-v2"', 'name = "deb12-6.1-v2x"'))
    assert generate.main(project, check=True, path=str(edited)) == 1


def test_hybrid_mode_mounts_cgroup2_beside_the_v1_hierarchies():
    text = open(os.path.join(os.path.dirname(generate.__file__), "init.sh")).read()
    assert "v1|hybrid)" in text
    assert re.search(r'\[ "\$mode" = hybrid \].*\n.*\n\s*mount -t cgroup2 .*/sys/fs/cgroup/unified', text)
