"""The cgroup driver interface: one per cgroup version.

A driver manages the cgroup of one container, ``<parent>/<name>`` in every
hierarchy it uses. Methods raise OSError (the container layer turns those
into SystemFailure) or, for a limit the host cannot apply, NotSupported.
Sources: the kernel's Documentation/admin-guide/cgroup-v1/ and
cgroup-v2.rst; the freeze retry loop follows runc's fs/freezer.go.
"""

from __future__ import annotations

import abc
import errno
import os
import time

from libcontainer.spec import ContainerStats, NotSupported, Resources

from .convert import page_size_name

THAWED, FREEZING, FROZEN = "THAWED", "FREEZING", "FROZEN"


class CgroupDriver(abc.ABC):
    """The cgroup of one container."""

    version: int
    # v1: thaw now and then while FREEZING, so tasks forked mid-freeze get caught (runc does this)
    _thaw_retry = False

    def __init__(self, parent: str, name: str):
        self.parent = parent.strip("/")
        self.name = name
        # directories above the container's own that create() made (absolute, shallowest first); only
        # these, and the container's own, are ever removed: an operator's cgroup_parent stays
        self.made: list[str] = []

    def _mkdir(self, path: str, own: bool) -> None:
        """mkdir ``path`` unless it exists; a parent (not ``own``) made here is recorded in ``made``."""
        try:
            os.mkdir(path, 0o755)
        except FileExistsError:
            return
        if not own and path not in self.made:
            self.made.append(path)

    def _mkdir_chain(self, root: str) -> str:
        """Make ``root/<parent>/<name>`` one level at a time (recording the parents made); return it."""
        cur = root
        parts = [*self.parent.split("/"), self.name]
        for i, part in enumerate(parts):
            cur = os.path.join(cur, part)
            self._mkdir(cur, own=i == len(parts) - 1)
        return cur

    @abc.abstractmethod
    def paths(self) -> list[str]:
        """Absolute directories of this cgroup, one per hierarchy."""

    @abc.abstractmethod
    def create(self, resources: Resources) -> None:
        """Make the cgroup and write ``resources``; on failure remove it and raise.

        Raises OSError, NotSupported (a limit this host has no file for) or
        ConfigInvalid (a limit this cgroup version cannot express).
        """

    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes ``0`` into to join this cgroup."""
        return [os.path.join(p, "cgroup.procs") for p in self.paths()]

    def exists(self) -> bool:
        return any(os.path.isdir(p) for p in self.paths())

    def pids(self) -> list[int]:
        """PIDs (host pid namespace) of the processes in the cgroup and every sub-cgroup of it (made by
        anyone, at any depth); [] if it is gone."""
        pids: list[int] = []
        for path in subtree(self.paths()[0]):
            try:
                with open(os.path.join(path, "cgroup.procs")) as f:
                    pids.extend(int(line) for line in f if line.strip())
            except OSError as e:  # a sub-cgroup removed while we walk
                if e.errno not in (errno.ENOENT, errno.ENODEV):
                    raise
        return list(dict.fromkeys(pids))

    @abc.abstractmethod
    def freezer_state(self) -> str:
        """THAWED, FREEZING or FROZEN (the effective state: a frozen ancestor makes it FROZEN)."""

    @abc.abstractmethod
    def _write_freeze(self, frozen: bool) -> None:
        ...

    @abc.abstractmethod
    def _thaw_dir(self, path: str) -> None:
        """Thaw the (sub-)cgroup directory ``path`` of the freezer hierarchy itself."""

    def freeze(self, timeout: float = 10.0) -> None:
        """Freeze every process; return once FROZEN.

        Writes the freeze request and re-reads the state while the kernel
        reports FREEZING (v1 also thaws briefly every 50 tries, as runc
        does, so that tasks forked during the freeze are caught). If the
        cgroup is not FROZEN within ``timeout`` seconds, or anything
        (including KeyboardInterrupt) interrupts the loop, the cgroup is
        thawed again before the exception propagates: a failed freeze never
        leaves it half-frozen. Raises OSError(EBUSY) on timeout.
        """
        deadline = time.monotonic() + timeout
        try:
            tries = 0
            while True:
                tries += 1
                if self._thaw_retry and tries % 50 == 0:
                    self._write_freeze(False)
                    time.sleep(0.01)
                self._write_freeze(True)
                if self.freezer_state() == FROZEN:
                    return
                if time.monotonic() > deadline:
                    raise OSError(errno.EBUSY, "the cgroup did not freeze in time")
                time.sleep(0.0001 if tries < 25 else 0.001)
        except BaseException:
            self._thaw_quietly()
            raise

    def _thaw_quietly(self) -> None:
        for _ in range(3):  # retried: a second interrupt must not skip the thaw
            try:
                self._write_freeze(False)
                return
            except FileNotFoundError:
                return
            except BaseException:  # noqa: BLE001 - the caller re-raises the first error
                continue

    def thaw(self) -> None:
        """Thaw every process (no-op when THAWED), those in sub-cgroups frozen on their own included:
        a thawed parent leaves a child that was frozen itself frozen (freezer-subsystem.rst, cgroup-v2.rst)."""
        self._write_freeze(False)
        for path in subtree(self.paths()[0])[1:]:
            try:
                self._thaw_dir(path)
            except OSError as e:
                if e.errno not in (errno.ENOENT, errno.ENODEV):
                    raise

    def kill(self) -> bool:
        """SIGKILL every process at once if the kernel can (v2 ``cgroup.kill``); False if it cannot."""
        return False

    @abc.abstractmethod
    def stats(self) -> ContainerStats:
        """Read the cgroup's statistics files into one ContainerStats (network is the container's job)."""

    def destroy(self, timeout: float = 5.0) -> None:
        """Remove the cgroup directories and every sub-cgroup in them, deepest first (the cgroup
        must be empty or emptying).

        Retries EBUSY while the last processes exit; then removes the parent directories that
        create() made (``made``) and that became empty; a parent that existed before is never
        removed. Absent directories are not an error.
        """
        deadline = time.monotonic() + timeout
        for top in self.paths():
            try:
                os.rmdir(top)  # the common case: no sub-cgroup, no process left (no directory walk)
                continue
            except FileNotFoundError:
                continue
            except OSError as e:
                if e.errno != errno.EBUSY:
                    raise
            for path in reversed(subtree(top)):
                while True:
                    try:
                        os.rmdir(path)
                        break
                    except FileNotFoundError:
                        break
                    except OSError as e:
                        if e.errno != errno.EBUSY or time.monotonic() > deadline:
                            raise
                        time.sleep(0.002)
        for path in reversed(self.made):
            try:
                os.rmdir(path)
            except OSError:
                pass  # not empty (another container under it) or gone


def subtree(top: str) -> list[str]:
    """``top`` and every directory below it, parents before children ([] if ``top`` is absent)."""
    return [dirpath for dirpath, _dirs, _files in os.walk(top)]


def retry_vanishing(make, attempts: int = 20) -> None:
    """Call ``make()`` again when it fails with ENOENT or ENODEV: another container's destroy may remove
    an empty shared parent (``libcontainer``) between our mkdir of it and of its child (ENOENT), or
    while we read one of its files, such as cpuset.cpus (a removed cgroup's open file gives ENODEV)."""
    for attempt in range(attempts):
        try:
            make()
            return
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ENODEV) or attempt == attempts - 1:
                raise
            time.sleep(0.001)


def read_text(path: str) -> str | None:
    """A cgroup file's text; None if the file is absent (or unreadable)."""
    try:
        with open(path) as f:
            return f.read()
    except (FileNotFoundError, PermissionError):
        return None


def read_int(path: str) -> int | None:
    """The integer in a one-value cgroup file; None if absent; ``max`` is None."""
    text = read_text(path)
    if text is None:
        return None
    text = text.strip()
    if text == "max":
        return None
    return int(text)


def read_keyed(path: str) -> dict[str, int]:
    """A ``key value`` per line file (memory.stat, cpu.stat, ...) as a dict; {} if absent."""
    out: dict[str, int] = {}
    text = read_text(path)
    if text is None:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def write(path: str, value: str | int) -> None:
    with open(path, "w") as f:
        f.write(str(value))


def write_needed(path: str, value: str | int, what: str) -> None:
    """Write ``value`` to a cgroup file; NotSupported naming ``what`` when the host has no such file."""
    if not os.path.exists(path):
        raise NotSupported(f"{what}: this host has no {path}")
    write(path, value)


def device(major: int) -> str:
    """A device number for a cgroup rule: -1 is ``*``."""
    return "*" if major == -1 else str(major)


_PAGE_SIZES: list[str] | None = None


def huge_page_sizes() -> list[str]:
    """The huge page sizes the kernel offers, as cgroup files name them (``2MB``, ``1GB``)."""
    global _PAGE_SIZES
    if _PAGE_SIZES is None:
        try:
            names = os.listdir("/sys/kernel/mm/hugepages")
        except FileNotFoundError:
            names = []
        kbs = sorted(int(n[len("hugepages-"):-2]) for n in names if n.startswith("hugepages-") and n.endswith("kB"))
        _PAGE_SIZES = [page_size_name(kb) for kb in kbs]
    return _PAGE_SIZES
