"""Interface counters of a process's network namespace, from ``/proc/<pid>/net/dev`` (proc(5))."""

from __future__ import annotations

from libcontainer.spec import NetworkInterfaceStats


def parse(text: str) -> list[NetworkInterfaceStats]:
    """The interfaces in a ``net/dev`` text: receive columns 0-3 and transmit columns 8-11."""
    out = []
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        v = [int(x) for x in rest.split()]
        out.append(NetworkInterfaceStats(name.strip(), rx_bytes=v[0], rx_packets=v[1], rx_errors=v[2],
                                         rx_dropped=v[3], tx_bytes=v[8], tx_packets=v[9], tx_errors=v[10],
                                         tx_dropped=v[11]))
    return out


def interfaces(pid: int) -> list[NetworkInterfaceStats] | None:
    """The counters of ``pid``'s network namespace; None if the process (or its namespace) is gone.

    The caller checks afterwards that ``pid`` is still the same process.
    """
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            return parse(f.read())
    except (FileNotFoundError, ProcessLookupError, PermissionError, OSError):
        return None
