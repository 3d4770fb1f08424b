"""Config semantics, hardening: capabilities, no_new_privileges and seccomp, as the kernel shows them
to the process itself (/proc/self/status, proc(5)) and as the syscalls it makes fail.

Every test runs the probe as init and through ``start_process``.
"""

from __future__ import annotations

import dataclasses
import errno
import os

import pytest

from libcontainer.spec import Capabilities, SeccompArg, Seccomp, SyscallRule
from libcontainer.spec.security import CAPABILITIES, DEFAULT_CAPABILITIES

from .observe import probe, status_fields

WHERE = pytest.mark.parametrize("where", ["init", "exec"])
CAP_LINES = "grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status"


def mask(names) -> int:
    """The bit mask of capabilities(7) names, as /proc/<pid>/status prints it in hex."""
    return sum(1 << CAPABILITIES.index(n) for n in set(names))


def caps_of(out: str) -> dict[str, int]:
    return {k: int(v, 16) for k, v in status_fields(out).items() if k.startswith("Cap")}


@WHERE
@pytest.mark.clause("LC-CFG-SEC-01")
def test_capability_sets_of_a_root_process(factory, config, where):
    caps = Capabilities(bounding=["CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW"], effective=["CAP_KILL"],
                        permitted=["CAP_KILL", "CAP_CHOWN"], inheritable=["CAP_KILL"], ambient=["CAP_KILL"])
    out, status = probe(factory, config, CAP_LINES, where, capabilities=caps)
    assert status == 0
    got = caps_of(out)
    assert got["CapBnd"] == mask(caps.bounding)
    assert got["CapInh"] == mask(caps.inheritable)
    assert got["CapAmb"] == mask(caps.ambient)
    # execve(2) as uid 0 (capabilities(7), "Capabilities and execution of programs by root"):
    # permitted and effective become bounding | inheritable
    assert got["CapPrm"] == got["CapEff"] == mask(caps.bounding + caps.inheritable)


@WHERE
@pytest.mark.clause("LC-CFG-SEC-01")
def test_capability_sets_of_a_non_root_process_are_its_ambient_set(factory, config, where):
    caps = Capabilities(bounding=["CAP_NET_BIND_SERVICE", "CAP_KILL"], effective=["CAP_NET_BIND_SERVICE"],
                        permitted=["CAP_NET_BIND_SERVICE"], inheritable=["CAP_NET_BIND_SERVICE"],
                        ambient=["CAP_NET_BIND_SERVICE"])
    out, status = probe(factory, config, CAP_LINES, where, uid=1000, gid=1000, capabilities=caps)
    assert status == 0
    got = caps_of(out)
    assert got["CapBnd"] == mask(caps.bounding)
    assert got["CapInh"] == mask(caps.inheritable)
    # execve(2) of a file without file capabilities by a non-root user keeps only the ambient set
    assert got["CapAmb"] == got["CapPrm"] == got["CapEff"] == mask(caps.ambient)


@WHERE
@pytest.mark.clause("LC-CFG-SEC-02")
def test_default_capabilities_are_runcs_default_set(factory, config, where):
    out, status = probe(factory, config, CAP_LINES, where)
    assert status == 0
    got = caps_of(out)
    assert got["CapBnd"] == got["CapPrm"] == got["CapEff"] == mask(DEFAULT_CAPABILITIES)
    assert got["CapInh"] == got["CapAmb"] == 0


@WHERE
@pytest.mark.clause("LC-CFG-SEC-03")
@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privileges_shows_in_status(factory, config, where, nnp):
    out, status = probe(factory, config, CAP_LINES, where, no_new_privileges=nnp)
    assert status == 0
    assert status_fields(out)["NoNewPrivs"] == ("1" if nnp else "0")


def _with_seccomp(config, profile):
    return dataclasses.replace(config, seccomp=profile)


@WHERE
@pytest.mark.clause("LC-CFG-SEC-04")
def test_seccomp_rule_fails_the_syscall_with_the_configured_errno(factory, config, where):
    profile = Seccomp(syscalls=[SyscallRule(names=["mkdir", "mkdirat"], action="SCMP_ACT_ERRNO",
                                            errno_ret=errno.EOPNOTSUPP)])
    out, status = probe(factory, _with_seccomp(config, profile),
                        "mkdir /tmp/denied 2>&1; touch /tmp/allowed && echo touched; " + CAP_LINES, where)
    assert status == 0
    assert os.strerror(errno.EOPNOTSUPP) in out    # the configured errno, not EPERM
    assert "touched" in out                        # default_action SCMP_ACT_ALLOW: the rest works
    assert status_fields(out)["Seccomp"] == "2"    # SECCOMP_MODE_FILTER


@WHERE
@pytest.mark.clause("LC-CFG-SEC-04")
def test_seccomp_repeated_rule_is_accepted(factory, config, where):
    """The same rule twice (podman's default profile repeats some): one rule, not a failed create."""
    rule = SyscallRule(names=["mkdir", "mkdirat"], action="SCMP_ACT_ERRNO", errno_ret=errno.EOPNOTSUPP)
    profile = Seccomp(syscalls=[rule, rule])
    out, status = probe(factory, _with_seccomp(config, profile), "mkdir /tmp/denied 2>&1; echo done", where)
    assert status == 0
    assert os.strerror(errno.EOPNOTSUPP) in out and "done" in out


@WHERE
@pytest.mark.clause("LC-CFG-SEC-04")
def test_seccomp_rule_action_kill_process(factory, config, where):
    profile = Seccomp(syscalls=[SyscallRule(names=["mkdir", "mkdirat"], action="SCMP_ACT_KILL_PROCESS")])
    out, status = probe(factory, _with_seccomp(config, profile), "mkdir /tmp/denied; echo $?", where)
    assert status == 0
    assert out.split() == [str(128 + 31)]  # the mkdir child died of SIGSYS (31)


@WHERE
@pytest.mark.clause("LC-CFG-SEC-05")
def test_seccomp_argument_condition_selects_the_calls(factory, config, where):
    # kill(2) whose signal (argument 1) masked with 0xff equals 0: only `kill -0` is denied
    profile = Seccomp(syscalls=[SyscallRule(names=["kill"], errno_ret=errno.EDOM,
                                            args=[SeccompArg(index=1, value=0xff, value_two=0,
                                                             op="SCMP_CMP_MASKED_EQ")])])
    out, status = probe(factory, _with_seccomp(config, profile),
                        "kill -0 $$ 2>&1; echo rc=$?; kill -CONT $$; echo rc=$?", where)
    assert status == 0
    lines = out.strip().splitlines()
    assert os.strerror(errno.EDOM) in out and lines[-2] != "rc=0"
    assert lines[-1] == "rc=0"  # SIGCONT (18): the condition does not match, the call reaches the kernel


# (op, value, value_two): each comparison of seccomp_rule_add(3) on kill(2)'s signal argument, against
# signal 0 (`kill -0`) and 18 (SIGCONT); a runtime that ignores `op` (one comparison for all) fails some
SECCOMP_OP_CASES = [("SCMP_CMP_EQ", 0, 0), ("SCMP_CMP_NE", 0, 0), ("SCMP_CMP_LT", 10, 0), ("SCMP_CMP_LE", 0, 0),
                    ("SCMP_CMP_GE", 18, 0), ("SCMP_CMP_GT", 10, 0), ("SCMP_CMP_MASKED_EQ", 0x10, 0x10)]


def _op_matches(op: str, arg: int, value: int, value_two: int) -> bool:
    return {"SCMP_CMP_EQ": arg == value, "SCMP_CMP_NE": arg != value, "SCMP_CMP_LT": arg < value,
            "SCMP_CMP_LE": arg <= value, "SCMP_CMP_GE": arg >= value, "SCMP_CMP_GT": arg > value,
            "SCMP_CMP_MASKED_EQ": arg & value == value_two}[op]


@pytest.mark.clause("LC-CFG-SEC-05")
@pytest.mark.parametrize("op,value,value_two", SECCOMP_OP_CASES, ids=[c[0][9:] for c in SECCOMP_OP_CASES])
def test_seccomp_argument_comparison_is_the_configured_op(factory, config, op, value, value_two):
    profile = Seccomp(syscalls=[SyscallRule(names=["kill"], errno_ret=errno.EDOM,
                                            args=[SeccompArg(index=1, value=value, value_two=value_two, op=op)])])
    out, status = probe(factory, _with_seccomp(config, profile),
                        "kill -0 $$ 2>/dev/null; echo rc=$?; kill -CONT $$ 2>/dev/null; echo rc=$?", "init")
    assert status == 0, out
    got = [line != "rc=0" for line in out.strip().splitlines()[-2:]]
    want = [_op_matches(op, sig, value, value_two) for sig in (0, 18)]
    assert got == want, f"{op} {value:#x}/{value_two:#x}: kill -0 and kill -CONT denied {got}, want {want} ({out!r})"


@WHERE
@pytest.mark.clause("LC-CFG-SEC-06")
def test_seccomp_none_loads_no_filter(factory, config, where):
    out, status = probe(factory, _with_seccomp(config, None), CAP_LINES, where)
    assert status == 0
    assert status_fields(out)["Seccomp"] == "0"  # SECCOMP_MODE_DISABLED
