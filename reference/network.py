"""A veth pair between the host and a container's net namespace, through pyroute2 (rtnetlink(7)).

The monitor calls :func:`setup_host` (in the host's net namespace) once the
container's init has its net namespace: it makes the pair, moves the
container end into the init's namespace (IFLA_NET_NS_FD of
/proc/<pid>/ns/net), gives the host end its address and brings it up. The
init then calls :func:`setup_container` in its own namespace: address,
MTU, up, default route. Loopback is brought up without pyroute2
(:func:`libcontainer.plumbing.linux.loopback_up`), so containers that
want no veth never import it. The pair goes away with the namespace.
"""

from __future__ import annotations

import errno
import os

from libcontainer.spec import Network


def _iface(value: str) -> tuple[str, int]:
    address, prefix = value.split("/")
    return address, int(prefix)


def setup_host(net: Network, init_pid: int) -> None:
    """Make the pair ``net.host_ifname`` (host) / ``net.ifname`` (in ``init_pid``'s net namespace)."""
    from pyroute2 import IPRoute
    nsfd = os.open(f"/proc/{init_pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        with IPRoute() as ipr:
            # made under a temporary name on the host side, so the container's name cannot clash there
            tmp = f"lcp{init_pid}"[:15]
            ipr.link("add", ifname=net.host_ifname, kind="veth", peer={"ifname": tmp})
            try:
                peer = ipr.link_lookup(ifname=tmp)[0]
                ipr.link("set", index=peer, net_ns_fd=nsfd)
                host = ipr.link_lookup(ifname=net.host_ifname)[0]
                if net.mtu:
                    ipr.link("set", index=host, mtu=net.mtu)
                if net.host_address:
                    address, prefix = _iface(net.host_address)
                    ipr.addr("add", index=host, address=address, prefixlen=prefix)
                ipr.link("set", index=host, state="up")
            except BaseException:
                ipr.link("del", ifname=net.host_ifname)
                raise
    finally:
        os.close(nsfd)


def setup_container(net: Network) -> None:
    """In the container's net namespace: rename the moved end to ``net.ifname``, address, up, route."""
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        links = [link for link in ipr.get_links() if link.get_attr("IFLA_IFNAME") != "lo"]
        if len(links) != 1:
            raise OSError(errno.ENOENT, f"expected one veth end in the container, found {len(links)}")
        index = links[0]["index"]
        ipr.link("set", index=index, ifname=net.ifname)
        if net.mtu:
            ipr.link("set", index=index, mtu=net.mtu)
        if net.address:
            address, prefix = _iface(net.address)
            ipr.addr("add", index=index, address=address, prefixlen=prefix)
        ipr.link("set", index=index, state="up")
        if net.gateway:
            ipr.route("add", dst="default", gateway=net.gateway)
