"""lcrun's parts that need no root: signals, refused fields, features, version, spec."""

from __future__ import annotations

import json
import signal

import pytest

from libcontainer.cli import bundle, info, main
from libcontainer.cli.errors import CliError
from libcontainer.cli.lifecycle import parse_signal
from libcontainer.spec import ConfigInvalid


@pytest.mark.parametrize("text", ["KILL", "SIGKILL", "kill", "9"])
def test_signal_names_and_numbers(text):
    assert parse_signal(text) == signal.SIGKILL


def test_unknown_signal_is_runc_s_error():
    with pytest.raises(CliError, match='unknown signal "FOO"'):
        parse_signal("FOO")


@pytest.mark.parametrize("spec,field", [
    ({"hooks": {"prestart": [{"path": "/bin/true"}]}}, "hooks"),
    ({"process": {"apparmorProfile": "x"}}, "process.apparmorProfile"),
    ({"linux": {"intelRdt": {"closID": "a"}}}, "linux.intelRdt"),
    ({"linux": {"resources": {"unified": {"memory.max": "1"}}}}, "linux.resources.unified"),
])
def test_fields_the_reference_cannot_honour_are_refused_by_name(spec, field):
    with pytest.raises(ConfigInvalid, match=field.replace(".", r"\.")):
        bundle.refuse_unsupported(spec)


def test_empty_unsupported_fields_are_accepted():
    bundle.refuse_unsupported({"hooks": {}, "process": {"apparmorProfile": ""}, "annotations": {"a": "b"}})


def test_systemd_cgroup_is_refused(capsys):
    assert main.main(["--systemd-cgroup", "list"]) == 1
    assert "--systemd-cgroup is not supported" in capsys.readouterr().err


def test_version(capsys):
    assert main.main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"lcrun version {info.VERSION}\n") and "spec: 1.0.2" in out


def test_features_is_json(capsys):
    assert main.main(["features"]) == 0
    features = json.loads(capsys.readouterr().out)
    assert features["linux"]["cgroup"]["systemd"] is False
    assert "mount" in features["linux"]["namespaces"] and features["hooks"] == []


def test_spec_writes_a_config_and_refuses_to_overwrite(tmp_path, capsys):
    assert main.main(["spec", "--bundle", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["root"] == {"path": "rootfs", "readonly": True} and data["process"]["args"] == ["sh"]
    assert main.main(["spec", "--bundle", str(tmp_path)]) == 1
    assert "exists. Remove it first" in capsys.readouterr().err


def test_json_log(tmp_path, capsys):
    log = tmp_path / "log.json"
    assert main.main(["--log", str(log), "--log-format", "json", "--systemd-cgroup", "list"]) == 1
    entry = json.loads(log.read_text().splitlines()[0])
    assert entry["level"] == "error" and "--systemd-cgroup" in entry["msg"] and entry["time"]
    assert capsys.readouterr().err.startswith("--systemd-cgroup is not supported")


def test_device_rules_are_honoured_with_runc_s_defaults_when_they_leave_those_to_the_runtime():
    deny_all = {"allow": False, "access": "rwm"}
    fuse = {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"}
    rules = bundle.device_rules([deny_all, fuse])  # podman's deny-all with a --device: runc's defaults follow
    assert (rules[0].allow, rules[0].type, rules[0].major, rules[0].access) == (False, "a", -1, "rwm")
    assert (rules[1].allow, rules[1].major, rules[1].minor, rules[1].access) == (True, 10, 229, "rwm")
    assert len(rules) == 2 + len(bundle.RUNC_ALLOWED_DEVICES)
    mknod = {"allow": True, "type": "c", "access": "m"}  # creating nodes opens none
    assert len(bundle.device_rules([deny_all, mknod])) == 2 + len(bundle.RUNC_ALLOWED_DEVICES)
    null = {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "r"}
    rules = bundle.device_rules([deny_all, null])  # the config names /dev/null: its rules are the whole list
    assert [(r.allow, r.major, r.minor, r.access) for r in rules] == [(False, -1, -1, "rwm"), (True, 1, 3, "r")]
    # ... unless the rule only backs a node of linux.devices (the rule `runc spec` users add for it)
    assert len(bundle.device_rules([deny_all, null], [("c", 1, 3)])) == 2 + len(bundle.RUNC_ALLOWED_DEVICES)
    assert bundle.device_rules(None) is None
    with pytest.raises(ConfigInvalid, match=r"linux\.resources\.devices\[0\]\.allow"):
        bundle.device_rules([{"access": "rwm"}])
