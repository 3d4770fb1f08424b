"""Config -> OCI config.json -> Config is the identity (hypothesis), within what OCI 1.0.2 carries.

What does not cross (``network``, ``cgroup_parent``, ``console_socket``, ``cpu_weight``,
``resources.devices``, capabilities None, a mount with an empty source) is listed in
:mod:`libcontainer.spec.oci`; the strategies below leave those at their defaults. No root needed.
"""

from __future__ import annotations

import dataclasses
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libcontainer.spec import (Capabilities, Config, ConfigInvalid, Device, HugepageLimit, IDMap, Mount, Process,
                               Resources, Seccomp, SeccompArg, SyscallRule, ThrottleDevice, validate)
from libcontainer.spec.oci import config_from_dict, config_json
from libcontainer.spec.security import CAPABILITIES, SECCOMP_ACTIONS, SECCOMP_OPS
from libcontainer.spec.validation import RLIMITS

# validate() needs rootfs to be an existing directory other than /; nothing is written to it
ROOTFS = os.path.dirname(os.path.abspath(__file__))
ID = st.integers(0, 2**32 - 2)
WORD = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=8)
PATH = st.lists(WORD, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
SYSCTLS = {"net": ["net.ipv4.ip_forward", "net.core.somaxconn"], "ipc": ["kernel.shmmax", "fs.mqueue.msg_max"],
           "uts": ["kernel.domainname"]}


def _rlimit(draw) -> tuple[int, int]:
    hard = draw(st.one_of(st.just(-1), st.integers(0, 2**62)))
    soft = draw(st.one_of(st.just(-1), st.integers(0, 2**62))) if hard == -1 else draw(st.integers(0, hard))
    return soft, hard


@st.composite
def processes(draw) -> Process:
    caps = {name: draw(st.lists(st.sampled_from(CAPABILITIES), max_size=4, unique=True))
            for name in Capabilities.SETS}
    return Process(args=draw(st.lists(st.text(min_size=1, max_size=10).filter(lambda a: "\0" not in a),
                                      min_size=1, max_size=3)),
                   env=draw(st.lists(st.builds("{}={}".format, WORD, WORD), max_size=3)),
                   cwd=draw(PATH), uid=draw(ID), gid=draw(ID), additional_gids=draw(st.lists(ID, max_size=3)),
                   no_new_privileges=draw(st.booleans()),
                   rlimits={k: _rlimit(draw) for k in draw(st.lists(st.sampled_from(RLIMITS), max_size=3,
                                                                    unique=True))},
                   capabilities=Capabilities(**caps), umask=draw(st.integers(0, 0o777)))


@st.composite
def resources(draw) -> Resources:
    maybe = lambda strategy: draw(st.none() | strategy)  # noqa: E731
    memory = maybe(st.integers(4 << 20, 1 << 40))
    throttle = st.lists(st.builds(ThrottleDevice, st.integers(0, 255), st.integers(0, 255), st.integers(0, 2**40)),
                        max_size=2)
    return Resources(memory=memory, memory_reservation=maybe(st.integers(1, 1 << 40)),
                     memory_swap=None if memory is None else maybe(st.integers(memory, 1 << 41)),
                     cpu_shares=maybe(st.integers(2, 262144)), cpu_period=maybe(st.integers(1000, 1000000)),
                     cpu_quota=maybe(st.just(-1) | st.integers(1000, 10**9)),
                     cpuset_cpus=maybe(st.sampled_from(["0", "0-1", "0,2-3"])), cpuset_mems=maybe(st.just("0")),
                     pids_limit=maybe(st.integers(-1, 10**6)), blkio_weight=maybe(st.integers(10, 1000)),
                     **{name: draw(throttle) for name in Resources.THROTTLES},
                     hugetlb_limits=draw(st.lists(st.builds(HugepageLimit, st.sampled_from(["2MB", "1GB"]),
                                                            st.integers(0, 2**40)), max_size=2)))


@st.composite
def seccomps(draw) -> Seccomp:
    arg = st.builds(SeccompArg, st.integers(0, 5), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1),
                    st.sampled_from(SECCOMP_OPS))
    rule = st.builds(SyscallRule, st.lists(WORD, min_size=1, max_size=2), st.sampled_from(SECCOMP_ACTIONS),
                     st.none() | st.integers(0, 4095), st.lists(arg, max_size=2))
    return Seccomp(default_action=draw(st.sampled_from(SECCOMP_ACTIONS)),
                   default_errno_ret=draw(st.none() | st.integers(0, 4095)),
                   architectures=draw(st.lists(st.sampled_from(["SCMP_ARCH_X86", "SCMP_ARCH_X32"]), unique=True)),
                   syscalls=draw(st.lists(rule, max_size=3)))


@st.composite
def configs(draw) -> Config:
    namespaces = ["mnt"] + draw(st.lists(st.sampled_from(["pid", "uts", "ipc", "net", "user", "cgroup"]),
                                         unique=True))
    namespaces = draw(st.permutations(namespaces))
    user = "user" in namespaces
    idmaps = st.builds(lambda host, size: [IDMap(0, min(host, 2**32 - 1 - size), size)], ID, st.integers(1, 65536)) \
        if user else st.just([])  # a range ends at id 2^32-1 at most (LC-HOST-05, user_namespaces(7))
    mounts = st.lists(st.one_of(
        st.builds(Mount, PATH.map(lambda p: "/mnt" + p), st.just("tmpfs"), st.just("tmpfs"),
                  st.lists(st.sampled_from(["ro", "nosuid", "nodev", "mode=755"]), unique=True)),
        st.builds(Mount, PATH.map(lambda p: "/srv" + p), st.just("bind"), st.just(ROOTFS),
                  st.sampled_from([["rbind"], ["bind", "ro"]]))), max_size=3)
    devices = st.lists(st.builds(Device, PATH.map(lambda p: "/dev" + p), st.sampled_from("cubp"),
                                 st.integers(0, 255), st.integers(0, 255), st.integers(0, 0o7777), ID, ID), max_size=2)
    sysctl_keys = [k for ns, keys in SYSCTLS.items() if ns in namespaces for k in keys]
    return Config(rootfs=ROOTFS, process=draw(processes()), namespaces=namespaces,
                  hostname=draw(st.none() | WORD) if "uts" in namespaces else None,
                  resources=draw(resources()), readonly_rootfs=draw(st.booleans()), mounts=draw(mounts),
                  uid_mappings=draw(idmaps), gid_mappings=draw(idmaps),
                  masked_paths=draw(st.lists(PATH, max_size=3)), readonly_paths=draw(st.lists(PATH, max_size=3)),
                  devices=draw(devices), seccomp=draw(st.none() | seccomps()),
                  sysctl={k: draw(WORD) for k in draw(st.lists(st.sampled_from(sysctl_keys), unique=True))}
                  if sysctl_keys else {},
                  rootfs_propagation=draw(st.none() | st.sampled_from(["shared", "slave", "private", "unbindable"])))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_config_to_oci_to_config_is_the_identity(config):
    validate(config)  # the strategies make valid configs only
    data = json.loads(json.dumps(config_json(config, "/libcontainer/roundtrip")))  # through JSON text
    assert config_from_dict(data, "/") == config


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_to_dict_is_asdict_without_the_stdio(config):
    """Config.to_dict (its field names cached per class, for create's speed) gives what
    dataclasses.asdict gives (tuples as lists, as JSON has them), the process's stdio fields left out,
    with the fields in the same order."""
    expected = json.loads(json.dumps(dataclasses.asdict(config)))
    for name in Process.STDIO:
        del expected["process"][name]
    got = config.to_dict()
    assert got == expected
    assert list(got) == list(expected) and list(got["process"]) == list(expected["process"])


def test_rlimit_infinity_reads_as_minus_one():
    config = Config(rootfs=ROOTFS, process=Process(args=["true"], rlimits={"RLIMIT_NOFILE": (-1, -1)}))
    data = config_json(config, "/x")
    assert data["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 2**64 - 1, "hard": 2**64 - 1}]
    assert config_from_dict(data, "/").process.rlimits == {"RLIMIT_NOFILE": (-1, -1)}


def test_a_bad_field_is_named_as_config_json_spells_it():
    data = config_json(Config(rootfs=ROOTFS, process=Process(args=["true"])), "/x")
    data["linux"]["resources"]["blockIO"] = {"throttleReadBpsDevice": [{"major": 8, "minor": "0", "rate": 1}]}
    with pytest.raises(ConfigInvalid, match=r"linux\.resources\.blockIO\.throttleReadBpsDevice\[0\]\.minor"):
        config_from_dict(data, "/")
