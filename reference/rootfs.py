"""The container's root filesystem: mounts, device nodes and pivot_root.

Runs in the container's init, after unshare(CLONE_NEWNS), before exec.
Follows runc's libcontainer/rootfs_linux.go in order and defaults; see
mount(2), pivot_root(2), and the OCI runtime spec's "Default Filesystems"
and "Default Devices".
"""

from __future__ import annotations

import os
import stat

from libcontainer.plumbing import linux
from libcontainer.spec import Config, Device, Mount

from . import inroot

DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
             ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"), ("core", "/proc/kcore"))

_FLAGS = {
    "ro": linux.MS_RDONLY, "nosuid": linux.MS_NOSUID, "nodev": linux.MS_NODEV, "noexec": linux.MS_NOEXEC,
    "bind": linux.MS_BIND, "rbind": linux.MS_BIND | linux.MS_REC, "strictatime": linux.MS_STRICTATIME,
}
_IGNORED = {"rw", "suid", "dev", "exec", "private", "rprivate"}
# statvfs(3) f_flag bits -> mount(2) flags that a bind remount must repeat (a user namespace locks them)
_LOCKED = ((os.ST_NOSUID, linux.MS_NOSUID), (os.ST_NODEV, linux.MS_NODEV), (os.ST_NOEXEC, linux.MS_NOEXEC),
           (os.ST_NOATIME, 1024), (os.ST_NODIRATIME, 2048), (os.ST_RELATIME, 1 << 21))
#: Config.rootfs_propagation -> mount(2) propagation flag for the container's / (mount_namespaces(7))
PROPAGATION = {"shared": linux.MS_SHARED, "slave": linux.MS_SLAVE, "private": linux.MS_PRIVATE,
               "unbindable": linux.MS_UNBINDABLE}
_NODE_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def remount(path: str, flags: int) -> None:
    """Bind-remount ``path`` adding ``flags`` (e.g. MS_RDONLY), keeping the flags it has."""
    have = os.statvfs(path).f_flag
    keep = 0
    for st_flag, ms_flag in _LOCKED:
        if have & st_flag:
            keep |= ms_flag
    linux.mount(None, path, None, linux.MS_BIND | linux.MS_REMOUNT | keep | flags)


def _mount_under(root_fd: int, dest: str, fstype: str, flags: int, data: str | None = None) -> None:
    fd = inroot.ensure(root_fd, dest, "dir")
    try:
        linux.mount(fstype, inroot.fd_path(fd), fstype, flags, data)
    finally:
        os.close(fd)


def _bind_target_kind(source: str) -> str:
    return "dir" if os.path.isdir(source) else "file"


def mount_config(root_fd: int, m: Mount) -> None:
    """Make one config mount inside the root ``root_fd`` (bind mounts remounted ro when asked).

    The destination is resolved inside the root whatever symlinks the image holds (inroot), and
    the mount made on the resolved fd through /proc/self/fd, never on a path a link could redirect."""
    flags, data = 0, []
    for opt in m.options:
        if opt in _FLAGS:
            flags |= _FLAGS[opt]
        elif opt not in _IGNORED:
            data.append(opt)
    bind = m.type == "bind" or flags & linux.MS_BIND
    try:
        fd = inroot.ensure(root_fd, m.destination, _bind_target_kind(m.source) if bind else "dir")
    except OSError as e:
        raise OSError(e.errno, f"mount destination {m.destination!r}: {e.strerror}") from None
    try:
        target = inroot.fd_path(fd)
        if bind:
            linux.mount(m.source, target, None, linux.MS_BIND | (flags & linux.MS_REC))
            if flags & ~(linux.MS_BIND | linux.MS_REC):
                # the fd still names the directory under the new mount: remount through the mount's path
                again = inroot.resolve(root_fd, m.destination)
                try:
                    remount(inroot.fd_path(again), flags & ~(linux.MS_BIND | linux.MS_REC))
                finally:
                    os.close(again)
        else:
            linux.mount(m.source or m.type, target, m.type, flags, ",".join(data) or None)
    finally:
        os.close(fd)


def make_node(root_fd: int, device: Device, bind: bool, dev_fd: int | None = None) -> None:
    """Make ``device`` inside the root ``root_fd`` (mknod(2), chown), or with ``bind`` (in a user
    namespace, where mknod is not allowed) bind-mount the host's node of the same path over an empty
    file. The path is resolved inside the root (inroot); an existing node or link there is replaced.
    ``dev_fd``: /dev resolved already, with the umask 0 (:func:`make_dev`): a node directly in it is
    made there, its mode set by mknod(2) alone."""
    parent_path, _, name = device.path.rstrip("/").rpartition("/")
    if bind:
        fd = inroot.ensure(root_fd, device.path, "file")
        try:
            linux.mount(device.path, inroot.fd_path(fd), None, linux.MS_BIND)
        finally:
            os.close(fd)
        return
    exact_mode = dev_fd is not None and parent_path == "/dev"
    parent = dev_fd if exact_mode else inroot.ensure(root_fd, parent_path or "/", "dir")
    try:
        try:
            os.unlink(name, dir_fd=parent)  # a link is removed itself, never followed
        except FileNotFoundError:
            pass
        os.mknod(name, _NODE_TYPES[device.type] | device.file_mode, os.makedev(device.major, device.minor),
                 dir_fd=parent)
        if not exact_mode:  # the umask may have cut bits of the mode
            node = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            try:
                os.chmod(inroot.fd_path(node), device.file_mode)
            finally:
                os.close(node)
        if device.uid or device.gid:
            os.chown(name, device.uid, device.gid, dir_fd=parent, follow_symlinks=False)
    finally:
        if parent != dev_fd:
            os.close(parent)


def make_dev(root_fd: int, devices: list[Device] = (), userns: bool = False) -> None:
    """A tmpfs /dev with the standard nodes and ``devices``, devpts, /dev/shm and /dev/mqueue."""
    _mount_under(root_fd, "/dev", "tmpfs", linux.MS_NOSUID | linux.MS_STRICTATIME, "mode=755,size=65536k")
    dev = inroot.resolve(root_fd, "/dev")  # the new tmpfs
    try:
        old = os.umask(0)
        try:
            for name, major, minor in DEVICES:
                make_node(root_fd, Device(path=f"/dev/{name}", type="c", major=major, minor=minor), userns, dev)
            for device in devices:
                make_node(root_fd, device, userns, dev)
        finally:
            os.umask(old)
        for name, target in DEV_LINKS:
            os.symlink(target, name, dir_fd=dev)
    finally:
        os.close(dev)
    _mount_under(root_fd, "/dev/pts", "devpts", linux.MS_NOSUID | linux.MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=0620")
    _mount_under(root_fd, "/dev/shm", "tmpfs", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC,
                 "mode=1777,size=65536k")
    try:
        _mount_under(root_fd, "/dev/mqueue", "mqueue", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    except OSError:
        pass  # no ipc namespace of its own: mqueue may not be mountable


def pivot(rootfs: str) -> None:
    """pivot_root into ``rootfs`` and detach the old root (runc's pivot_root(".", ".") way)."""
    old = os.open("/", os.O_DIRECTORY | os.O_RDONLY)
    new = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY)
    try:
        os.fchdir(new)
        linux.pivot_root(".", ".")
        os.fchdir(old)
        # keep unmount events of the old root from propagating anywhere
        linux.mount(None, ".", None, linux.MS_SLAVE | linux.MS_REC)
        linux.umount2(".", linux.MNT_DETACH)
    finally:
        os.close(old)
        os.close(new)
    os.chdir("/")


def mask_path(root_fd: int, path: str) -> None:
    """Make ``path`` (resolved inside ``root_fd``) unreadable: /dev/null bound over a file, an empty
    read-only tmpfs over a directory (runc's maskPath). A path that does not exist is left alone."""
    try:
        fd = inroot.resolve(root_fd, path)
    except FileNotFoundError:
        return
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            linux.mount("tmpfs", inroot.fd_path(fd), "tmpfs", linux.MS_RDONLY)
        else:
            linux.mount("/dev/null", inroot.fd_path(fd), None, linux.MS_BIND)
    finally:
        os.close(fd)


def readonly_path(root_fd: int, path: str) -> None:
    """Bind ``path`` (resolved inside ``root_fd``) onto itself and remount it read-only (runc's
    readonlyPath); absent: left alone."""
    try:
        fd = inroot.resolve(root_fd, path)
    except FileNotFoundError:
        return
    try:
        linux.mount(inroot.fd_path(fd), inroot.fd_path(fd), None, linux.MS_BIND | linux.MS_REC)
    finally:
        os.close(fd)
    fd = inroot.resolve(root_fd, path)
    try:
        remount(inroot.fd_path(fd), linux.MS_RDONLY | linux.MS_REC)
    finally:
        os.close(fd)


def make_cwd(cwd: str) -> None:
    """Make init's ``cwd`` (mode 0755, parents too) when the image lacks it, as runc's prepareRootfs
    does; called after pivot_root, so the path and any symlink in it resolve inside the new root.
    A cwd that cannot be made (a file in the way) is left to the chdir in process.finish, which
    reports ConfigInvalid naming ``process.cwd`` (SPEC.md LC-FAULT-12)."""
    try:
        os.makedirs(cwd, 0o755, exist_ok=True)
    except OSError:
        pass


def setup(config: Config) -> None:
    """Build the container's filesystem view and pivot_root into it; then read-only paths,
    masked paths and, when asked, the read-only root (all after pivot_root, as runc does).

    Every path made, mounted on or opened inside the rootfs is resolved with the rootfs as ``/``
    (module inroot): a symlink in the image never leads outside it (CVE-2021-30465)."""
    rootfs = os.path.realpath(config.rootfs)
    prop = config.rootfs_propagation
    # shared and slave keep receiving the host's mounts: start from a slave copy (never sending any back)
    linux.mount(None, "/", None, linux.MS_REC | (linux.MS_SLAVE if prop in ("shared", "slave") else linux.MS_PRIVATE))
    linux.mount(rootfs, rootfs, None, linux.MS_BIND | linux.MS_REC)
    root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _mount_under(root_fd, "/proc", "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
        try:
            _mount_under(root_fd, "/sys", "sysfs", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC | linux.MS_RDONLY)
        except OSError:
            # sysfs cannot be mounted without a net namespace of our own: a read-only bind instead
            sys_fd = inroot.ensure(root_fd, "/sys", "dir")
            try:
                linux.mount("/sys", inroot.fd_path(sys_fd), None, linux.MS_BIND | linux.MS_REC)
            finally:
                os.close(sys_fd)
            sys_fd = inroot.resolve(root_fd, "/sys")
            try:
                remount(inroot.fd_path(sys_fd), linux.MS_RDONLY)
            finally:
                os.close(sys_fd)
        make_dev(root_fd, config.devices, userns="user" in config.namespaces)
        for m in config.mounts:
            mount_config(root_fd, m)
    finally:
        os.close(root_fd)
    pivot(rootfs)
    make_cwd(config.process.cwd)
    root_fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for path in config.readonly_paths:
            readonly_path(root_fd, path)
        for path in config.masked_paths:
            mask_path(root_fd, path)
    finally:
        os.close(root_fd)
    if config.readonly_rootfs:
        remount("/", linux.MS_RDONLY)
    if prop is not None:
        linux.mount(None, "/", None, PROPAGATION[prop])
