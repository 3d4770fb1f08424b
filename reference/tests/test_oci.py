"""Config.from_oci on the config.json that ``runc spec`` writes, and on broken copies of it."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess

import pytest

from libcontainer.spec import Capabilities, Config, ConfigInvalid, Mount
from libcontainer.spec.oci import config_from_dict
from libcontainer.spec.tests.helpers import run_init

needs_runc = pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed (apt-get install runc)")


@pytest.fixture
def bundle(tmp_path, rootfs):
    subprocess.run(["runc", "spec"], cwd=tmp_path, check=True)
    with open(tmp_path / "config.json") as f:
        spec = json.load(f)
    spec["root"]["path"] = rootfs  # an absolute root.path is allowed too
    return tmp_path, spec


def _write(bundle_dir, spec):
    with open(os.path.join(bundle_dir, "config.json"), "w") as f:
        json.dump(spec, f)


@needs_runc
def test_runc_spec_reads_into_config(tmp_path, rootfs):
    subprocess.run(["runc", "spec"], cwd=tmp_path, check=True)
    (tmp_path / "rootfs").mkdir()
    cfg = Config.from_oci(str(tmp_path), console_socket="/run/console.sock")
    assert cfg.rootfs == str(tmp_path / "rootfs")
    assert cfg.process.args == ["sh"] and cfg.process.cwd == "/"
    assert cfg.process.terminal and cfg.process.console_socket == "/run/console.sock"
    assert "TERM=xterm" in cfg.process.env
    assert cfg.process.no_new_privileges is True
    three = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    assert cfg.process.capabilities == Capabilities(bounding=three, effective=three, permitted=three,
                                                    inheritable=[], ambient=three)
    assert cfg.process.rlimits == {"RLIMIT_NOFILE": (1024, 1024)}
    assert cfg.hostname == "runc" and cfg.readonly_rootfs is True
    assert sorted(cfg.namespaces) == ["ipc", "mnt", "net", "pid", "uts"]
    assert "/proc/kcore" in cfg.masked_paths and "/proc/sys" in cfg.readonly_paths
    assert cfg.mounts == []  # all standard filesystems (made by the runtime) or cgroup (skipped)
    assert cfg.seccomp is None  # runc spec writes none


@needs_runc
def test_runc_spec_bundle_runs(factory, bundle, cgroup_parent):
    bundle_dir, spec = bundle
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sh", "-c", "echo hi; hostname; grep ^CapEff /proc/self/status; ulimit -n"]
    spec["mounts"].append({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]})
    _write(bundle_dir, spec)
    cfg = dataclasses.replace(Config.from_oci(str(bundle_dir)), cgroup_parent=cgroup_parent)
    assert cfg.mounts == [Mount(destination="/scratch", type="tmpfs", source="tmpfs", options=["size=1m"])]
    c, out, status = run_init(factory, "oci", cfg, cfg.process.args[2])
    c.destroy()
    lines = out.split("\n")
    assert status == 0 and lines[0] == "hi" and lines[1] == "runc"
    assert int(lines[2].split()[1], 16) == (1 << 29) | (1 << 5) | (1 << 10)  # AUDIT_WRITE, KILL, NET_BIND
    assert lines[3] == "1024"


@needs_runc
@pytest.mark.parametrize("mutate, field", [
    (lambda s: s["process"].__setitem__("args", "sh"), "process.args"),
    (lambda s: s["process"].__delitem__("args"), "process.args"),
    (lambda s: s.__delitem__("process"), "process"),
    (lambda s: s["process"]["user"].__setitem__("uid", "0"), "process.user.uid"),
    (lambda s: s["process"]["rlimits"][0].__setitem__("soft", "many"), "process.rlimits[0].soft"),
    (lambda s: s["process"]["capabilities"]["bounding"].append("CAP_FLY"), "capabilities.bounding"),
    (lambda s: s["linux"]["namespaces"][1].__setitem__("type", "bogus"), "linux.namespaces[1].type"),
    (lambda s: s["linux"].__setitem__("resources", {"memory": {"limit": "1G"}}), "linux.resources.memory.limit"),
    (lambda s: s["linux"].__setitem__("uidMappings", [{"containerID": 0, "hostID": 1}]), "linux.uidMappings[0].size"),
    (lambda s: s["linux"].__setitem__("seccomp", {"defaultAction": "SCMP_ACT_NOPE"}), "seccomp.default_action"),
    (lambda s: s["linux"].__setitem__("maskedPaths", "/proc/kcore"), "linux.maskedPaths"),
    (lambda s: s["root"].__setitem__("readonly", "yes"), "root.readonly"),
    (lambda s: s["mounts"][0].__delitem__("destination"), "mounts[0].destination"),
    (lambda s: s["process"].__setitem__("terminal", True), "process.terminal"),
])
def test_bad_field_is_config_invalid_naming_it(bundle, mutate, field):
    bundle_dir, spec = bundle
    spec["process"]["terminal"] = False
    mutate(spec)
    _write(bundle_dir, spec)
    with pytest.raises(ConfigInvalid) as info:
        Config.from_oci(str(bundle_dir))
    assert field in str(info.value)


def test_missing_or_broken_config_json(tmp_path):
    with pytest.raises(ConfigInvalid, match="config.json"):
        Config.from_oci(str(tmp_path))
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigInvalid, match="config.json"):
        Config.from_oci(str(tmp_path))


@needs_runc
def test_seccomp_and_namespace_paths_and_devices(bundle):
    bundle_dir, spec = bundle
    spec["process"]["terminal"] = False
    spec["linux"]["namespaces"].append({"type": "cgroup"})
    spec["linux"]["namespaces"][1]["path"] = "/proc/self/ns/net"
    spec["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438}]
    spec["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        {"names": ["clone"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 268435456, "valueTwo": 268435456, "op": "SCMP_CMP_MASKED_EQ"}]}]}
    _write(bundle_dir, spec)
    cfg = Config.from_oci(str(bundle_dir))
    assert cfg.namespace_paths == {"net": "/proc/self/ns/net"} and "cgroup" in cfg.namespaces
    assert cfg.devices[0].path == "/dev/fuse" and cfg.devices[0].file_mode == 0o666
    assert cfg.seccomp.syscalls[0].names == ["keyctl"] and cfg.seccomp.syscalls[1].args[0].value == 1 << 28


@needs_runc
def test_resources_and_user(bundle):
    bundle_dir, spec = bundle
    spec["process"]["terminal"] = False
    spec["process"]["user"] = {"uid": 5, "gid": 6, "additionalGids": [7], "umask": 63}
    spec["linux"]["resources"] = {"memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 128 << 20},
                                  "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
                                  "pids": {"limit": 64}}
    spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    spec["linux"]["namespaces"].append({"type": "user"})
    _write(bundle_dir, spec)
    cfg = Config.from_oci(str(bundle_dir))
    p = cfg.process
    assert (p.uid, p.gid, p.additional_gids, p.umask) == (5, 6, [7], 0o77)
    r = cfg.resources
    assert (r.memory, r.memory_reservation, r.memory_swap) == (64 << 20, 32 << 20, 128 << 20)
    assert (r.cpu_shares, r.cpu_quota, r.cpu_period, r.cpuset_cpus, r.pids_limit) == (512, 50000, 100000, "0", 64)
    assert cfg.uid_mappings[0].host_id == 100000 and "user" in cfg.namespaces


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


@needs_runc
def test_any_mutation_gives_a_config_or_config_invalid(tmp_path_factory):
    """hypothesis replaces one part of runc spec's config.json with arbitrary JSON: from_oci either
    returns a Config or raises ConfigInvalid, never anything else."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    bundle_dir = tmp_path_factory.mktemp("fuzz")
    subprocess.run(["runc", "spec"], cwd=bundle_dir, check=True)
    (bundle_dir / "rootfs").mkdir()
    with open(bundle_dir / "config.json") as f:
        base = json.load(f)
    base["process"]["terminal"] = False
    paths = [p for p in _paths(base) if p]
    json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=8),
                               lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                            max_size=3),
                               max_leaves=6)

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(path=st.sampled_from(paths), value=json_values)
    def check(path, value):
        spec = json.loads(json.dumps(base))
        node = spec
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        try:
            cfg = config_from_dict(spec, str(bundle_dir))
        except ConfigInvalid as e:
            assert str(e).split(":")[0], e
        else:
            assert isinstance(cfg, Config)
    check()
