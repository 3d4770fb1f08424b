"""Validation of the config data classes: ConfigInvalid naming the field.

:func:`validate` checks a :class:`~libcontainer.spec.config.Config` as far as
it can be checked before a container exists (types, ranges, that ``rootfs``
is an existing directory, that a ``namespace_paths`` entry is a namespace
file of its type: ioctl_ns(2) NS_GET_NSTYPE); :func:`validate_process` a
:class:`~libcontainer.spec.config.Process` (LC-EXEC-05),
:func:`validate_resources` the cgroup limits. Each raises
:class:`~libcontainer.spec.errors.ConfigInvalid` whose message starts with
the field's path (``process.args``, ``resources.memory``,
``mounts[2].source``). None of them needs root.
"""

from __future__ import annotations

import os
from typing import Any

from .config import (NAMESPACES, ROOTFS_PROPAGATIONS, Config, DeviceRule, HugepageLimit, Mount, Process, Resources,
                     ThrottleDevice)
from .errors import ConfigInvalid
from .security import CAPABILITIES, SECCOMP_ACTIONS, SECCOMP_OPS, Capabilities, Device, IDMap, Network, Seccomp
from .sysctl import validate_sysctl


def _stdio_ok(value) -> bool:
    """None, or an int or ``fileno()`` object naming an open file descriptor (fstat(2) succeeds)."""
    if value is None:
        return True
    if not _is_int(value):
        try:
            value = value.fileno()
        except (AttributeError, ValueError, OSError):  # no fileno, closed file, io.UnsupportedOperation
            return False
        if not _is_int(value):
            return False
    if value < 0:
        return False
    try:
        os.fstat(value)
    except OSError:
        return False
    return True


# getrlimit(2)'s resources; NGROUPS_MAX (limits.h, Linux 2.6.4+); MAX_ARG_STRLEN (execve(2): 32 pages of 4 KiB)
RLIMITS = ("RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
           "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_RSS",
           "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK")
NGROUPS_MAX = 65536
MAX_ARG_STRLEN = 131072
MAX_ID_MAP_LINES = 340  # user_namespaces(7): since Linux 4.15


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _need(ok: bool, field_name: str, why: str) -> None:
    if not ok:
        raise ConfigInvalid(f"{field_name}: {why}")


def validate_process(process: Any, prefix: str = "process") -> None:
    """Raise ConfigInvalid unless ``process`` is a well-formed :class:`Process`."""
    _need(isinstance(process, Process), prefix, "must be a Process")
    args = process.args
    _need(isinstance(args, list) and len(args) > 0 and all(isinstance(a, str) and "\0" not in a for a in args),
          f"{prefix}.args", "must be a non-empty list of strings without NUL")
    _need(isinstance(process.env, list) and all(isinstance(e, str) and "=" in e and "\0" not in e
                                                for e in process.env),
          f"{prefix}.env", "must be a list of KEY=value strings")
    _need(isinstance(process.cwd, str) and process.cwd.startswith("/") and "\0" not in process.cwd,
          f"{prefix}.cwd", "must be an absolute path")
    for name in ("uid", "gid"):
        value = getattr(process, name)
        _need(_is_int(value) and 0 <= value < 2**32 - 1, f"{prefix}.{name}", "must be an id in 0..2^32-2")
    _need(isinstance(process.additional_gids, list)
          and all(_is_int(g) and 0 <= g < 2**32 - 1 for g in process.additional_gids),
          f"{prefix}.additional_gids", "must be a list of ids")
    _need(len(process.additional_gids) <= NGROUPS_MAX, f"{prefix}.additional_gids",
          f"must hold at most {NGROUPS_MAX} groups (setgroups(2) refuses more: EINVAL)")
    for i, a in enumerate(process.args):
        _need(len(a.encode()) < MAX_ARG_STRLEN, f"{prefix}.args[{i}]",
              f"must be shorter than {MAX_ARG_STRLEN} bytes (execve(2) refuses a longer string: E2BIG)")
    _need(isinstance(process.rlimits, dict), f"{prefix}.rlimits", "must be a dict")
    for key, pair in process.rlimits.items():
        _need(key in RLIMITS, f"{prefix}.rlimits", f"unknown limit {key!r} (getrlimit(2) names: {', '.join(RLIMITS)})")
        _need(isinstance(pair, (tuple, list)) and len(pair) == 2
              and all(_is_int(v) and -1 <= v < 2**64 - 1 for v in pair),
              f"{prefix}.rlimits.{key}", "must be (soft, hard) integers, -1 for unlimited")
        soft, hard = (2**64 - 1 if v == -1 else v for v in pair)  # -1 is RLIM_INFINITY
        _need(soft <= hard, f"{prefix}.rlimits.{key}",
              f"soft limit {pair[0]} is above the hard limit {pair[1]} (setrlimit(2) refuses it: EINVAL)")
    for name in Process.STDIO:
        _need(_stdio_ok(getattr(process, name)), f"{prefix}.{name}",
              "must be None, an open file descriptor or an open file with fileno()")
    _need(isinstance(process.no_new_privileges, bool), f"{prefix}.no_new_privileges", "must be a bool")
    caps = process.capabilities
    _need(caps is None or isinstance(caps, Capabilities), f"{prefix}.capabilities", "must be Capabilities or None")
    if caps is not None:
        for name in Capabilities.SETS:
            value = getattr(caps, name)
            _need(isinstance(value, list) and all(isinstance(c, str) for c in value),
                  f"{prefix}.capabilities.{name}", "must be a list of CAP_* names")
            bad = [c for c in value if c not in CAPABILITIES]
            _need(not bad, f"{prefix}.capabilities.{name}", f"unknown capabilities {bad}")
    _need(_is_int(process.umask) and 0 <= process.umask <= 0o777, f"{prefix}.umask", "must be 0..0o777")
    _need(isinstance(process.terminal, bool), f"{prefix}.terminal", "must be a bool")
    sock = process.console_socket
    _need(sock is None or (isinstance(sock, str) and sock.startswith("/") and "\0" not in sock),
          f"{prefix}.console_socket", "must be None or an absolute path")
    _need(not process.terminal or sock is not None, f"{prefix}.console_socket",
          "is needed with terminal (it receives the terminal's master end)")


def validate(config: Any) -> None:
    """Raise ConfigInvalid (naming the field) unless ``config`` is usable.

    Checks types and ranges, that ``rootfs`` is an absolute path to an
    existing directory, and that the initial process is valid.
    """
    _need(isinstance(config, Config), "config", "must be a Config")
    rootfs = config.rootfs
    _need(isinstance(rootfs, str) and rootfs.startswith("/") and "\0" not in rootfs,
          "rootfs", "must be an absolute path")
    _need(os.path.isdir(rootfs), "rootfs", f"{rootfs!r} is not a directory")
    _need(os.path.realpath(rootfs) != "/", "rootfs", "must not be the host's /")
    validate_process(config.process)
    if config.hostname is not None:
        _need(isinstance(config.hostname, str) and 0 < len(config.hostname.encode()) <= 64
              and "\0" not in config.hostname, "hostname", "must be 1 to 64 bytes")
    _need(isinstance(config.namespaces, list) and all(n in NAMESPACES for n in config.namespaces),
          "namespaces", f"must be a list of {', '.join(NAMESPACES)}")
    _need(len(set(config.namespaces)) == len(config.namespaces), "namespaces", "repeats a name")
    _need("mnt" in config.namespaces, "namespaces", "mnt is required (pivot_root needs it)")
    if config.hostname is not None:
        _need("uts" in config.namespaces, "hostname", "needs the uts namespace")
    parent = config.cgroup_parent
    _need(isinstance(parent, str) and parent and not parent.startswith("/")
          and all(p not in ("", ".", "..") for p in parent.split("/")) and "\0" not in parent,
          "cgroup_parent", "must be a relative cgroup path without . or ..")
    _need(isinstance(config.readonly_rootfs, bool), "readonly_rootfs", "must be a bool")
    validate_resources(config.resources)
    _need(isinstance(config.mounts, list) and all(isinstance(m, Mount) for m in config.mounts),
          "mounts", "must be a list of Mount")
    for i, m in enumerate(config.mounts):
        _need(isinstance(m.destination, str) and m.destination.startswith("/")
              and ".." not in m.destination.split("/"), f"mounts[{i}].destination", "must be absolute, no ..")
        _need(isinstance(m.type, str) and m.type, f"mounts[{i}].type", "must be a filesystem type")
        _need(isinstance(m.options, list) and all(isinstance(o, str) for o in m.options),
              f"mounts[{i}].options", "must be a list of strings")
        if m.type == "bind" or "bind" in m.options or "rbind" in m.options:
            _need(isinstance(m.source, str) and m.source.startswith("/") and os.path.exists(m.source),
                  f"mounts[{i}].source", "must be an existing absolute host path")
    _validate_security(config)
    validate_sysctl(config)
    prop = config.rootfs_propagation
    _need(prop is None or prop in ROOTFS_PROPAGATIONS, "rootfs_propagation",
          f"must be None or one of {', '.join(ROOTFS_PROPAGATIONS)}")


#: clone(2) flag of each namespace, as ioctl NS_GET_NSTYPE returns it (ioctl_ns(2))
NAMESPACE_TYPES = {"mnt": 0x00020000, "uts": 0x04000000, "ipc": 0x08000000, "user": 0x10000000, "pid": 0x20000000,
                   "net": 0x40000000, "cgroup": 0x02000000}
_NS_GET_NSTYPE = 0xB703


def namespace_type(path: str) -> int | None:
    """The CLONE_NEW* type of the namespace file ``path`` (ioctl_ns(2) NS_GET_NSTYPE), None if it is not one."""
    import fcntl
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return None
    try:
        return fcntl.ioctl(fd, _NS_GET_NSTYPE)
    except OSError:
        return None
    finally:
        os.close(fd)


def _abs_path(value) -> bool:
    return isinstance(value, str) and value.startswith("/") and "\0" not in value and ".." not in value.split("/")


def _validate_security(config: Config) -> None:
    paths = config.namespace_paths
    _need(isinstance(paths, dict), "namespace_paths", "must be a dict")
    for ns, path in paths.items():
        _need(ns in config.namespaces, f"namespace_paths.{ns}", "must name a namespace listed in namespaces")
        _need(isinstance(path, str) and path.startswith("/") and os.path.exists(path),
              f"namespace_paths.{ns}", "must be an existing absolute path")
        kind = namespace_type(path)
        _need(kind is not None, f"namespace_paths.{ns}", f"{path!r} is not a namespace file (nsfs)")
        _need(kind == NAMESPACE_TYPES[ns], f"namespace_paths.{ns}", f"{path!r} is a namespace of another type")
    for name in ("uid_mappings", "gid_mappings"):
        maps = getattr(config, name)
        _need(isinstance(maps, list) and all(isinstance(m, IDMap) for m in maps), name, "must be a list of IDMap")
        for i, m in enumerate(maps):
            _need(all(_is_int(v) and 0 <= v < 2**32 - 1 for v in (m.container_id, m.host_id))
                  and _is_int(m.size) and 0 < m.size < 2**32, f"{name}[{i}]", "ids must be 0..2^32-2, size > 0")
            _need(max(m.container_id, m.host_id) + m.size < 2**32, f"{name}[{i}]",
                  "the range runs past id 2^32-1 (user_namespaces(7); the kernel's map_write refuses a range "
                  "whose first id + size wraps 32 bits with EINVAL)")
        _need(len(maps) <= MAX_ID_MAP_LINES, name, f"must hold at most {MAX_ID_MAP_LINES} ranges (user_namespaces(7))")
        for side in ("container_id", "host_id"):
            ranges = sorted((getattr(m, side), getattr(m, side) + m.size, i) for i, m in enumerate(maps))
            for (_s1, e1, i1), (s2, _e2, i2) in zip(ranges, ranges[1:]):
                _need(s2 >= e1, f"{name}[{max(i1, i2)}]",
                      f"its {side} range overlaps {name}[{min(i1, i2)}] (user_namespaces(7): the kernel refuses "
                      "overlapping ranges with EINVAL)")
        if "user" in config.namespaces and "user" not in paths:
            _need(len(maps) > 0, name, "the user namespace needs at least one mapping")
        else:
            _need(not maps, name, "needs the user namespace")
    for name in ("masked_paths", "readonly_paths"):
        value = getattr(config, name)
        _need(isinstance(value, list), name, "must be a list of absolute paths")
        for i, p in enumerate(value):
            _need(_abs_path(p), f"{name}[{i}]", "must be an absolute path without ..")
    _need(isinstance(config.devices, list) and all(isinstance(d, Device) for d in config.devices),
          "devices", "must be a list of Device")
    for i, d in enumerate(config.devices):
        _need(_abs_path(d.path) and d.path.startswith("/dev/"), f"devices[{i}].path", "must be a path under /dev")
        _need(d.type in ("c", "u", "b", "p"), f"devices[{i}].type", "must be c, u, b or p")
        for f in ("major", "minor", "uid", "gid"):
            _need(_is_int(getattr(d, f)) and getattr(d, f) >= 0, f"devices[{i}].{f}", "must be a number >= 0")
        _need(_is_int(d.file_mode) and 0 <= d.file_mode <= 0o7777, f"devices[{i}].file_mode", "must be 0..0o7777")
    sc = config.seccomp
    _need(sc is None or isinstance(sc, Seccomp), "seccomp", "must be Seccomp or None")
    if sc is not None:
        _need(sc.default_action in SECCOMP_ACTIONS, "seccomp.default_action", f"must be one of {SECCOMP_ACTIONS}")
        _need(isinstance(sc.architectures, list) and all(isinstance(a, str) and a.startswith("SCMP_ARCH_")
                                                          for a in sc.architectures),
              "seccomp.architectures", "must be a list of SCMP_ARCH_* names")
        _need(isinstance(sc.syscalls, list), "seccomp.syscalls", "must be a list")
        for i, r in enumerate(sc.syscalls):
            where = f"seccomp.syscalls[{i}]"
            _need(isinstance(r.names, list) and r.names and all(isinstance(n, str) and n for n in r.names),
                  f"{where}.names", "must be a non-empty list of syscall names")
            _need(r.action in SECCOMP_ACTIONS, f"{where}.action", f"must be one of {SECCOMP_ACTIONS}")
            _need(r.errno_ret is None or (_is_int(r.errno_ret) and 0 <= r.errno_ret < 4096),
                  f"{where}.errno_ret", "must be an errno number")
            _need(isinstance(r.args, list) and len(r.args) <= 6, f"{where}.args", "must be a list of at most 6")
            for j, a in enumerate(r.args):
                _need(_is_int(a.index) and 0 <= a.index <= 5, f"{where}.args[{j}].index", "must be 0..5")
                _need(a.op in SECCOMP_OPS, f"{where}.args[{j}].op", f"must be one of {SECCOMP_OPS}")
                for f in ("value", "value_two"):
                    _need(_is_int(getattr(a, f)) and 0 <= getattr(a, f) < 2**64, f"{where}.args[{j}].{f}",
                          "must be a 64-bit unsigned number")
    net = config.network
    _need(net is None or isinstance(net, Network), "network", "must be Network or None")
    if net is not None:
        _need("net" in config.namespaces and "net" not in paths, "network", "needs a new net namespace")
        for f in ("host_ifname", "ifname"):
            v = getattr(net, f)
            _need(isinstance(v, str) and 0 < len(v.encode()) <= 15 and "/" not in v and " " not in v,
                  f"network.{f}", "must be an interface name of 1 to 15 bytes")
        for f in ("address", "host_address", "gateway"):
            v = getattr(net, f)
            _need(v is None or _is_ip(v, cidr=f != "gateway"), f"network.{f}",
                  "must be an address" + (" with a prefix length (10.0.0.2/24)" if f != "gateway" else ""))
        _need(net.mtu is None or (_is_int(net.mtu) and 68 <= net.mtu <= 65535), "network.mtu", "must be 68..65535")


def _is_ip(value, cidr: bool) -> bool:
    import ipaddress
    if not isinstance(value, str):
        return False
    try:
        if cidr:
            return "/" in value and ipaddress.ip_interface(value) is not None
        return ipaddress.ip_address(value) is not None
    except ValueError:
        return False


def _cpu_list_ok(value) -> bool:
    import re
    if not isinstance(value, str) or not value:
        return False
    for part in value.split(","):
        m = re.fullmatch(r"([0-9]+)(?:-([0-9]+))?", part)
        if m is None or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            return False
    return True


def validate_resources(res: Any) -> None:
    """Raise ConfigInvalid (naming ``resources.<field>``) unless ``res`` holds usable limits.

    Ranges are those of :class:`Resources`; they hold for both cgroup
    versions. Whether the host has a controller is checked at create time.
    """
    _need(isinstance(res, Resources), "resources", "must be Resources")
    for name in ("memory", "memory_reservation", "memory_swap"):
        value = getattr(res, name)
        _need(value is None or (_is_int(value) and (value == -1 or 0 < value < 2**63)),
              f"resources.{name}", "must be -1 or a positive number of bytes")
    if res.memory is not None and res.memory != -1:
        _need(res.memory >= 4 * 1024 * 1024, "resources.memory", "must be at least 4 MiB")
    if res.memory_swap is not None and res.memory_swap != -1:
        _need(res.memory is not None and res.memory != -1, "resources.memory_swap",
              "a swap limit needs a memory limit")
        _need(res.memory_swap >= res.memory, "resources.memory_swap", "must be at least resources.memory")
    _need(res.cpu_shares is None or (_is_int(res.cpu_shares) and 2 <= res.cpu_shares <= 262144),
          "resources.cpu_shares", "must be 2..262144")
    _need(res.cpu_weight is None or (_is_int(res.cpu_weight) and 1 <= res.cpu_weight <= 10000),
          "resources.cpu_weight", "must be 1..10000")
    _need(res.cpu_period is None or (_is_int(res.cpu_period) and 1000 <= res.cpu_period <= 1000000),
          "resources.cpu_period", "must be 1000..1000000 microseconds")
    _need(res.cpu_quota is None or (_is_int(res.cpu_quota) and (res.cpu_quota == -1 or 1000 <= res.cpu_quota < 2**63)),
          "resources.cpu_quota", "must be -1 or at least 1000 microseconds")
    _need(res.pids_limit is None or (_is_int(res.pids_limit) and -1 <= res.pids_limit < 2**63),
          "resources.pids_limit", "must be -1 (unlimited), 0 or a positive count")
    for name in ("cpuset_cpus", "cpuset_mems"):
        value = getattr(res, name)
        _need(value is None or _cpu_list_ok(value), f"resources.{name}",
              "must be a list such as 0-1,3 (each range low-high with low <= high; cpuset(7) List format)")
    _need(res.blkio_weight is None or (_is_int(res.blkio_weight) and 10 <= res.blkio_weight <= 1000),
          "resources.blkio_weight", "must be 10..1000")
    for name in Resources.THROTTLES:
        value = getattr(res, name)
        _need(isinstance(value, list) and all(isinstance(t, ThrottleDevice) for t in value),
              f"resources.{name}", "must be a list of ThrottleDevice")
        for i, t in enumerate(value):
            _need(all(_is_int(v) and 0 <= v < 2**32 for v in (t.major, t.minor)),
                  f"resources.{name}[{i}]", "major and minor must be device numbers")
            _need(_is_int(t.rate) and 0 <= t.rate < 2**63, f"resources.{name}[{i}].rate",
                  "must be a non-negative rate")
    if res.devices is not None:
        _need(isinstance(res.devices, list) and all(isinstance(d, DeviceRule) for d in res.devices),
              "resources.devices", "must be a list of DeviceRule")
        for i, d in enumerate(res.devices):
            where = f"resources.devices[{i}]"
            _need(isinstance(d.allow, bool), f"{where}.allow", "must be a bool")
            _need(d.type in ("a", "b", "c"), f"{where}.type", "must be a, b or c")
            for part in ("major", "minor"):
                value = getattr(d, part)
                _need(_is_int(value) and -1 <= value < 2**32, f"{where}.{part}", "must be -1 (any) or a number")
            _need(isinstance(d.access, str) and d.access and set(d.access) <= set("rwm")
                  and len(set(d.access)) == len(d.access), f"{where}.access", "must be a subset of rwm")
    _need(isinstance(res.hugetlb_limits, list) and all(isinstance(h, HugepageLimit) for h in res.hugetlb_limits),
          "resources.hugetlb_limits", "must be a list of HugepageLimit")
    for i, h in enumerate(res.hugetlb_limits):
        _need(isinstance(h.page_size, str) and h.page_size[:-2].isdigit() and h.page_size[-2:] in ("KB", "MB", "GB"),
              f"resources.hugetlb_limits[{i}].page_size", "must be a size such as 2MB or 1GB")
        _need(_is_int(h.limit) and 0 <= h.limit < 2**63, f"resources.hugetlb_limits[{i}].limit",
              "must be a non-negative number of bytes")
