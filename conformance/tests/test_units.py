"""Unit tests of the harness: runtime names, reports, config validation and the rootfs."""

import json
import os

import pytest

from libcontainer.conformance import report, rootfs, runtimes
from libcontainer.reference import LinuxFactory
from libcontainer.spec import Config, ConfigInvalid, InvalidIdFormat, Process, Resources, validate, validate_id


def test_resolve_alias_and_module_callable():
    assert runtimes.resolve("reference") is LinuxFactory
    assert runtimes.resolve("libcontainer.reference:LinuxFactory") is LinuxFactory


@pytest.mark.parametrize("name", ["nope", "no.such.module:X", "libcontainer.reference:Nope", ":x"])
def test_resolve_rejects_unknown_names(name):
    with pytest.raises(ValueError):
        runtimes.resolve(name)


def _rec(clause, outcome, runtime="reference", kernel="6.1", cgroup="v1"):
    return {"clause": clause, "title": "t", "runtime": runtime, "kernel": kernel, "cgroup": cgroup,
            "outcome": outcome, "tests": [f"t::{clause}"]}


def test_merge_keeps_the_worst_outcome_per_cell():
    merged = report.merge([_rec("LC-A-01", "passed"), _rec("LC-A-01", "failed"), _rec("LC-A-01", "passed", "runc")])
    assert [(r["runtime"], r["outcome"]) for r in merged] == [("reference", "failed"), ("runc", "passed")]


def test_markdown_has_a_column_per_runtime_and_kernel(tmp_path):
    records = [_rec("LC-A-01", "passed"), _rec("LC-A-01", "xfailed", "runc", "6.12", "v2")]
    path = tmp_path / "m.json"
    report.write(str(path), records)
    md = (tmp_path / "m.md").read_text()
    assert "reference @ 6.1 (v1)" in md and "runc @ 6.12 (v2)" in md
    assert "| LC-A-01 | t | passed | xfailed |" in md
    assert len(json.loads(path.read_text())) == 2


def test_clause_titles_come_from_spec_md():
    titles = report.clause_titles()
    assert "LC-FACTORY-01" in titles and titles["LC-FACTORY-01"]


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a" * 1025, "\0", "é", 3, None])
def test_validate_id_rejects(bad):
    with pytest.raises(InvalidIdFormat):
        validate_id(bad)


@pytest.mark.parametrize("change, field", [
    (dict(rootfs="relative"), "rootfs"),
    (dict(rootfs="/no/such/dir"), "rootfs"),
    (dict(namespaces=["mnt", "bogus"]), "namespaces"),
    (dict(process=Process(args=[])), "process.args"),
    (dict(process=Process(args=["x"], cwd="rel")), "process.cwd"),
    (dict(process=Process(args=["x"], uid=-1)), "process.uid"),
    (dict(resources=Resources(memory=-5)), "resources.memory"),
    (dict(resources=Resources(pids_limit="10")), "resources.pids_limit"),
    (dict(cgroup_parent="../escape"), "cgroup_parent"),
    (dict(hostname="x" * 65), "hostname"),
])
def test_validate_names_the_bad_field(tmp_path, change, field):
    cfg = Config(rootfs=str(tmp_path), process=Process(args=["sh"]))
    for k, v in change.items():
        setattr(cfg, k, v)
    with pytest.raises(ConfigInvalid, match=field.replace(".", r"\.")):
        validate(cfg)


def test_config_round_trips_through_dict(tmp_path):
    cfg = Config(rootfs=str(tmp_path), process=Process(args=["sh"], rlimits={"RLIMIT_NOFILE": (10, 20)}),
                 resources=Resources(memory=64 << 20))
    assert Config.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


@pytest.mark.skipif(rootfs.find_busybox() is None, reason="no static busybox (apt-get install busybox-static)")
def test_busybox_rootfs_has_a_shell_and_etc(tmp_path):
    path = rootfs.build_busybox_rootfs(str(tmp_path / "fs"))
    assert os.path.islink(os.path.join(path, "bin", "sh"))
    assert os.readlink(os.path.join(path, "bin", "sh")) == "/bin/busybox"
    assert open(os.path.join(path, "etc", "passwd")).read().startswith("root:")


def test_stdio_must_be_an_open_descriptor(tmp_path):
    import io
    closed = open(tmp_path / "f", "w")
    closed.close()
    for bad in (closed, io.StringIO(), 987654, -1):
        cfg = Config(rootfs=str(tmp_path), process=Process(args=["sh"], stdout=bad))
        with pytest.raises(ConfigInvalid, match=r"process\.stdout"):
            validate(cfg)
    with open(tmp_path / "ok", "w") as f:
        validate(Config(rootfs=str(tmp_path), process=Process(args=["sh"], stdout=f, stderr=f.fileno())))
