"""Plain data classes for container and process configs, and their dict form.

Field names follow runc's ``libcontainer/configs`` in snake_case where the
seed era had the same concept. Namespace names are spelled as the kernel
spells them in ``/proc/<pid>/ns`` (``mnt``, ``pid``, ``uts``, ``ipc``,
``net``, ``user``, ``cgroup``).

Their validation is :mod:`libcontainer.spec.validation` (:func:`validate`
raises :class:`~libcontainer.spec.errors.ConfigInvalid` naming the field);
the OCI ``config.json`` form, both directions, is :mod:`libcontainer.spec.oci`.
The validators are importable from here too, as before the split.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigInvalid  # noqa: F401 - public here too
from .sysctl import SYSCTL_NAMESPACES, sysctl_namespace, validate_sysctl  # noqa: F401 - public here too
from .security import (CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, Capabilities,  # noqa: F401
                       Device, IDMap, Network, Seccomp)

NAMESPACES = ("mnt", "pid", "uts", "ipc", "net", "user", "cgroup")
DEFAULT_NAMESPACES = ("mnt", "pid", "uts", "ipc", "net")
ROOTFS_PROPAGATIONS = ("shared", "slave", "private", "unbindable")
DEFAULT_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)


@dataclass
class Process:
    """A process to run in a container (the seed's ``ProcessConfig``).

    ``args``: argv, ``args[0]`` looked up in the container's PATH.
    ``env``: ``KEY=value`` strings. ``cwd``: absolute path in the container.
    ``uid``/``gid``/``additional_gids``: numeric ids in the container's user
    namespace. ``stdin``/``stdout``/``stderr``: a file descriptor (int), an
    object with ``fileno()``, or None for ``/dev/null``; they are never
    stored on disk. ``rlimits``: ``{"RLIMIT_NOFILE": (soft, hard)}``.
    ``capabilities``: the five sets (default: runc's default set; None keeps
    every capability, a privileged process). ``no_new_privileges``:
    PR_SET_NO_NEW_PRIVS (prctl(2)). ``umask``: the file mode creation mask
    (default 0o022). ``terminal``: give the process a pseudo-terminal made
    in the container's devpts as its stdin/stdout/stderr and controlling
    terminal; the master end is sent (SCM_RIGHTS, runc's ``--console-socket``
    protocol) to the unix socket at ``console_socket``, a host path.
    """

    args: list[str]
    env: list[str] = field(default_factory=lambda: list(DEFAULT_ENV))
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)
    no_new_privileges: bool = False
    rlimits: dict[str, tuple[int, int]] = field(default_factory=dict)
    capabilities: Capabilities | None = field(default_factory=Capabilities)
    umask: int = 0o022
    terminal: bool = False
    console_socket: str | None = None
    stdin: Any = field(default=None, compare=False, repr=False)
    stdout: Any = field(default=None, compare=False, repr=False)
    stderr: Any = field(default=None, compare=False, repr=False)

    STDIO = ("stdin", "stdout", "stderr")

    def to_dict(self) -> dict:
        """The process as JSON-ready data, without the stdio fields."""
        return {name: _plain(getattr(self, name)) for name in _field_names(type(self)) if name not in self.STDIO}

    @classmethod
    def from_dict(cls, data: dict) -> "Process":
        data = dict(data)
        data["rlimits"] = {k: tuple(v) for k, v in data.get("rlimits", {}).items()}
        if data.get("capabilities") is not None:
            data["capabilities"] = Capabilities(**data["capabilities"])
        return cls(**data)


@dataclass
class Mount:
    """A mount made in the container before pivot_root (mount(2)).

    ``destination`` is absolute inside the container; ``source`` is a host
    path for ``bind`` mounts. ``options``: ``ro``, ``nosuid``, ``nodev``,
    ``noexec``, ``bind``, ``rbind`` and filesystem data such as ``mode=755``.
    """

    destination: str
    type: str = "bind"
    source: str = ""
    options: list[str] = field(default_factory=list)


@dataclass
class ThrottleDevice:
    """A per-device io limit: ``major``:``minor`` of a block device, ``rate`` in bytes/s or operations/s."""

    major: int
    minor: int
    rate: int


@dataclass
class DeviceRule:
    """One device cgroup rule (cgroup-v1/devices.rst): ``allow`` or deny ``access`` to devices.

    ``type``: ``a`` (all), ``b`` (block) or ``c`` (char). ``major``/``minor``:
    numbers, -1 for ``*`` (any). ``access``: a non-empty subset of ``rwm``
    (read, write, mknod).
    """

    allow: bool
    type: str = "a"
    major: int = -1
    minor: int = -1
    access: str = "rwm"


@dataclass
class HugepageLimit:
    """A hugetlb limit: ``page_size`` as the kernel names it (``2MB``, ``1GB``), ``limit`` in bytes."""

    page_size: str
    limit: int


@dataclass
class Resources:
    """cgroup limits. None (or an empty list) leaves a value as the kernel has it.

    Units and ranges (runc's ``configs.Resources``; conversions for cgroup v2
    are in ``libcontainer.reference.cgroups.convert``):

    * ``memory``, ``memory_reservation``: bytes, -1 unlimited. ``memory`` at
      least 4 MiB. ``memory_swap``: memory plus swap in bytes (the v1
      ``memory.memsw`` meaning), -1 unlimited; when positive it needs
      ``memory`` and must be at least ``memory``.
    * ``cpu_shares``: v1 shares, 2..262144. ``cpu_weight``: v2 weight,
      1..10000 (one of the two is converted to the other as runc does).
      ``cpu_quota`` (-1 unlimited, else >= 1000) and ``cpu_period``
      (1000..1000000): microseconds.
    * ``cpuset_cpus``/``cpuset_mems``: list strings such as ``"0-1,3"``.
    * ``pids_limit``: 0 is literal (no fork), -1 is unlimited.
    * ``blkio_weight``: 10..1000 (v1 blkio weight). ``blkio_throttle_*``:
      lists of :class:`ThrottleDevice` (bytes/s for ``*_bps_device``,
      operations/s for ``*_iops_device``).
    * ``devices``: :class:`DeviceRule` list written in order (so a deny-all
      rule usually comes first); None leaves the device cgroup alone.
    * ``hugetlb_limits``: :class:`HugepageLimit` list.
    """

    memory: int | None = None
    memory_reservation: int | None = None
    memory_swap: int | None = None
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    pids_limit: int | None = None
    cpu_weight: int | None = None
    blkio_weight: int | None = None
    blkio_throttle_read_bps_device: list[ThrottleDevice] = field(default_factory=list)
    blkio_throttle_write_bps_device: list[ThrottleDevice] = field(default_factory=list)
    blkio_throttle_read_iops_device: list[ThrottleDevice] = field(default_factory=list)
    blkio_throttle_write_iops_device: list[ThrottleDevice] = field(default_factory=list)
    devices: list[DeviceRule] | None = None
    hugetlb_limits: list[HugepageLimit] = field(default_factory=list)

    THROTTLES = ("blkio_throttle_read_bps_device", "blkio_throttle_write_bps_device",
                 "blkio_throttle_read_iops_device", "blkio_throttle_write_iops_device")

    def __post_init__(self):
        # from JSON (Config.from_dict): nested entries arrive as dicts
        for name in self.THROTTLES:
            setattr(self, name, _entries(getattr(self, name), ThrottleDevice))
        self.devices = _entries(self.devices, DeviceRule)
        self.hugetlb_limits = _entries(self.hugetlb_limits, HugepageLimit)


def _entries(value, cls):
    if isinstance(value, list):
        return [cls(**v) if isinstance(v, dict) else v for v in value]
    return value


@dataclass
class Config:
    """A container's config (runc's ``configs.Config``, trimmed to what is used).

    ``rootfs``: absolute host path of the root filesystem (a directory).
    ``process``: the initial process, started by ``Factory.create``.
    ``hostname``: set in the container's uts namespace (None: unchanged).
    ``namespaces``: the kernel names of the namespaces to create.
    ``cgroup_parent``: the cgroup under which the container's own cgroup is
    made, relative to each hierarchy's root (default ``libcontainer``).
    ``namespace_paths``: for a namespace named in ``namespaces``, a path such
    as ``/proc/<pid>/ns/net`` or a bind mount of one, to join instead of
    making a new one (setns(2)). ``uid_mappings``/``gid_mappings``: the user
    namespace's maps (needed with ``user``). ``masked_paths``: paths in the
    container made unreadable (/dev/null bound over files, an empty
    read-only tmpfs over directories); ``readonly_paths``: bind-remounted
    read-only. ``devices``: extra device nodes in /dev. ``seccomp``: the
    filter loaded before exec (default :meth:`Seccomp.default`; None loads
    none). ``network``: a veth pair to the host (None: only loopback).
    ``sysctl``: kernel parameters written to ``/proc/sys`` in the
    container's namespaces before the process starts, ``{"net.ipv4.ip_forward":
    "1"}`` (OCI ``linux.sysctl``; sysctl(8) names); only namespaced keys are
    allowed, see :data:`SYSCTL_NAMESPACES`. ``rootfs_propagation``: the mount
    propagation of the container's ``/`` (OCI ``linux.rootfsPropagation``;
    ``shared``, ``slave``, ``private`` or ``unbindable``, mount_namespaces(7);
    None: the implementation's default).
    """

    rootfs: str
    process: Process
    hostname: str | None = None
    namespaces: list[str] = field(default_factory=lambda: list(DEFAULT_NAMESPACES))
    resources: Resources = field(default_factory=Resources)
    cgroup_parent: str = "libcontainer"
    readonly_rootfs: bool = False
    mounts: list[Mount] = field(default_factory=list)
    namespace_paths: dict[str, str] = field(default_factory=dict)
    uid_mappings: list[IDMap] = field(default_factory=list)
    gid_mappings: list[IDMap] = field(default_factory=list)
    masked_paths: list[str] = field(default_factory=lambda: list(DEFAULT_MASKED_PATHS))
    readonly_paths: list[str] = field(default_factory=lambda: list(DEFAULT_READONLY_PATHS))
    devices: list[Device] = field(default_factory=list)
    seccomp: Seccomp | None = field(default_factory=Seccomp.default)
    network: Network | None = None
    sysctl: dict[str, str] = field(default_factory=dict)
    rootfs_propagation: str | None = None

    def to_dict(self) -> dict:
        """The config as JSON-ready data (the process without its stdio)."""
        data = {name: self.process.to_dict() if name == "process" else _plain(getattr(self, name))
                for name in _field_names(type(self))}
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Config":
        data = dict(data)
        data["process"] = Process.from_dict(data["process"])
        data["resources"] = Resources(**data.get("resources", {}))
        data["mounts"] = [Mount(**m) for m in data.get("mounts", [])]
        for name in ("uid_mappings", "gid_mappings"):
            data[name] = [IDMap(**m) for m in data.get(name, [])]
        data["devices"] = [Device(**d) for d in data.get("devices", [])]
        if data.get("seccomp") is not None:
            data["seccomp"] = Seccomp.from_dict(data["seccomp"])
        if data.get("network") is not None:
            data["network"] = Network(**data["network"])
        return cls(**data)

    @classmethod
    def from_oci(cls, bundle_dir: str, console_socket: str | None = None) -> "Config":
        """The Config of an OCI bundle: ``bundle_dir/config.json`` (OCI runtime spec config.md).

        ``console_socket`` is needed when ``process.terminal`` is true. What
        the bundle leaves out stays out (no seccomp filter, no
        capabilities), as OCI runtimes read it. Raises ConfigInvalid naming
        the field (``process.args``, ``linux.namespaces[2].type``, ...) when
        a field is missing, of the wrong type, or has a bad value. See
        :mod:`libcontainer.spec.oci` for the fields read.
        """
        from .oci import config_from_bundle
        return config_from_bundle(bundle_dir, console_socket)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # a dataclass's field names, looked up once per class


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _plain(value):
    """JSON-ready data of a dataclass instance, list, tuple or dict, recursively (as
    ``dataclasses.asdict``, without its deep copies; ``dataclasses.fields`` is looked up once per class:
    it was most of a create's ``Config.to_dict``)."""
    cls = type(value)
    if hasattr(cls, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in _field_names(cls)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# the validators, importable from here as before the split (validation.py imports the classes above)
from .validation import (MAX_ARG_STRLEN, MAX_ID_MAP_LINES, NGROUPS_MAX, RLIMITS, validate,  # noqa: E402,F401
                         validate_process, validate_resources)
