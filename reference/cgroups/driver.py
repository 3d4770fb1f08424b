"""The cgroup driver interface: one per cgroup version.

A driver manages the cgroup of one container, ``<parent>/<name>`` in every
hierarchy it uses. Methods raise OSError; the container layer turns those
into SystemFailure. Sources: the kernel's Documentation/admin-guide/cgroup-v1
and cgroup-v2.rst.
"""

from __future__ import annotations

import abc
import errno
import os
import time

from libcontainer.spec import ContainerStats, Resources

THAWED, FREEZING, FROZEN = "THAWED", "FREEZING", "FROZEN"


class CgroupDriver(abc.ABC):
    """The cgroup of one container."""

    version: int

    def __init__(self, parent: str, name: str):
        self.parent = parent.strip("/")
        self.name = name

    @abc.abstractmethod
    def paths(self) -> list[str]:
        """Absolute directories of this cgroup, one per hierarchy."""

    @abc.abstractmethod
    def create(self, resources: Resources) -> None:
        """Make the cgroup and write ``resources``; raise OSError (and remove it) on failure."""

    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes ``0`` into to join this cgroup."""
        return [os.path.join(p, "cgroup.procs") for p in self.paths()]

    def exists(self) -> bool:
        return any(os.path.isdir(p) for p in self.paths())

    def pids(self) -> list[int]:
        """PIDs (host pid namespace) of the processes in the cgroup; [] if it is gone."""
        try:
            with open(os.path.join(self.paths()[0], "cgroup.procs")) as f:
                return [int(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    @abc.abstractmethod
    def freezer_state(self) -> str:
        """THAWED, FREEZING or FROZEN."""

    @abc.abstractmethod
    def _write_freeze(self, frozen: bool) -> None:
        ...

    def freeze(self, timeout: float = 10.0) -> None:
        """Freeze every process; return once FROZEN.

        Retries while the kernel reports FREEZING. If the cgroup does not
        freeze within ``timeout`` seconds it is thawed again (never left
        half-frozen) and OSError(EBUSY) is raised.
        """
        deadline = time.monotonic() + timeout
        delay = 0.0005
        try:
            while True:
                self._write_freeze(True)
                if self.freezer_state() == FROZEN:
                    return
                if time.monotonic() > deadline:
                    raise OSError(errno.EBUSY, "the cgroup did not freeze in time")
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        except BaseException:
            try:
                self._write_freeze(False)
            except OSError:
                pass
            raise

    def thaw(self) -> None:
        """Thaw every process (no-op when THAWED)."""
        self._write_freeze(False)

    @abc.abstractmethod
    def stats(self) -> ContainerStats:
        """Read the cgroup's statistics files into one ContainerStats."""

    def destroy(self, timeout: float = 5.0) -> None:
        """Remove the cgroup directories (the cgroup must be empty or emptying).

        Retries EBUSY while the last processes exit; then removes the parent
        directories that became empty. Absent directories are not an error.
        """
        deadline = time.monotonic() + timeout
        for path in self.paths():
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
            self._remove_empty_parents(path)

    def _remove_empty_parents(self, path: str) -> None:
        for _ in self.parent.split("/"):
            path = os.path.dirname(path)
            try:
                os.rmdir(path)
            except OSError:
                return


def read_int(path: str) -> int | None:
    """The integer in a one-value cgroup file; None if absent; ``max`` is None."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except (FileNotFoundError, PermissionError):
        return None
    if text == "max":
        return None
    return int(text)


def read_keyed(path: str) -> dict[str, int]:
    """A ``key value`` per line file (memory.stat, cpu.stat, ...) as a dict; {} if absent."""
    out: dict[str, int] = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[1].lstrip("-").isdigit():
                    out[parts[0]] = int(parts[1])
    except FileNotFoundError:
        pass
    return out


def write(path: str, value: str | int) -> None:
    with open(path, "w") as f:
        f.write(str(value))
