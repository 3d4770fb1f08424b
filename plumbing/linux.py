"""The Linux system calls Python 3.11 lacks, through ctypes: the one module of the project that
binds libc (the reference and the OCI adapter both call these).

Each wrapper raises :class:`OSError` with the call's errno; the public API wraps those in
SystemFailure. Calls without a glibc wrapper go through ``syscall(2)`` with the number for this
machine from :mod:`.syscalls` (NotSupported where the table has none). Sources: unshare(2),
setns(2), mount(2), umount2(2), pivot_root(2), prctl(2), capget(2), close_range(2), renameat2(2),
bpf(2), openat2(2), proc(5). ``pidfd_send_signal(2)`` is the stdlib's
:func:`signal.pidfd_send_signal`.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import os
import select
import signal
import struct

from . import syscalls

try:
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # not glibc: ask ldconfig (slower: it runs a subprocess)
    import ctypes.util
    _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

# clone(2) / unshare(2) flags
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

NAMESPACE_FLAGS = {
    "mnt": CLONE_NEWNS, "uts": CLONE_NEWUTS, "ipc": CLONE_NEWIPC, "user": CLONE_NEWUSER,
    "pid": CLONE_NEWPID, "net": CLONE_NEWNET, "cgroup": CLONE_NEWCGROUP,
}

# mount(2) flags
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_UNBINDABLE = 1 << 17
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_SET_CHILD_SUBREAPER = 36
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

# ioctl_tty(2), ioctl_console; netdevice(7)
TIOCSCTTY = 0x540E
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_LINUX_CAPABILITY_VERSION_3 = 0x20080522
AT_FDCWD = -100


def _syscall(name: str, *args) -> int:
    """syscall(2) by the number of ``name`` on this machine (NotSupported when unknown)."""
    return _libc.syscall(ctypes.c_long(syscalls.number(name)), *args)


def _check(ret: int, what: str) -> int:
    if ret == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def unshare(flags: int) -> None:
    """unshare(2)."""
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    """setns(2): join the namespace that ``fd`` (an open /proc/<pid>/ns/<name>) names."""
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    """mount(2)."""
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def umount2(target: str, flags: int = 0) -> None:
    """umount2(2)."""
    _check(_libc.umount2(target.encode(), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2) (no libc wrapper: a raw syscall)."""
    _check(_syscall("pivot_root", new_root.encode(), put_old.encode()), "pivot_root")


def prctl(option: int, arg2=0, arg3: int = 0) -> int:
    """prctl(2) with up to two arguments (``arg2`` an int, or bytes passed as a pointer: PR_SET_NAME);
    returns the call's result (PR_CAPBSET_READ, PR_GET_NO_NEW_PRIVS answer through it)."""
    arg = ctypes.c_char_p(arg2) if isinstance(arg2, bytes) else ctypes.c_ulong(arg2)
    return _check(_libc.prctl(ctypes.c_int(option), arg, ctypes.c_ulong(arg3), ctypes.c_ulong(0),
                              ctypes.c_ulong(0)), "prctl")


def pidfd_open(pid: int) -> int:
    """os.pidfd_open(pid): a pidfd (an fd, O_CLOEXEC) of process ``pid``. Raises ProcessLookupError when
    the process is gone, which the kernel reports as ESRCH or, for a pid whose process has exited and
    left its thread group while the pid is still allocated (between the reap and the pid's release),
    as EINVAL: pidfd_open(2) (EINVAL "pid is not valid"), kernel/pid.c pidfd_prepare (no PIDTYPE_TGID
    task). Found on 6.12: destroy raced a process being reaped. A pid <= 0 is a caller's error (EINVAL)."""
    try:
        return os.pidfd_open(pid)
    except OSError as e:
        if e.errno == errno.EINVAL and pid > 0:
            raise ProcessLookupError(errno.ESRCH, f"pidfd_open({pid}): the process has exited") from None
        raise


def kill_verified(pid: int, start: int | None, sig: int = signal.SIGKILL, check=None) -> bool:
    """Send ``sig`` to ``pid`` only if it is still the process that started at ``start`` (field 22 of
    /proc/<pid>/stat; None: any) and ``check(pid)`` (when given) is true, checked while a pidfd holds
    the process, so a reused pid is never hit. True if sent, False if the target is gone or another."""
    try:
        pidfd = pidfd_open(pid)
    except ProcessLookupError:
        return False
    try:
        if start is not None and process_start_time(pid) != start:
            return False
        if check is not None and not check(pid):
            return False
        try:
            signal.pidfd_send_signal(pidfd, sig)
        except ProcessLookupError:
            return False
        return True
    finally:
        os.close(pidfd)


PR_SET_NAME = 15


def set_name(name: bytes) -> None:
    """prctl(PR_SET_NAME): this thread's name in /proc/<pid>/comm and ps (at most 15 bytes)."""
    prctl(PR_SET_NAME, name[:15])


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def capget(pid: int = 0) -> tuple[int, int, int]:
    """capget(2): (effective, permitted, inheritable) of ``pid`` (0: this thread) as 64-bit masks."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, pid)
    data = (_CapData * 2)()
    _check(_syscall("capget", ctypes.byref(hdr), data), "capget")
    return tuple(getattr(data[0], f) | (getattr(data[1], f) << 32)
                 for f in ("effective", "permitted", "inheritable"))


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """capset(2) of this thread: the three sets as 64-bit masks (bit N is capability N)."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in (0, 1):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_syscall("capset", ctypes.byref(hdr), data), "capset")


@functools.cache
def cap_last_cap() -> int:
    """The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap), read once
    per process (and inherited by the processes it forks)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return 40


def close_range(first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
    """close_range(2): close (or with CLOSE_RANGE_CLOEXEC=4, mark close-on-exec) fds first..last."""
    _check(_syscall("close_range", ctypes.c_uint(first), ctypes.c_uint(last), ctypes.c_uint(flags)),
           "close_range")


def close_fds_except(keep) -> None:
    """Close every fd of this process but those in ``keep`` (close_range(2) over the gaps)."""
    first = 0
    for fd in sorted(set(keep)):
        if fd > first:
            close_range(first, fd - 1)
        first = fd + 1
    close_range(first)


def set_controlling_tty(fd: int) -> None:
    """ioctl(fd, TIOCSCTTY, 0): make the terminal ``fd`` this session's controlling terminal."""
    fcntl.ioctl(fd, TIOCSCTTY, 0)


def open_pty() -> tuple[int, int]:
    """A new pseudo-terminal from /dev/ptmx of the current mount namespace: (master fd, slave fd),
    both close-on-exec (pts(4), ioctl_tty(2): TIOCSPTLCK to unlock, TIOCGPTN for the number)."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        num = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0" * 4))[0]
        slave = os.open(f"/dev/pts/{num}", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except BaseException:
        os.close(master)
        raise
    return master, slave


def loopback_up() -> None:
    """Bring ``lo`` of the current net namespace up (netdevice(7) SIOCSIFFLAGS; no netlink needed)."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


RENAME_NOREPLACE = 1


def rename_noreplace(src: str, dst: str) -> None:
    """renameat2(2) with RENAME_NOREPLACE: FileExistsError when ``dst`` exists (a plain rename(2)
    would replace an empty directory)."""
    _check(_libc.renameat2(AT_FDCWD, os.fsencode(src), AT_FDCWD, os.fsencode(dst), RENAME_NOREPLACE),
           f"renameat2({src!r}, {dst!r})")


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot), or None if ``pid`` is gone.

    Together with the pid it names a process without the pid-reuse race.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(data[data.rindex(b")") + 2:].split()[19])


def process_state(pid: int) -> str | None:
    """The state letter of /proc/<pid>/stat (R, S, D, Z, ...), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return data[data.rindex(b")") + 2:].split()[0].decode()


def exit_status(wait_status: int) -> int:
    """A waitpid(2) status as a shell exit status: the code, or 128 + signal number."""
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status)


# bpf(2): load a BPF_PROG_TYPE_CGROUP_DEVICE program and attach it to a cgroup v2 directory
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2


def bpf_prog_load(prog_type: int, insns: bytes, license: str = "Apache") -> int:
    """bpf(BPF_PROG_LOAD): load ``insns`` (8-byte struct bpf_insn each); return the program fd.

    On a verifier error the OSError message carries the verifier's log.
    """
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(license.encode())
    log = ctypes.create_string_buffer(65536)
    attr = ctypes.create_string_buffer(128)  # union bpf_attr, zero-padded
    struct.pack_into("<IIQQIIQ", attr, 0, prog_type, len(insns) // 8, ctypes.addressof(code),
                     ctypes.addressof(lic), 1, len(log), ctypes.addressof(log))
    ret = _syscall("bpf", ctypes.c_int(BPF_PROG_LOAD), attr, ctypes.c_uint(len(attr)))
    if ret == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf(BPF_PROG_LOAD): {os.strerror(err)}: {log.value.decode(errors='replace')[-500:]}")
    return ret


def bpf_prog_attach(target_fd: int, prog_fd: int, attach_type: int, flags: int = 0) -> None:
    """bpf(BPF_PROG_ATTACH): attach program ``prog_fd`` to ``target_fd`` (a cgroup directory fd)."""
    attr = ctypes.create_string_buffer(struct.pack("<IIIII", target_fd, prog_fd, attach_type, flags, 0), 20)
    _check(_syscall("bpf", ctypes.c_int(BPF_PROG_ATTACH), attr, ctypes.c_uint(20)),
           "bpf(BPF_PROG_ATTACH)")


# openat2(2): resolve a path with the kernel's scoping rules (Linux 5.6+)
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
_openat2_missing = False


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """openat2(2): open ``path`` relative to ``dirfd`` with ``resolve`` flags (RESOLVE_IN_ROOT: every
    absolute symlink and ``..`` is scoped to ``dirfd``, as if it were the root); returns the fd.

    Raises OSError ENOSYS when the kernel lacks the call (before 5.6); EAGAIN when a concurrent rename
    made the kernel give up (the caller retries); ELOOP, ENOENT, EXDEV as openat(2).
    """
    global _openat2_missing
    if _openat2_missing:
        raise OSError(errno.ENOSYS, "openat2: not supported by this kernel")
    how = struct.pack("QQQ", flags, mode, resolve)
    ret = _syscall("openat2", ctypes.c_int(dirfd), path.encode(), how,
                        ctypes.c_size_t(len(how)))
    if ret == -1:
        err = ctypes.get_errno()
        if err == errno.ENOSYS:
            _openat2_missing = True
        raise OSError(err, f"openat2 {path}: {os.strerror(err)}")
    return ret


def has_openat2() -> bool:
    """True unless a call of :func:`openat2` found the kernel without it."""
    return not _openat2_missing


def force_no_openat2(value: bool = True) -> None:
    """Pretend the kernel lacks openat2 (tests of the component-by-component fallback)."""
    global _openat2_missing
    _openat2_missing = value


def wait_readable(fd: int, timeout: float | None) -> bool:
    """True once ``fd`` is readable (a pidfd: its process has exited; a pipe: data or EOF), False
    when ``timeout`` seconds (None: no limit) pass first. Uses poll(2), never select(2), whose
    fd_set holds only descriptors below FD_SETSIZE (1024): a caller with more open files must still
    work (SPEC.md LC-HOST-07; select(2) BUGS; pidfd_open(2) for a pidfd's readability)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    ms = None if timeout is None else max(0, int(timeout * 1000))
    while True:
        try:
            return bool(poller.poll(ms))
        except InterruptedError:  # pragma: no cover - PEP 475 retries poll; kept for clarity
            continue
