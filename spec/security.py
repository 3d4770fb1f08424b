"""Security settings of a config: capabilities, seccomp, id mappings, devices, network, and their defaults.

Shapes follow the OCI runtime spec (config.md, config-linux.md) in
snake_case: ``process.capabilities``, ``linux.seccomp``,
``linux.uidMappings``, ``linux.devices``, ``linux.maskedPaths`` and
``linux.readonlyPaths``. Names of capabilities are as in capabilities(7)
(``CAP_CHOWN``); names of seccomp actions and operators as in
seccomp_rule_add(3) (``SCMP_ACT_ERRNO``, ``SCMP_CMP_MASKED_EQ``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: capabilities(7), in kernel bit order (CAP_CHOWN is bit 0; CAP_CHECKPOINT_RESTORE is 40)
CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)

#: runc's default set (libcontainer/README.md's example config; also Docker's default): 14 capabilities
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

#: the OCI runtime spec's / runc spec's defaults for linux.maskedPaths and linux.readonlyPaths
DEFAULT_MASKED_PATHS = (
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
)
DEFAULT_READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

SECCOMP_ACTIONS = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
                   "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG")
SECCOMP_OPS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
               "SCMP_CMP_MASKED_EQ")

#: syscalls the default profile makes fail with EPERM: those that Docker's default profile
#: (moby profiles/seccomp/default.json) allows to no container without extra capabilities
DEFAULT_SECCOMP_DENIED = (
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
    "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms", "get_mempolicy",
    "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie",
    "mbind", "mount", "mount_setattr", "move_mount", "move_pages", "name_to_handle_at", "nfsservctl",
    "open_by_handle_at", "open_tree", "perf_event_open", "pivot_root", "process_vm_readv",
    "process_vm_writev", "ptrace", "query_module", "quotactl", "quotactl_fd", "reboot", "request_key",
    "set_mempolicy", "setns", "settimeofday", "stime", "swapoff", "swapon", "syslog", "sysfs", "_sysctl",
    "umount", "umount2", "unshare", "uselib", "userfaultfd", "ustat", "vm86", "vm86old",
)
#: clone(2) flags that make namespaces (unshare and clone3 are denied wholesale)
CLONE_NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)


@dataclass
class Capabilities:
    """The five capability sets of a process (capabilities(7)), as lists of ``CAP_*`` names.

    The default is runc's default set in bounding, effective and permitted,
    and nothing inheritable or ambient.
    """

    bounding: list[str] = field(default_factory=lambda: list(DEFAULT_CAPABILITIES))
    effective: list[str] = field(default_factory=lambda: list(DEFAULT_CAPABILITIES))
    permitted: list[str] = field(default_factory=lambda: list(DEFAULT_CAPABILITIES))
    inheritable: list[str] = field(default_factory=list)
    ambient: list[str] = field(default_factory=list)

    SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")

    @classmethod
    def all(cls) -> "Capabilities":
        """Every capability the kernel may know in every set but ambient (a privileged process)."""
        caps = list(CAPABILITIES)
        return cls(bounding=caps, effective=list(caps), permitted=list(caps), inheritable=[], ambient=[])


@dataclass
class SeccompArg:
    """A condition on syscall argument ``index`` (0..5): ``arg <op> value`` (MASKED_EQ: ``arg & value == value_two``)."""

    index: int
    value: int
    value_two: int = 0
    op: str = "SCMP_CMP_EQ"


@dataclass
class SyscallRule:
    """``names`` get ``action``; ``errno_ret`` is the errno of SCMP_ACT_ERRNO (default EPERM)."""

    names: list[str]
    action: str = "SCMP_ACT_ERRNO"
    errno_ret: int | None = None
    args: list[SeccompArg] = field(default_factory=list)


@dataclass
class Seccomp:
    """A seccomp filter (OCI ``linux.seccomp``), loaded through libseccomp just before exec.

    ``default_action`` applies to syscalls no rule names. ``architectures``:
    extra ``SCMP_ARCH_*`` names besides the native one (syscalls of any other
    architecture are killed). Unknown syscall names are skipped, as runc does.
    """

    default_action: str = "SCMP_ACT_ALLOW"
    default_errno_ret: int | None = None
    architectures: list[str] = field(default_factory=list)
    syscalls: list[SyscallRule] = field(default_factory=list)

    @classmethod
    def default(cls) -> "Seccomp":
        """The default profile: EPERM for :data:`DEFAULT_SECCOMP_DENIED` and for clone(2) with a
        namespace flag, ENOSYS for clone3 (its flags cannot be filtered; libc falls back to clone)."""
        rules = [SyscallRule(names=list(DEFAULT_SECCOMP_DENIED), errno_ret=1)]
        for flag in CLONE_NAMESPACE_FLAGS:
            rules.append(SyscallRule(names=["clone"], errno_ret=1,
                                     args=[SeccompArg(index=0, value=flag, value_two=flag, op="SCMP_CMP_MASKED_EQ")]))
        rules.append(SyscallRule(names=["clone3"], errno_ret=38))
        return cls(syscalls=rules)

    @classmethod
    def from_dict(cls, data: dict) -> "Seccomp":
        data = dict(data)
        data["syscalls"] = [SyscallRule(**{**r, "args": [SeccompArg(**a) for a in r.get("args", [])]})
                            for r in data.get("syscalls", [])]
        return cls(**data)


@dataclass
class IDMap:
    """One line of /proc/<pid>/uid_map or gid_map (user_namespaces(7)): ``size`` ids from
    ``container_id`` in the container map to ``host_id`` on the host."""

    container_id: int
    host_id: int
    size: int


@dataclass
class Device:
    """A device node made in the container's /dev (OCI ``linux.devices``).

    ``type``: ``c`` (or ``u``) character, ``b`` block, ``p`` fifo. ``path``
    absolute in the container. With a user namespace (where mknod(2) is not
    allowed) the host's node of the same path is bind-mounted instead.
    """

    path: str
    type: str = "c"
    major: int = 0
    minor: int = 0
    file_mode: int = 0o666
    uid: int = 0
    gid: int = 0


@dataclass
class Network:
    """A veth pair between the host and the container's net namespace (made with pyroute2).

    ``host_ifname``: the host end's name (at most 15 bytes). ``ifname``: the
    container end's name. Addresses are CIDR strings (``10.200.0.2/24``);
    ``gateway`` becomes the container's default route. The pair disappears
    with the container's net namespace.
    """

    host_ifname: str
    ifname: str = "eth0"
    address: str | None = None
    host_address: str | None = None
    gateway: str | None = None
    mtu: int | None = None
