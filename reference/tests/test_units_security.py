"""Unit tests of the security pieces that need no container: validation, seccomp compile, capability masks."""

from __future__ import annotations

import dataclasses
import errno
import os

import pytest

from libcontainer.reference import capabilities as caps
from libcontainer.reference import seccomp
from libcontainer.spec import (Capabilities, Config, ConfigInvalid, Device, IDMap, Network, Process, Seccomp,
                               SeccompArg, SyscallRule, validate)
from libcontainer.spec.security import CAPABILITIES, DEFAULT_CAPABILITIES


@pytest.fixture
def base(tmp_path):
    return Config(rootfs=str(tmp_path), process=Process(args=["true"]))


def test_default_config_round_trips_through_dict(base):
    validate(base)
    assert Config.from_dict(base.to_dict()) == base
    full = dataclasses.replace(base, namespaces=base.namespaces + ["user"], uid_mappings=[IDMap(0, 1000, 1)],
                               gid_mappings=[IDMap(0, 1000, 1)], devices=[Device(path="/dev/fuse", major=10, minor=229)],
                               network=Network(host_ifname="v0", address="192.0.2.2/24"),
                               process=dataclasses.replace(base.process, capabilities=None, umask=0o77))
    validate(full)
    assert Config.from_dict(full.to_dict()) == full


@pytest.mark.parametrize("change, field", [
    (lambda c: c.process.__setattr__("capabilities", Capabilities(effective=["CAP_FLY"])), "process.capabilities.effective"),
    (lambda c: c.process.__setattr__("umask", 0o1000), "process.umask"),
    (lambda c: c.process.__setattr__("terminal", True), "process.console_socket"),
    (lambda c: c.__setattr__("uid_mappings", [IDMap(0, 1000, 1)]), "uid_mappings"),
    (lambda c: c.__setattr__("namespaces", c.namespaces + ["user"]), "uid_mappings"),
    (lambda c: c.__setattr__("namespace_paths", {"net": "/nonexistent"}), "namespace_paths.net"),
    (lambda c: c.__setattr__("masked_paths", ["relative"]), "masked_paths[0]"),
    (lambda c: c.__setattr__("readonly_paths", ["/a/../b"]), "readonly_paths[0]"),
    (lambda c: c.__setattr__("devices", [Device(path="/etc/x")]), "devices[0].path"),
    (lambda c: c.__setattr__("devices", [Device(path="/dev/x", type="z")]), "devices[0].type"),
    (lambda c: c.__setattr__("seccomp", Seccomp(default_action="SCMP_ACT_NOPE")), "seccomp.default_action"),
    (lambda c: c.__setattr__("seccomp", Seccomp(syscalls=[SyscallRule(names=[])])), "seccomp.syscalls[0].names"),
    (lambda c: c.__setattr__("seccomp", Seccomp(syscalls=[SyscallRule(names=["x"], args=[SeccompArg(6, 0)])])),
     "seccomp.syscalls[0].args[0].index"),
    (lambda c: c.__setattr__("network", Network(host_ifname="x" * 16)), "network.host_ifname"),
    (lambda c: c.__setattr__("network", Network(host_ifname="v0", gateway="1.2.3.4/8")), "network.gateway"),
])
def test_bad_security_fields_are_config_invalid_naming_the_field(base, change, field):
    change(base)
    with pytest.raises(ConfigInvalid) as info:
        validate(base)
    assert str(info.value).startswith(field), str(info.value)


def test_capability_masks():
    assert caps.mask(["CAP_CHOWN", "CAP_KILL"], 40) == 0b100001
    assert caps.mask(["CAP_CHECKPOINT_RESTORE"], 39) == 0  # unknown to an older kernel: skipped
    assert caps.names(caps.mask(list(DEFAULT_CAPABILITIES), 40)) == [c for c in CAPABILITIES
                                                                     if c in DEFAULT_CAPABILITIES]
    assert len(CAPABILITIES) == 41


def test_default_seccomp_profile_compiles_and_blocks_the_required_calls():
    prof = Seccomp.default()
    denied = {n for r in prof.syscalls for n in r.names if r.errno_ret == 1 and not r.args}
    assert {"keyctl", "add_key", "kexec_load", "mount"} <= denied
    f = seccomp.build(prof)
    try:
        assert set(f.skipped) <= {"stime", "umount", "vm86", "vm86old"}  # not syscalls on x86_64
    finally:
        f.release()


def test_seccomp_filter_in_a_forked_child_fails_keyctl_with_eperm_and_leaves_getpid():
    import ctypes
    f = seccomp.build(Seccomp(syscalls=[SyscallRule(names=["keyctl"], errno_ret=1)]))
    pid = os.fork()
    if pid == 0:
        try:
            f.load(no_new_privileges=True)
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            ret = libc.syscall(250, 0, -3, 0)  # keyctl on x86_64
            ok = ret == -1 and ctypes.get_errno() == 1 and libc.syscall(39) == os.getpid()
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    f.release()
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_repeated_seccomp_rule_compiles():
    """podman 4.3.1's default profile, filtered by capabilities: socket's rules, one of them twice,
    on three architectures. libseccomp answers -EEXIST for the repeat, which is in the filter already."""
    from libcontainer.spec import SeccompArg
    refuse_audit = SyscallRule(names=["socket"], action="SCMP_ACT_ERRNO", errno_ret=22,
                               args=[SeccompArg(0, 16), SeccompArg(2, 9)])
    not_audit = SyscallRule(names=["socket"], action="SCMP_ACT_ALLOW", args=[SeccompArg(2, 9, op="SCMP_CMP_NE")])
    not_netlink = SyscallRule(names=["socket"], action="SCMP_ACT_ALLOW", args=[SeccompArg(0, 16, op="SCMP_CMP_NE")])
    profile = Seccomp(default_action="SCMP_ACT_ERRNO", default_errno_ret=38,
                      architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                      syscalls=[refuse_audit, not_audit, not_netlink, not_audit])
    seccomp.build(profile).release()


def test_unknown_seccomp_architecture_is_an_error():
    with pytest.raises(seccomp.SeccompError):
        seccomp.build(Seccomp(architectures=["SCMP_ARCH_NOPE"]))


def test_close_fds_except_keeps_only_those():
    pid = os.fork()
    if pid == 0:
        try:
            extra = [os.open("/dev/null", os.O_RDONLY) for _ in range(5)]
            from libcontainer.plumbing import linux
            linux.close_fds_except((0, 1, 2, extra[2]))
            left = sorted(int(x) for x in os.listdir("/proc/self/fd"))
            # listdir opens one fd of its own, the lowest free one
            os._exit(0 if set(left) - {0, 1, 2, extra[2]} <= {min(set(range(64)) - {0, 1, 2, extra[2]})} else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_compiled_seccomp_is_built_once_per_profile_content():
    """seccomp.compiled keeps one Filter per profile content: an equal profile (a config read back from
    state.json) gets the same Filter, another profile its own; the program is classic BPF (8 bytes each)."""
    first = seccomp.compiled(Seccomp.default())
    again = seccomp.compiled(Config.from_dict(Config(rootfs="/r", process=Process(args=["true"])).to_dict()).seccomp)
    other = seccomp.compiled(Seccomp(syscalls=[SyscallRule(names=["keyctl"], errno_ret=1)]))
    assert again is first
    assert other is not first and other.program != first.program
    assert first.program and len(first.program) % 8 == 0


def test_a_seccomp_filter_loaded_without_no_new_privileges_needs_cap_sys_admin():
    """Filter.load(no_new_privileges=False) as seccomp_load(3) with SCMP_FLTATR_CTL_NNP off: allowed with
    CAP_SYS_ADMIN, EACCES without it (seccomp(2)); no_new_privs stays off either way."""
    from libcontainer.plumbing import linux
    f = seccomp.compiled(Seccomp(syscalls=[SyscallRule(names=["keyctl"], errno_ret=1)]))
    pid = os.fork()
    if pid == 0:
        try:
            admin = linux.capget()[0] >> CAPABILITIES.index("CAP_SYS_ADMIN") & 1
            try:
                f.load(no_new_privileges=False)
                outcome = "loaded"
            except OSError as e:
                outcome = "EACCES" if e.errno == errno.EACCES else f"errno {e.errno}"
            nnp = linux.prctl(linux.PR_GET_NO_NEW_PRIVS)
            os._exit(0 if outcome == ("loaded" if admin else "EACCES") and nnp == 0 else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
