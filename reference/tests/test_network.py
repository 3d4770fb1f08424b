"""The net namespace: loopback up; on request a veth pair to the host made with pyroute2.

The veth test never touches this machine's own network: it runs the
factory in a child process that first moves into a net namespace of its own
(unshare(CLONE_NEWNET)), which plays "the host"; addresses are from
TEST-NET-1 (192.0.2.0/24, RFC 5737) and exist only there.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from libcontainer.spec import ConfigInvalid, Network
from libcontainer.spec.tests.helpers import run_init


def test_loopback_is_up(factory, config):
    c, out, status = run_init(factory, "lo", config, "ip -o link show lo; ping -c 1 -W 2 127.0.0.1 >/dev/null && echo ping-ok")
    c.destroy()
    assert status == 0
    assert "UP" in out.split("\n")[0].split("<")[1].split(">")[0].split(",")
    assert out.strip().endswith("ping-ok")


def test_only_loopback_without_network(factory, config):
    c, out, _ = run_init(factory, "lo2", config, "ls /sys/class/net")
    c.destroy()
    assert out.split() == ["lo"]


_VETH = r"""
import dataclasses, json, os, sys
from libcontainer.plumbing import linux
from libcontainer.reference import LinuxFactory
from libcontainer.spec import Config, IDMap, Network, Process
from libcontainer.spec.tests.helpers import exec_probe
linux.unshare(linux.CLONE_NEWNET)  # this process's own "host" network
linux.loopback_up()
from pyroute2 import IPRoute
root, rootfs, parent, userns = sys.argv[1:5]
net = Network(host_ifname="lcveth0", ifname="eth0", address="192.0.2.2/24", host_address="192.0.2.1/24",
              gateway="192.0.2.1", mtu=1400)
cfg = Config(rootfs=rootfs, cgroup_parent=parent, process=Process(args=["sleep", "60"]), network=net)
if userns == "userns":
    cfg.namespaces.append("user")
    cfg.uid_mappings = [IDMap(0, 100000, 65536)]
    cfg.gid_mappings = [IDMap(0, 100000, 65536)]
f = LinuxFactory(root)
c = f.create("veth", cfg)
_pid, out, status = exec_probe(c,
    "ip -o addr show eth0; ip route; cat /sys/class/net/eth0/mtu; ping -c 1 -W 3 192.0.2.1 >/dev/null && echo ping-ok")
with IPRoute() as ipr:
    host = ipr.link_lookup(ifname="lcveth0")
    host_addrs = [a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=host[0], family=2)] if host else []
c.destroy()
import time
deadline = time.monotonic() + 10  # the kernel tears the namespace (and the pair) down asynchronously
while True:
    with IPRoute() as ipr:
        gone = not ipr.link_lookup(ifname="lcveth0")
    if gone or time.monotonic() > deadline:
        break
    time.sleep(0.05)
print(json.dumps({"out": out, "status": status, "host_addrs": host_addrs, "gone_after_destroy": gone}))
"""


@pytest.mark.parametrize("userns", ["", "userns"])
def test_veth_pair_with_addresses(factory, factory_root, rootfs, cgroup_parent, userns):
    pytest.importorskip("pyroute2")
    proc = subprocess.run([sys.executable, "-c", _VETH, factory_root, rootfs, cgroup_parent, userns],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    out = res["out"]
    assert res["status"] == 0, out
    assert "inet 192.0.2.2/24" in out
    assert "default via 192.0.2.1 dev eth0" in out
    assert "\n1400\n" in out
    assert out.strip().endswith("ping-ok")
    assert res["host_addrs"] == ["192.0.2.1"]
    assert res["gone_after_destroy"]


def test_network_needs_a_new_net_namespace(factory, config):
    cfg = dataclasses.replace(config, namespaces=["mnt", "pid"], hostname=None,
                              network=Network(host_ifname="lcx0"))
    with pytest.raises(ConfigInvalid, match="network"):
        factory.create("x", cfg)


def test_network_bad_address_is_config_invalid(factory, config):
    cfg = dataclasses.replace(config, network=Network(host_ifname="lcx0", address="192.0.2.300/24"))
    with pytest.raises(ConfigInvalid, match="network.address"):
        factory.create("x", cfg)


_FAILED_VETH = r"""
import json, os, sys
from libcontainer.plumbing import linux
from libcontainer.reference import LinuxFactory
from libcontainer.spec import Config, IDMap, LibcontainerError, Network, Process
linux.unshare(linux.CLONE_NEWNET)  # this process's own "host" network, as in _VETH
linux.loopback_up()
root, rootfs, parent, userns, host_id = sys.argv[1:6]
host_id = int(host_id)
# the host end's name is taken ("lo" exists in every net namespace): the veth cannot be made (EEXIST)
cfg = Config(rootfs=rootfs, cgroup_parent=parent, process=Process(args=["sleep", "60"]),
             network=Network(host_ifname="lo", address="192.0.2.2/24", host_address="192.0.2.1/24"))
if userns == "userns":
    cfg.namespaces.append("user")
    cfg.uid_mappings = [IDMap(0, host_id, 1000)]
    cfg.gid_mappings = [IDMap(0, host_id, 1000)]
try:
    LinuxFactory(root).create("veth-fails", cfg)
    raised = None
except LibcontainerError as e:
    raised = [type(e).__name__, str(e)]


def uid_of(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Uid:"))
    except (OSError, StopIteration):
        return None


left = [int(p) for p in os.listdir("/proc") if p.isdigit() and uid_of(p) == host_id]
print(json.dumps({"raised": raised, "left": left, "root": os.listdir(root)}))
"""


@pytest.mark.parametrize("userns", ["", "userns"])
def test_failed_veth_leaves_no_init(factory_root, rootfs, cgroup_parent, userns):
    """The host end cannot be made (its name, ``lo``, is taken): create raises SystemFailure, and the init,
    forked before the network set-up, is gone (reaped by the supervisor) when create returns, with or
    without a user namespace (the userns path let the set-up's exception escape with the init unreaped)."""
    pytest.importorskip("pyroute2")
    host_id = 3_000_000_000 + os.getpid() % 100_000 * 1000  # a uid no other test's container runs as
    proc = subprocess.run([sys.executable, "-c", _FAILED_VETH, factory_root, rootfs, cgroup_parent, userns,
                           str(host_id)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["raised"] and res["raised"][0] == "SystemFailure", res
    assert res["left"] == [], f"processes of the failed container (host uid {host_id}) outlived create: {res}"
    assert res["root"] == [], res
