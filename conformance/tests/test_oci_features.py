"""Unit tests of the OCI adapter's feature probing (:mod:`libcontainer.conformance.oci.features`) with small
fake runtime scripts: no root, no container."""

import json
import os
import signal
import stat
import time

import pytest

from libcontainer.conformance import runtimes
from libcontainer.conformance.oci import features

FEATURES_JSON = {"ociVersionMin": "1.0.0", "ociVersionMax": "1.1.0", "hooks": ["prestart"]}


def fake_runtime(tmp_path, name="fakert", version="fakert version 2.5.0", commands=("create", "start", "events",
                 "features"), features_json=FEATURES_JSON, create_error=""):
    """An executable script that answers like an OCI runtime and appends each call's argv to ``calls``."""
    calls = tmp_path / f"{name}.calls"
    listing = "\n".join(f"   {c}      the {c} command" for c in commands)
    usage = f"USAGE:\\n   {name} [global options] command\\n\\nCOMMANDS:\\n{listing}\\n   --root value  state\\n"
    features_answer = f"echo '{json.dumps(features_json)}'; exit 0" if features_json else \
        "echo unknown command >&2; exit 1"
    script = tmp_path / name
    script.write_text(f"""#!/bin/sh
echo "$*" >> {calls}
for arg in "$@"; do
  case "$arg" in
    --version) echo "{version}"; echo "commit: abc"; exit 0 ;;
    --help) printf '{usage}'; exit 0 ;;
    features) {features_answer} ;;
    create) {"echo '" + create_error + "' >&2; exit 1" if create_error else "exit 0"} ;;
  esac
done
exit 0
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script), calls


def test_version_features_and_commands_are_probed(tmp_path):
    binary, calls = fake_runtime(tmp_path)
    found = features.probe(binary, ("--flag=x",), controllers_file=str(tmp_path / "none"))
    assert found.name == "fakert" and found.version == "fakert version 2.5.0"
    assert found.features == FEATURES_JSON
    assert {"create", "start", "events", "features"} <= found.commands
    assert "root" not in found.commands, "an option line is not a command"
    assert found.has_events and not found.refuses_hybrid and found.host_pids
    assert found.argv == (binary, "--flag=x")
    assert all(line.startswith("--flag=x ") for line in calls.read_text().splitlines()), \
        "the global flags come before every probe's command"


def test_a_runtime_without_events_or_features_says_so(tmp_path):
    binary, _ = fake_runtime(tmp_path, version="something else", commands=("create", "start"),
                             features_json=None)
    found = features.probe(binary, controllers_file=str(tmp_path / "none"))
    assert found.name == "fakert", "no 'NAME version V' line: the file's name"
    assert found.version == "something else"
    assert found.features is None and not found.has_events
    assert "events=no" in found.summary() and "features=no" in found.summary()


@pytest.mark.parametrize("controllers, error, refuses, tried", [
    ("hugetlb\n", "cgroups in hybrid mode not supported, drop all controllers from cgroupv2", True, True),
    ("hugetlb\n", "exec: \"/nonexistent\": stat /nonexistent: no such file or directory", False, True),
    ("", "cgroups in hybrid mode not supported, drop all controllers from cgroupv2", False, False),
])
def test_hybrid_refusal_is_probed_by_trying_create_only_on_a_hybrid_host(tmp_path, controllers, error, refuses,
                                                                         tried):
    binary, calls = fake_runtime(tmp_path, create_error=error)
    (tmp_path / "controllers").write_text(controllers)
    found = features.probe(binary, controllers_file=str(tmp_path / "controllers"))
    assert found.refuses_hybrid is refuses
    lines = calls.read_text().splitlines()
    created = [line for line in lines if " create --bundle " in line]
    assert bool(created) is tried
    if tried:
        container_id = created[0].split()[-1]
        assert any(line.endswith(f"delete --force {container_id}") for line in lines), "the probe deletes"
        bundle_dir = created[0].split(" --bundle ")[1].split()[0]
        assert not os.path.exists(bundle_dir), "the scratch bundle is removed"


def test_a_probed_name_brings_its_presets_unprobeable_knowledge_not_its_flags(tmp_path):
    binary, _ = fake_runtime(tmp_path, name="myrunsc", version="runsc version 0.0~1", features_json=None)
    found = features.probe(binary, ("--platform=kvm",), controllers_file=str(tmp_path / "none"))
    assert found.name == "runsc" and not found.host_pids
    assert found.argv == (binary, "--platform=kvm"), "the preset's --platform=ptrace is not added"
    crun_like, _ = fake_runtime(tmp_path, name="c", version="crun version 9.9", commands=("create",),
                                features_json=None, create_error="cgroups in hybrid mode not supported")
    (tmp_path / "controllers").write_text("hugetlb\n")
    found = features.probe(crun_like, controllers_file=str(tmp_path / "controllers"))
    assert found.log_prefix == "file:" and found.refuses_hybrid and not found.has_events


def test_a_preset_gives_flags_and_replaces_the_hybrid_probe(tmp_path):
    binary, calls = fake_runtime(tmp_path, create_error="cgroups in hybrid mode not supported")
    (tmp_path / "controllers").write_text("hugetlb\n")
    preset = features.Preset(binary, flags=("--platform=ptrace",), refuses_hybrid=False)
    found = features.probe(binary, (), preset, controllers_file=str(tmp_path / "controllers"))
    assert not found.refuses_hybrid
    assert " create " not in calls.read_text(), "a preset's answer is not tried"
    assert found.argv == (binary, "--platform=ptrace")


def test_runtime_for_an_oci_spec_puts_flags_before_root(tmp_path):
    binary, _ = fake_runtime(tmp_path)
    runtime = features.runtime_for(f"oci:{binary} --platform=ptrace --network=none", str(tmp_path / "state"))
    assert runtime.name == "fakert" and runtime.binary == binary
    assert runtime.argv("state", "c1") == [binary, "--platform=ptrace", "--network=none", "--root",
                                           str(tmp_path / "state"), "state", "c1"]
    assert runtime.argv("create", log="/l")[-5:] == ["--log", "/l", "--log-format", "json", "create"]
    assert runtime.version().startswith("fakert version 2.5.0; events=yes, features=yes")


def test_runtime_specs_are_parsed_and_refused_clearly(tmp_path):
    binary, _ = fake_runtime(tmp_path)
    assert features.parse(binary) == (binary, ())
    assert features.parse(f"oci:{binary} --a 'b c'") == (binary, ("--a", "b c"))
    (tmp_path / "plain").write_text("not executable")
    for bad in (f"oci:{tmp_path / 'plain'}", "oci:/nonexistent/runtime", "oci:", str(tmp_path)):
        with pytest.raises(ValueError, match="--runtime"):
            features.parse(bad)
    with pytest.raises(ValueError, match="not an executable"):
        runtimes.resolve("oci:/nonexistent/runtime")
    assert runtimes.resolve(binary).__name__ == "oci"
    assert runtimes.resolve(f"oci:{binary} --x").__name__ == "oci"
    assert runtimes.resolve("runsc").__name__ == "runsc"


def test_a_create_that_leaves_a_child_does_not_hang_the_probe(tmp_path):
    """The probes' output goes through a file: a runtime whose create leaves a child holding its stdout
    does not make a probe wait for EOF."""
    script = tmp_path / "lingering"
    script.write_text("#!/bin/sh\ncase \"$*\" in *create*) sleep 30 & echo $! > " + str(tmp_path / "child")
                      + "; exit 0 ;; esac\nexit 0\n")
    script.chmod(0o755)
    (tmp_path / "controllers").write_text("hugetlb\n")
    started = time.monotonic()
    try:
        found = features.probe(str(script), controllers_file=str(tmp_path / "controllers"))
        assert not found.refuses_hybrid
        assert time.monotonic() - started < features.PROBE_TIMEOUT, "no probe waited for the child's EOF"
    finally:
        os.kill(int((tmp_path / "child").read_text()), signal.SIGKILL)  # the sleep this test started
