"""The container's root filesystem: mounts, device nodes and pivot_root.

Runs in the container's init, after unshare(CLONE_NEWNS), before exec.
Follows runc's libcontainer/rootfs_linux.go in order and defaults; see
mount(2), pivot_root(2), and the OCI runtime spec's "Default Filesystems"
and "Default Devices".
"""

from __future__ import annotations

import os
import stat

from libcontainer.spec import Config, Mount

from . import linux as L

DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
             ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"), ("core", "/proc/kcore"))

_FLAGS = {
    "ro": L.MS_RDONLY, "nosuid": L.MS_NOSUID, "nodev": L.MS_NODEV, "noexec": L.MS_NOEXEC,
    "bind": L.MS_BIND, "rbind": L.MS_BIND | L.MS_REC, "strictatime": L.MS_STRICTATIME,
}
_IGNORED = {"rw", "suid", "dev", "exec", "private", "rprivate"}


def _mkdirs(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


def _mount_under(rootfs: str, dest: str, fstype: str, flags: int, data: str | None = None) -> None:
    target = os.path.join(rootfs, dest.lstrip("/"))
    _mkdirs(target)
    L.mount(fstype, target, fstype, flags, data)


def mount_config(rootfs: str, m: Mount) -> None:
    """Make one config mount under ``rootfs`` (bind mounts remounted ro when asked)."""
    flags, data = 0, []
    for opt in m.options:
        if opt in _FLAGS:
            flags |= _FLAGS[opt]
        elif opt not in _IGNORED:
            data.append(opt)
    target = os.path.join(rootfs, m.destination.lstrip("/"))
    bind = m.type == "bind" or flags & L.MS_BIND
    if bind and not os.path.isdir(m.source):
        _mkdirs(os.path.dirname(target))
        if not os.path.exists(target):
            open(target, "a").close()
    else:
        _mkdirs(target)
    if bind:
        L.mount(m.source, target, None, L.MS_BIND | (flags & L.MS_REC))
        if flags & ~(L.MS_BIND | L.MS_REC):
            L.mount(None, target, None, L.MS_BIND | L.MS_REMOUNT | (flags & ~L.MS_REC))
    else:
        L.mount(m.source or m.type, target, m.type, flags, ",".join(data) or None)


def make_dev(rootfs: str) -> None:
    """A tmpfs /dev with the standard nodes, devpts, /dev/shm and /dev/mqueue."""
    dev = os.path.join(rootfs, "dev")
    _mkdirs(dev)
    L.mount("tmpfs", dev, "tmpfs", L.MS_NOSUID | L.MS_STRICTATIME, "mode=755,size=65536k")
    old = os.umask(0)
    try:
        for name, major, minor in DEVICES:
            os.mknod(os.path.join(dev, name), stat.S_IFCHR | 0o666, os.makedev(major, minor))
    finally:
        os.umask(old)
    for name, target in DEV_LINKS:
        os.symlink(target, os.path.join(dev, name))
    _mount_under(rootfs, "/dev/pts", "devpts", L.MS_NOSUID | L.MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=0620")
    _mount_under(rootfs, "/dev/shm", "tmpfs", L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC, "mode=1777,size=65536k")
    try:
        _mount_under(rootfs, "/dev/mqueue", "mqueue", L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC)
    except OSError:
        pass  # no ipc namespace of its own: mqueue may not be mountable


def pivot(rootfs: str) -> None:
    """pivot_root into ``rootfs`` and detach the old root (runc's pivot_root(".", ".") way)."""
    old = os.open("/", os.O_DIRECTORY | os.O_RDONLY)
    new = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY)
    try:
        os.fchdir(new)
        L.pivot_root(".", ".")
        os.fchdir(old)
        # keep unmount events of the old root from propagating anywhere
        L.mount(None, ".", None, L.MS_SLAVE | L.MS_REC)
        L.umount2(".", L.MNT_DETACH)
    finally:
        os.close(old)
        os.close(new)
    os.chdir("/")


def setup(config: Config) -> None:
    """Build the container's filesystem view and pivot_root into it."""
    rootfs = os.path.realpath(config.rootfs)
    L.mount(None, "/", None, L.MS_REC | L.MS_PRIVATE)
    L.mount(rootfs, rootfs, None, L.MS_BIND | L.MS_REC)
    _mount_under(rootfs, "/proc", "proc", L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC)
    try:
        _mount_under(rootfs, "/sys", "sysfs", L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC | L.MS_RDONLY)
    except OSError:
        # sysfs cannot be mounted without a net namespace of our own: a read-only bind instead
        sys_dir = os.path.join(rootfs, "sys")
        L.mount("/sys", sys_dir, None, L.MS_BIND | L.MS_REC)
        L.mount(None, sys_dir, None, L.MS_BIND | L.MS_REMOUNT | L.MS_RDONLY)
    make_dev(rootfs)
    for m in config.mounts:
        mount_config(rootfs, m)
    pivot(rootfs)
    if config.readonly_rootfs:
        L.mount(None, "/", None, L.MS_BIND | L.MS_REMOUNT | L.MS_RDONLY)
