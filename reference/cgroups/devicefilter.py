"""Device rules for cgroup v2 as an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE).

cgroup v2 has no devices.allow/deny files: the kernel asks a BPF program
attached to the cgroup (attach type BPF_CGROUP_DEVICE) for every open and
mknod of a device node (cgroup-v2.rst "Device controller"). The program
here is built the way runc's ``libcontainer/cgroups/devices/ebpf`` builds
its own, with v1 semantics:

* rules are checked from the last to the first, and the first that matches
  decides (so a later ``a`` rule overrides everything before it, as writing
  ``a`` to devices.allow/deny resets the v1 list);
* an allow rule matches when the requested access is within the rule's
  access; a deny rule matches when they share any bit (v1 exceptions);
* when no rule matches the device is allowed (a v1 cgroup starts as
  "a *:* rwm").

The context is ``struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
u32 minor; }`` with ``access_type = access << 16 | type`` (type 1 block,
2 char; access 1 mknod, 2 read, 4 write); the program returns 1 to allow.
"""

from __future__ import annotations

import os
import struct

from libcontainer.plumbing import linux
from libcontainer.spec import DeviceRule


_TYPES = {"b": 1, "c": 2}
_ACCESS = {"m": 1, "r": 2, "w": 4}

# opcodes (include/uapi/linux/bpf.h, bpf_common.h)
_LDX_W = 0x61       # BPF_LDX | BPF_MEM | BPF_W
_AND32_K = 0x54     # BPF_ALU | BPF_AND | BPF_K
_RSH32_K = 0x74     # BPF_ALU | BPF_RSH | BPF_K
_MOV64_X = 0xBF     # BPF_ALU64 | BPF_MOV | BPF_X
_MOV64_K = 0xB7     # BPF_ALU64 | BPF_MOV | BPF_K
_JNE_K = 0x55       # BPF_JMP | BPF_JNE | BPF_K
_JEQ_K = 0x15       # BPF_JMP | BPF_JEQ | BPF_K
_EXIT = 0x95        # BPF_JMP | BPF_EXIT


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def _access_bits(access: str) -> int:
    return sum(_ACCESS[a] for a in set(access))


def program(rules: list[DeviceRule]) -> bytes:
    """The program's instructions for ``rules`` (in the order they would be written on v1)."""
    # r2 = type, r3 = access, r4 = major, r5 = minor
    head = [_insn(_LDX_W, 2, 1, 0), _insn(_AND32_K, 2, imm=0xFFFF),
            _insn(_LDX_W, 3, 1, 0), _insn(_RSH32_K, 3, imm=16),
            _insn(_LDX_W, 4, 1, 4), _insn(_LDX_W, 5, 1, 8)]
    out = list(head)
    for rule in reversed(rules):
        block: list[tuple[int, int, int, int] | None] = []  # (code, dst, imm) with a jump to the next block
        if rule.type != "a":
            block.append((_JNE_K, 2, _TYPES[rule.type]))
            bits = _access_bits(rule.access)
            if bits != 7:
                if rule.allow:   # some requested bit outside the rule: not this rule
                    block += [("mov",), (_AND32_K, 1, ~bits & 0xFFFF, "nojump"), (_JNE_K, 1, 0)]
                else:            # no requested bit in the rule: not this rule
                    block += [("mov",), (_AND32_K, 1, bits, "nojump"), (_JEQ_K, 1, 0)]
            if rule.major != -1:
                block.append((_JNE_K, 4, rule.major))
            if rule.minor != -1:
                block.append((_JNE_K, 5, rule.minor))
        tail = [_insn(_MOV64_K, 0, imm=1 if rule.allow else 0), _insn(_EXIT)]
        size = len(block) + len(tail)
        for i, item in enumerate(block):
            if item[0] == "mov":
                out.append(_insn(_MOV64_X, 1, 3))
            elif len(item) == 4:
                out.append(_insn(item[0], item[1], imm=item[2]))
            else:
                out.append(_insn(item[0], item[1], off=size - i - 1, imm=item[2]))
        out += tail
        if not block:
            # this rule matches every request: the earlier rules and the default are unreachable,
            # and the verifier refuses unreachable instructions
            return b"".join(out)
    out += [_insn(_MOV64_K, 0, imm=1), _insn(_EXIT)]
    return b"".join(out)


def attach(cgroup_dir: str, rules: list[DeviceRule]) -> None:
    """Load the program for ``rules`` and attach it to the cgroup v2 directory (it lives as long as the cgroup).

    Raises OSError (EPERM without CAP_BPF/CAP_SYS_ADMIN, or the verifier's
    complaint).
    """
    prog = linux.bpf_prog_load(linux.BPF_PROG_TYPE_CGROUP_DEVICE, program(rules))
    try:
        dirfd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            linux.bpf_prog_attach(dirfd, prog, linux.BPF_CGROUP_DEVICE, linux.BPF_F_ALLOW_MULTI)
        finally:
            os.close(dirfd)
    finally:
        os.close(prog)
