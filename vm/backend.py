"""One interface for the matrix's backends: boot a VM, run a command inside, bring back its status.

A backend (:class:`Backend`) takes a :class:`~libcontainer.vm.matrix.VMSpec`
and a :class:`Request` and returns a :class:`Result`. The guest shares the
output folder (``Request.out``) with the host: the command's files (JUnit
XML, clause report) land there, with ``progress`` (events, see
:mod:`libcontainer.vm.progress`) and ``console.log`` (the guest's serial console).
A backend never waits longer than ``Request.timeout`` seconds: it kills the
VM and returns a failed Result.
"""

from __future__ import annotations

import abc
import dataclasses
import os
from typing import Callable


@dataclasses.dataclass
class Request:
    """A command to run in a guest: ``argv`` in ``cwd`` with ``env``; ``out`` is a host folder shared read-write."""

    argv: list[str]
    cwd: str
    out: str
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    timeout: float = 1800.0  # seconds, from launch to power-off


@dataclasses.dataclass
class Result:
    """What came back: ``status`` (the command's exit status, None if it never finished), ``error`` (why the VM
    failed, None if it ran the command to the end), ``timings`` (seconds: boot, setup, tests, shutdown, total)."""

    name: str
    status: int | None
    error: str | None
    console: str
    out: str
    timings: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 0


#: called with (vm name, event line) for each progress event the guest writes
EventSink = Callable[[str, str], None]


class Backend(abc.ABC):
    """Boots VMs of the matrix. ``prepare`` makes what booting needs (kernel, initramfs, box), ``run`` boots one
    VM, runs the request inside and powers it off (or kills it at the timeout)."""

    name = "abstract"

    @abc.abstractmethod
    def prepare(self, vm) -> None:
        """Fetch or build what ``vm`` needs; raises RuntimeError with the reason if it cannot."""

    @abc.abstractmethod
    def run(self, vm, request: Request, on_event: EventSink | None = None) -> Result:
        """Boot ``vm``, run ``request``, return the Result; never blocks past ``request.timeout``."""

    def close(self) -> None:
        """Stop whatever ``prepare`` started that outlives one VM (the Vagrant backend's libvirtd)."""

    def guest_python(self, python: str) -> str:
        """The interpreter a guest runs the suite with, given the project's ``python``: the same by default."""
        return python

    @staticmethod
    def read_events(out: str, seen: int) -> tuple[list[str], int]:
        """Complete new lines of ``out/progress`` after byte ``seen``, and the new offset."""
        try:
            with open(os.path.join(out, "progress"), "rb") as f:
                f.seek(seen)
                data = f.read()
        except FileNotFoundError:
            return [], seen
        end = data.rfind(b"\n") + 1
        return data[:end].decode(errors="replace").splitlines(), seen + end


def get(name: str, **kwargs) -> Backend:
    """The backend called ``name``: ``qemu`` (direct qemu, the default) or ``vagrant`` (python-vagrant, libvirt)."""
    if name == "qemu":
        from .qemu import QemuBackend
        return QemuBackend(**kwargs)
    if name == "vagrant":
        from .vagrant import VagrantBackend
        return VagrantBackend(**kwargs)
    raise ValueError(f"unknown backend {name!r}: qemu or vagrant")
