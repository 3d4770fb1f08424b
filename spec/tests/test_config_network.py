"""Config semantics, the network: a ``Network`` gives the container a veth pair to the host
(SPEC.md LC-CFG-NET-*). The container's side is read inside it (sysfs, busybox ip), the host's with
pyroute2 (rtnetlink(7)); traffic goes only between the two ends of the pair."""

from __future__ import annotations

import dataclasses
import os

import pytest

from libcontainer.spec import Network

from .helpers import eventually, exec_probe


def host_link(name: str):
    """(mtu, [ipv4/prefix]) of the host's interface ``name``, or None if it does not exist."""
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=name)
        if not idx:
            return None
        link = ipr.get_links(idx[0])[0]
        addrs = [f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}" for a in ipr.get_addr(index=idx[0], family=2)]
        return link.get_attr("IFLA_MTU"), addrs


@pytest.mark.clause("LC-CFG-NET-01")
def test_veth_pair_with_addresses_mtu_and_route(factory, config):
    pytest.importorskip("pyroute2")
    n = os.getpid() % 250 + 1
    host_ifname = f"lcnet{os.getpid() % 1000000}"
    net = Network(host_ifname=host_ifname, ifname="lc0", address=f"10.213.{n}.2/24",
                  host_address=f"10.213.{n}.1/24", gateway=f"10.213.{n}.1", mtu=1400)
    script = ("cat /sys/class/net/lc0/mtu; ip -4 -o addr show dev lc0; ip route show default; "
              f"ping -c 1 -W 5 10.213.{n}.1 >/dev/null && echo ping-ok")
    c = factory.create("veth", dataclasses.replace(config, network=net))
    try:
        _pid, out, status = exec_probe(c, script + " 2>&1")
        assert status == 0, out
        lines = out.strip().split("\n")
        assert lines[0] == "1400", f"mtu: {out!r}"
        assert f"inet 10.213.{n}.2/24" in lines[1], f"the container's address: {out!r}"
        assert f"default via 10.213.{n}.1" in out, f"the gateway is the default route: {out!r}"
        assert "ping-ok" in out, f"the host end answers: {out!r}"
        assert host_link(host_ifname) == (1400, [f"10.213.{n}.1/24"]), host_link(host_ifname)
    finally:
        c.destroy()
    assert eventually(lambda: host_link(host_ifname) is None), "the host end goes with the container"
