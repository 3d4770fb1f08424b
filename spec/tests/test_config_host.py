"""Config semantics, host identity and kernel parameters: hostname and sysctl (SPEC.md LC-CFG-HOST-*)."""

from __future__ import annotations

import dataclasses
import os

import pytest

from libcontainer.spec import ConfigInvalid, ContainerDestroyed

from .helpers import run_init


def host_value(key: str) -> str:
    with open("/proc/sys/" + key.replace(".", "/")) as f:
        return f.read().strip()


@pytest.mark.clause("LC-CFG-HOST-01")
@pytest.mark.parametrize("hostname", ["lc-host-01", None])
def test_hostname(factory, config, hostname):
    before = os.uname().nodename
    c, out, status = run_init(factory, "hostname", dataclasses.replace(config, hostname=hostname),
                              "hostname; cat /proc/sys/kernel/hostname")
    try:
        assert status == 0, out
        want = hostname if hostname is not None else before
        assert out.split() == [want, want], f"hostname {hostname!r}: the container sees {out.split()}"
        assert os.uname().nodename == before, "the host's hostname is unchanged"
    finally:
        c.destroy()


SYSCTLS = {"net.ipv4.ip_forward": "1", "net.ipv4.ping_group_range": "0 1000", "kernel.shmmni": "1234",
           "kernel.msgmax": "4321", "fs.mqueue.queues_max": "77", "kernel.domainname": "lc-domain"}


@pytest.mark.clause("LC-CFG-HOST-02")
def test_sysctl_values_are_set_in_the_containers_namespaces(factory, config):
    before = {k: host_value(k) for k in SYSCTLS}
    script = "; ".join(f"echo \"$(cat /proc/sys/{k.replace('.', '/')})\"" for k in SYSCTLS)
    c, out, status = run_init(factory, "sysctl", dataclasses.replace(config, sysctl=dict(SYSCTLS)), script)
    try:
        assert status == 0, out
        got = [" ".join(v.split()) for v in out.strip().split("\n")]
        assert got == list(SYSCTLS.values()), f"the container reads {dict(zip(SYSCTLS, got))}"
        assert {k: host_value(k) for k in SYSCTLS} == before, "the host's values are unchanged"
    finally:
        c.destroy()


@pytest.mark.clause("LC-CFG-HOST-03")
@pytest.mark.parametrize("namespaces,sysctl", [
    (None, {"kernel.pid_max": "4096"}),            # not namespaced: would change the host
    (None, {"vm.overcommit_memory": "1"}),
    (["mnt", "pid", "uts", "ipc"], {"net.ipv4.ip_forward": "1"}),   # no net namespace of its own
    (["mnt", "pid", "uts", "net"], {"kernel.shmmax": "1"}),        # no ipc namespace of its own
    (None, {"net ipv4": "1"}),
    (None, {"net.ipv4.ip_forward": 1}),
], ids=["pid_max", "vm", "net-without-netns", "shm-without-ipcns", "bad-key", "not-a-str"])
def test_sysctl_outside_the_containers_namespaces_is_refused(factory, config, namespaces, sysctl):
    before = {k: host_value(k) for k in sysctl if os.path.exists("/proc/sys/" + k.replace(".", "/"))}
    cfg = dataclasses.replace(config, sysctl=sysctl)
    if namespaces is not None:
        cfg = dataclasses.replace(cfg, namespaces=namespaces)
    with pytest.raises(ConfigInvalid, match="sysctl"):
        factory.create("sysctl-bad", cfg)
    with pytest.raises(ContainerDestroyed):
        factory.load("sysctl-bad")
    assert {k: host_value(k) for k in before} == before
