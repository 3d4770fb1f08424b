"""System call numbers per architecture, for the calls :mod:`.linux` makes through ``syscall(2)``
(those glibc 2.36 has no wrapper for).

The numbers are the kernel's: ``arch/x86/entry/syscalls/syscall_64.tbl`` (x86_64) and
``include/uapi/asm-generic/unistd.h`` (aarch64, riscv64, which use the generic table). A call
that is not in the table for this machine raises :class:`libcontainer.spec.NotSupported` naming
the call and the architecture, never a guessed number.
"""

from __future__ import annotations

import platform

# name -> {architecture (platform.machine()) -> number}
SYSCALLS: dict[str, dict[str, int]] = {
    "pivot_root": {"x86_64": 155, "aarch64": 41, "riscv64": 41},
    "capget": {"x86_64": 125, "aarch64": 90, "riscv64": 90},
    "capset": {"x86_64": 126, "aarch64": 91, "riscv64": 91},
    "bpf": {"x86_64": 321, "aarch64": 280, "riscv64": 280},
    "close_range": {"x86_64": 436, "aarch64": 436, "riscv64": 436},
    "openat2": {"x86_64": 437, "aarch64": 437, "riscv64": 437},
}


def machine() -> str:
    """This machine's architecture as ``platform.machine()`` names it (``x86_64``, ``aarch64``)."""
    return platform.machine()


def number(name: str, arch: str | None = None) -> int:
    """The number of syscall ``name`` on ``arch`` (default: this machine).

    Raises NotSupported naming the syscall and the architecture when the table has no number
    for them (a call by a wrong number could do anything, so there is no fallback).
    """
    arch = arch or machine()
    try:
        return SYSCALLS[name][arch]
    except KeyError:
        from libcontainer.spec.errors import NotSupported
        raise NotSupported(f"syscall {name}: no known number on architecture {arch} "
                           f"(libcontainer.plumbing.syscalls knows {', '.join(architectures())})") from None


def architectures() -> list[str]:
    """Every architecture the table has numbers for."""
    return sorted({arch for numbers in SYSCALLS.values() for arch in numbers})
