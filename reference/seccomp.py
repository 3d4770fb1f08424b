"""Seccomp filters through libseccomp (Debian's libseccomp2), with a small ctypes binding.

Calls used, as documented in their man pages: seccomp_init(3),
seccomp_attr_set(3) (SCMP_FLTATR_CTL_NNP), seccomp_arch_add(3),
seccomp_syscall_resolve_name(3), seccomp_rule_add_array(3), seccomp_load(3)
and seccomp_release(3). A binding of our own, not the PyPI ``pyseccomp``
package: that one runs ``ldconfig -p`` twice when imported (19 ms here, on
the path of every container start), where this one opens libseccomp.so.2
by its soname.

The filter is compiled once per profile (:func:`compiled`, which keeps what
:func:`build` made for a profile of the same content) into its BPF program
(seccomp_export_bpf(3)); each container process loads that program just
before exec (:meth:`Filter.load`) with prctl(2) ``PR_SET_SECCOMP`` itself,
as seccomp_load(3) would, without libseccomp generating the program again
in every child. A caller that forks the process which starts containers can
call :func:`compiled` first, so the child inherits the program.
"""

from __future__ import annotations

import ctypes
import errno
import os

from libcontainer.plumbing import linux

from libcontainer.spec.security import Seccomp

_ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000, "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000, "SCMP_ACT_ERRNO": 0x00050000, "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000, "SCMP_ACT_ALLOW": 0x7FFF0000,
}
_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
        "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
EPERM = 1
PR_SET_SECCOMP = 22  # prctl(2)
SECCOMP_MODE_FILTER = 2
_CACHE_SIZE = 16  # profiles kept by compiled()
_compiled: dict[str, "Filter"] = {}

_lib = None


class _SockFprog(ctypes.Structure):
    """struct sock_fprog (linux/filter.h): the program's length in instructions and its address."""
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def _libseccomp():
    global _lib
    if _lib is None:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_release.restype = None
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(_ArgCmp)]
        _lib = lib
    return _lib


class SeccompError(OSError):
    """A libseccomp call failed (errno is the negated return value)."""


def _check(ret: int, what: str) -> None:
    if ret < 0:
        raise SeccompError(-ret, f"{what}: {os.strerror(-ret)}")


def action_value(action: str, errno_ret: int | None) -> int:
    """The libseccomp action number of an SCMP_ACT_* name (ERRNO and TRACE carry ``errno_ret``)."""
    value = _ACTIONS[action]
    if action in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        value |= (EPERM if errno_ret is None else errno_ret) & 0xFFFF
    return value


class Filter:
    """A compiled profile: its classic BPF program (``program``, 8 bytes per instruction) and the
    syscall names this architecture does not have (``skipped``); :meth:`load` installs it."""

    def __init__(self, program: bytes, skipped: list[str]):
        self.program = program
        self.skipped = skipped

    def load(self, no_new_privileges: bool) -> None:
        """Install the program in the calling thread, as seccomp_load(3) does with its default
        attributes: prctl(PR_SET_NO_NEW_PRIVS) first when ``no_new_privileges`` (libseccomp's
        SCMP_FLTATR_CTL_NNP), then prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER) (seccomp(2));
        without ``no_new_privileges`` the caller needs CAP_SYS_ADMIN (EACCES otherwise)."""
        if no_new_privileges:
            linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
        prog = _SockFprog(len(self.program) // 8, self.program)
        linux.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog))

    def release(self) -> None:
        """Nothing to free: the libseccomp context is released once the program is exported."""


def compiled(profile: Seccomp) -> Filter:
    """:func:`build` of ``profile``, or the Filter built already for a profile of the same content
    in this process (or the process it was forked from); at most 16 profiles are kept."""
    key = repr(profile)
    found = _compiled.get(key)
    if found is None:
        found = build(profile)
        if len(_compiled) >= _CACHE_SIZE:
            _compiled.pop(next(iter(_compiled)))
        _compiled[key] = found
    return found


def _export(lib, ctx) -> bytes:
    """seccomp_export_bpf(3) of ``ctx`` into a memfd, read back."""
    fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
    try:
        _check(lib.seccomp_export_bpf(ctx, fd), "seccomp_export_bpf")
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def build(profile: Seccomp) -> Filter:
    """Compile ``profile`` (validated by spec.config.validate). Raises SeccompError."""
    lib = _libseccomp()
    default = action_value(profile.default_action, profile.default_errno_ret)
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise SeccompError(22, "seccomp_init failed")
    skipped = []
    try:
        for arch in profile.architectures:
            token = lib.seccomp_arch_resolve_name(arch[len("SCMP_ARCH_"):].lower().encode())
            if token == 0:
                raise SeccompError(22, f"unknown seccomp architecture {arch}")
            ret = lib.seccomp_arch_add(ctx, token)
            if ret != -errno.EEXIST:  # the native architecture is already there
                _check(ret, f"seccomp_arch_add {arch}")
        for rule in profile.syscalls:
            action = action_value(rule.action, rule.errno_ret)
            if action == default:
                continue  # libseccomp refuses a rule that repeats the default action; runc skips it too
            args = (_ArgCmp * max(1, len(rule.args)))()
            for i, a in enumerate(rule.args):
                args[i] = _ArgCmp(a.index, _OPS[a.op], a.value, a.value_two)
            for name in rule.names:
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr < 0:
                    skipped.append(name)
                    continue
                ret = lib.seccomp_rule_add_array(ctx, action, nr, len(rule.args), args)
                if ret != -errno.EEXIST:  # the same rule again (podman's profile repeats some): added already (LC-CFG-SEC-04)
                    _check(ret, f"seccomp_rule_add {name}")
        program = _export(lib, ctx)
    finally:
        lib.seccomp_release(ctx)
    return Filter(program, skipped)
