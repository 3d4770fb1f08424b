"""The container's root filesystem: mounts, device nodes and pivot_root.

Runs in the container's init, after unshare(CLONE_NEWNS), before exec.
Follows runc's libcontainer/rootfs_linux.go in order and defaults; see
mount(2), pivot_root(2), and the OCI runtime spec's "Default Filesystems"
and "Default Devices".
"""

from __future__ import annotations

import os
import stat

from libcontainer.spec import Config, Device, Mount

from . import linux as L

DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
             ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"), ("core", "/proc/kcore"))

_FLAGS = {
    "ro": L.MS_RDONLY, "nosuid": L.MS_NOSUID, "nodev": L.MS_NODEV, "noexec": L.MS_NOEXEC,
    "bind": L.MS_BIND, "rbind": L.MS_BIND | L.MS_REC, "strictatime": L.MS_STRICTATIME,
}
_IGNORED = {"rw", "suid", "dev", "exec", "private", "rprivate"}
# statvfs(3) f_flag bits -> mount(2) flags that a bind remount must repeat (a user namespace locks them)
_LOCKED = ((os.ST_NOSUID, L.MS_NOSUID), (os.ST_NODEV, L.MS_NODEV), (os.ST_NOEXEC, L.MS_NOEXEC),
           (os.ST_NOATIME, 1024), (os.ST_NODIRATIME, 2048), (os.ST_RELATIME, 1 << 21))
#: Config.rootfs_propagation -> mount(2) propagation flag for the container's / (mount_namespaces(7))
PROPAGATION = {"shared": L.MS_SHARED, "slave": L.MS_SLAVE, "private": L.MS_PRIVATE, "unbindable": L.MS_UNBINDABLE}
_NODE_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def remount(path: str, flags: int) -> None:
    """Bind-remount ``path`` adding ``flags`` (e.g. MS_RDONLY), keeping the flags it has."""
    have = os.statvfs(path).f_flag
    keep = 0
    for st_flag, ms_flag in _LOCKED:
        if have & st_flag:
            keep |= ms_flag
    L.mount(None, path, None, L.MS_BIND | L.MS_REMOUNT | keep | flags)


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
            remount(target, flags & ~(L.MS_BIND | L.MS_REC))
    else:
        L.mount(m.source or m.type, target, m.type, flags, ",".join(data) or None)


def make_node(rootfs: str, device: Device, bind: bool) -> None:
    """Make ``device`` under ``rootfs`` (mknod(2), chown), or with ``bind`` (in a user namespace,
    where mknod is not allowed) bind-mount the host's node of the same path over an empty file."""
    target = os.path.join(rootfs, device.path.lstrip("/"))
    _mkdirs(os.path.dirname(target))
    if bind:
        if not os.path.exists(target):
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
        L.mount(device.path, target, None, L.MS_BIND)
        return
    if os.path.lexists(target):
        os.unlink(target)
    os.mknod(target, _NODE_TYPES[device.type] | device.file_mode, os.makedev(device.major, device.minor))
    os.chmod(target, device.file_mode)
    if device.uid or device.gid:
        os.chown(target, device.uid, device.gid)


def make_dev(rootfs: str, devices: list[Device] = (), userns: bool = False) -> None:
    """A tmpfs /dev with the standard nodes and ``devices``, devpts, /dev/shm and /dev/mqueue."""
    dev = os.path.join(rootfs, "dev")
    _mkdirs(dev)
    L.mount("tmpfs", dev, "tmpfs", L.MS_NOSUID | L.MS_STRICTATIME, "mode=755,size=65536k")
    old = os.umask(0)
    try:
        for name, major, minor in DEVICES:
            make_node(rootfs, Device(path=f"/dev/{name}", type="c", major=major, minor=minor), userns)
        for device in devices:
            make_node(rootfs, device, userns)
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


def mask_path(path: str) -> None:
    """Make ``path`` unreadable: /dev/null bound over a file, an empty read-only tmpfs over a
    directory (runc's maskPath). A path that does not exist is left alone."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            L.mount("tmpfs", path, "tmpfs", L.MS_RDONLY)
        else:
            L.mount("/dev/null", path, None, L.MS_BIND)
    except FileNotFoundError:
        pass


def readonly_path(path: str) -> None:
    """Bind ``path`` onto itself and remount it read-only (runc's readonlyPath); absent: left alone."""
    try:
        L.mount(path, path, None, L.MS_BIND | L.MS_REC)
    except FileNotFoundError:
        return
    remount(path, L.MS_RDONLY | L.MS_REC)


def setup(config: Config) -> None:
    """Build the container's filesystem view and pivot_root into it; then read-only paths,
    masked paths and, when asked, the read-only root (all after pivot_root, as runc does)."""
    rootfs = os.path.realpath(config.rootfs)
    prop = config.rootfs_propagation
    # shared and slave keep receiving the host's mounts: start from a slave copy (never sending any back)
    L.mount(None, "/", None, L.MS_REC | (L.MS_SLAVE if prop in ("shared", "slave") else L.MS_PRIVATE))
    L.mount(rootfs, rootfs, None, L.MS_BIND | L.MS_REC)
    _mount_under(rootfs, "/proc", "proc", L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC)
    try:
        _mount_under(rootfs, "/sys", "sysfs", L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC | L.MS_RDONLY)
    except OSError:
        # sysfs cannot be mounted without a net namespace of our own: a read-only bind instead
        sys_dir = os.path.join(rootfs, "sys")
        L.mount("/sys", sys_dir, None, L.MS_BIND | L.MS_REC)
        remount(sys_dir, L.MS_RDONLY)
    make_dev(rootfs, config.devices, userns="user" in config.namespaces)
    for m in config.mounts:
        mount_config(rootfs, m)
    pivot(rootfs)
    for path in config.readonly_paths:
        readonly_path(path)
    for path in config.masked_paths:
        mask_path(path)
    if config.readonly_rootfs:
        remount("/", L.MS_RDONLY)
    if prop is not None:
        L.mount(None, "/", None, PROPAGATION[prop])
