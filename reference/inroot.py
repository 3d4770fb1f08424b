"""Paths inside a root filesystem that its symlinks cannot lead out of (the CVE-2021-30465 class).

An image may hold ``evil -> /etc`` or ``evil -> ../../..``; a path the
runtime creates, mounts on or opens under the rootfs must resolve as the
container will later see it, with the rootfs as ``/``. :func:`resolve`
opens a path with openat2(2) ``RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS``
(Linux 5.6+), and where the kernel lacks openat2 walks it one component
at a time with ``O_PATH | O_NOFOLLOW``, following each symlink itself with
the root as ``/`` and ``..`` stopping at the root. :func:`ensure` also
creates what is missing (directories 0755, a last component as a
directory or an empty file), following dangling symlinks inside the root
as runc's securejoin.MkdirAll does. Both return an ``O_PATH`` fd; mount on
it through ``/proc/self/fd/N`` (:func:`fd_path`), as runc does, so nothing
can swap a symlink in between the check and the mount.

Errors are OSError: ELOOP (more than 40 links, a loop), ENOTDIR (a
component is a file), ENOENT (:func:`resolve` of a missing path).
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque

from libcontainer.plumbing import linux

MAXSYMLINKS = 40  # path_resolution(7)
_OPEN = os.O_PATH | os.O_CLOEXEC


def fd_path(fd: int) -> str:
    """The /proc path that names what ``fd`` is open on (for mount(2), chmod(2) of an O_PATH fd)."""
    return f"/proc/self/fd/{fd}"


def resolve(root_fd: int, path: str) -> int:
    """An O_PATH fd of ``path`` resolved inside the directory ``root_fd`` (which acts as ``/``)."""
    if linux.has_openat2():
        for _ in range(16):
            try:
                return linux.openat2(root_fd, path.lstrip("/") or ".", _OPEN,
                                 linux.RESOLVE_IN_ROOT | linux.RESOLVE_NO_MAGICLINKS)
            except BlockingIOError:  # EAGAIN: a rename raced the lookup; retry
                continue
            except OSError as e:
                if e.errno != errno.ENOSYS:
                    raise
                break
    return _walk(root_fd, path)


def _walk(root_fd: int, path: str) -> int:
    """:func:`resolve` without openat2: one component at a time, symlinks followed by hand."""
    stack = [os.dup(root_fd)]  # the directories from the root down to the current one
    todo = deque(path.split("/"))
    links = 0
    try:
        while todo:
            name = todo.popleft()
            if name in ("", "."):
                continue
            if name == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            fd = os.open(name, _OPEN | os.O_NOFOLLOW, dir_fd=stack[-1])
            mode = os.fstat(fd).st_mode
            if stat.S_ISLNK(mode):
                try:
                    target = os.readlink(name, dir_fd=stack[-1])
                finally:
                    os.close(fd)
                links += 1
                if links > MAXSYMLINKS:
                    raise OSError(errno.ELOOP, f"{path}: {os.strerror(errno.ELOOP)}")
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                todo.extendleft(reversed(target.split("/")))
                continue
            if todo and not stat.S_ISDIR(mode) and any(n not in ("", ".") for n in todo):
                os.close(fd)
                raise OSError(errno.ENOTDIR, f"{path}: {os.strerror(errno.ENOTDIR)}")
            stack.append(fd)
        return stack.pop() if len(stack) > 1 else os.dup(stack[0])
    finally:
        for fd in stack:
            os.close(fd)


def ensure(root_fd: int, path: str, kind: str = "dir", _depth: int = 0) -> int:
    """An O_PATH fd of ``path`` inside ``root_fd``, creating what is missing: directories (0755) on
    the way, and the last component as ``kind`` ("dir" or "file", an empty 0644 file) when absent.
    A dangling symlink on the way is followed inside the root and its target created there."""
    try:
        return resolve(root_fd, path)
    except FileNotFoundError:
        pass
    parent, _, base = path.rstrip("/").rpartition("/")
    if not base:
        raise OSError(errno.ENOENT, f"{path}: the root itself is missing")
    pfd = ensure(root_fd, parent or "/", "dir", _depth)
    try:
        try:
            if kind == "dir":
                os.mkdir(base, 0o755, dir_fd=pfd)
            else:
                os.close(os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                                 0o644, dir_fd=pfd))
        except FileExistsError:
            try:
                target = os.readlink(base, dir_fd=pfd)
            except OSError:
                target = None  # not a symlink: made by someone else meanwhile; resolve it below
            if target is not None:
                if _depth >= MAXSYMLINKS:
                    raise OSError(errno.ELOOP, f"{path}: {os.strerror(errno.ELOOP)}") from None
                # relative to the directory holding the link: "parent/.." is resolved by the kernel's
                # rules (after parent's own links), not lexically
                new = target if target.startswith("/") else f"{parent}/{target}"
                return ensure(root_fd, new, kind, _depth + 1)
    finally:
        os.close(pfd)
    return resolve(root_fd, path)
