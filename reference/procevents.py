"""The kernel's process events (the proc connector, NETLINK_CONNECTOR / CN_IDX_PROC): the exit
status of any process, child or not, as it exits.

The supervisor listens only while it keeps an init it did not fork (adopted after a restart,
:mod:`.kept`), because the kernel gives a process's wait status only to its parent (or a
subreaper): without these events an adopted init's status would be lost. Root (CAP_NET_ADMIN)
in the initial network namespace is needed; elsewhere :func:`open_events` returns None and such
statuses stay unknown. Sources: linux/connector.h, linux/cn_proc.h (``struct proc_event``,
``PROC_EVENT_EXIT``), drivers/connector/cn_proc.c.
"""

from __future__ import annotations

import os
import socket
import struct

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
PROC_EVENT_EXIT = 0x80000000
NLMSG_DONE = 3
_NLMSGHDR = struct.Struct("=IHHII")       # len, type, flags, seq, pid
_CN_MSG = struct.Struct("=IIIIHH")        # idx, val, seq, ack, len, flags
_EVENT = struct.Struct("=IIQ")            # what, cpu, timestamp_ns
_EXIT = struct.Struct("=IIII")            # process_pid, process_tgid, exit_code (wait status), exit_signal


def open_events() -> socket.socket | None:
    """A non-blocking socket subscribed to process events, or None when the kernel refuses."""
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK,
                             NETLINK_CONNECTOR)
    except OSError:
        return None
    try:
        sock.bind((0, CN_IDX_PROC))
        op = struct.pack("=I", PROC_CN_MCAST_LISTEN)
        body = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(op), 0) + op
        sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), NLMSG_DONE, 0, 0, os.getpid()) + body)
    except OSError:
        sock.close()
        return None
    return sock


def read_exits(sock: socket.socket) -> dict[int, int]:
    """Every exit event queued on ``sock``: {tgid: wait status} of thread-group leaders that exited."""
    found: dict[int, int] = {}
    offset = _NLMSGHDR.size + _CN_MSG.size
    while True:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return found
        except OSError:  # ENOBUFS: events were dropped; those statuses stay unknown
            continue
        while len(data) >= offset + _EVENT.size:
            length = _NLMSGHDR.unpack_from(data)[0]
            what = _EVENT.unpack_from(data, offset)[0]
            if what == PROC_EVENT_EXIT and len(data) >= offset + _EVENT.size + _EXIT.size:
                pid, tgid, status, _sig = _EXIT.unpack_from(data, offset + _EVENT.size)
                if pid == tgid:
                    found[tgid] = status
            if length <= 0:
                break
            data = data[(length + 3) & ~3:]
