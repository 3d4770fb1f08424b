"""A :class:`libcontainer.spec.Config` as an OCI runtime bundle's ``config.json``.

Follows the OCI runtime specification (config.md, config-linux.md) at
version 1.0.2 and the defaults of ``runc spec`` (the mounts of /proc, /dev,
/dev/pts, /dev/shm, /dev/mqueue, /sys and /sys/fs/cgroup; a deny-all device
rule to which the runtime adds its default devices, plus the config's
devices). Capabilities, masked and read-only paths, seccomp, id maps,
namespace paths, devices, sysctl, rootfs propagation, umask, terminal and
the resources (memory, cpu, cpuset, pids, device rules, blockIO,
hugepageLimits; a cpu weight as the shares that convert back to it) follow
the Config's fields;
capabilities None (a privileged process) is the caller's bounding set.
``network`` (a veth pair) has no OCI field: the adapter refuses it
(NotSupported).
"""

from __future__ import annotations

import os

from libcontainer.spec import Config, Process, Resources
from libcontainer.spec.security import CAPABILITIES

OCI_VERSION = "1.0.2"
NAMESPACE_TYPES = {"mnt": "mount", "pid": "pid", "uts": "uts", "ipc": "ipc", "net": "network",
                   "user": "user", "cgroup": "cgroup"}


DEFAULT_MOUNTS = (
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
)


def known_capabilities() -> list[str]:
    """The names of the capabilities in this process's bounding set (``CapBnd`` of /proc/self/status, proc(5)).

    A container cannot hold more than its creator's bounding set, and the
    reference's init keeps exactly that set.
    """
    mask = (1 << len(CAPABILITIES)) - 1
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    mask = int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return [name for bit, name in enumerate(CAPABILITIES) if mask >> bit & 1]


def capabilities_json(process: Process) -> dict:
    """The five sets of ``process.capabilities``; None (a privileged process) is the caller's bounding set."""
    caps = getattr(process, "capabilities", None)
    if caps is None:
        every = known_capabilities()
        return {k: list(every) for k in ("bounding", "effective", "permitted")} | {"inheritable": [], "ambient": []}
    return {k: list(getattr(caps, k)) for k in ("bounding", "effective", "permitted", "inheritable", "ambient")}


def process_json(process: Process) -> dict:
    """The OCI ``process`` object (stdio passes through the runtime unless ``terminal``)."""
    data = {
        "terminal": bool(getattr(process, "terminal", False)),
        "user": {"uid": process.uid, "gid": process.gid},
        "args": list(process.args),
        "env": list(process.env),
        "cwd": process.cwd,
        "capabilities": capabilities_json(process),
        "noNewPrivileges": bool(process.no_new_privileges),
    }
    if getattr(process, "umask", None) is not None:
        data["user"]["umask"] = process.umask
    if process.additional_gids:
        data["user"]["additionalGids"] = list(process.additional_gids)
    if process.rlimits:
        # the OCI spec's rlimits are uint64: -1 (unlimited) is RLIM_INFINITY, 2^64-1 (getrlimit(2))
        data["rlimits"] = [{"type": k, "soft": s % 2**64, "hard": h % 2**64} for k, (s, h) in process.rlimits.items()]
    return data


def seccomp_json(seccomp) -> dict:
    """OCI ``linux.seccomp`` (config-linux.md, Seccomp) from a :class:`libcontainer.spec.Seccomp`."""
    out = {"defaultAction": seccomp.default_action, "architectures": list(seccomp.architectures),
           "syscalls": []}
    if seccomp.default_errno_ret is not None:
        out["defaultErrnoRet"] = seccomp.default_errno_ret
    for rule in seccomp.syscalls:
        r = {"names": list(rule.names), "action": rule.action}
        if rule.errno_ret is not None:
            r["errnoRet"] = rule.errno_ret
        if rule.args:
            r["args"] = [{"index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op} for a in rule.args]
        out["syscalls"].append(r)
    return out


def resources_json(config: Config) -> dict:
    """OCI ``linux.resources`` (config-linux.md, Control groups): memory, cpu, cpuset, pids, the device
    rules after a deny-all, blockIO, hugepageLimits; a cpu weight as the shares that convert back to it."""
    r = config.resources
    out: dict = {"devices": [{"allow": False, "access": "rwm"}]}
    mem = {k: v for k, v in (("limit", r.memory), ("reservation", r.memory_reservation),
                             ("swap", r.memory_swap)) if v is not None}
    if mem:
        out["memory"] = mem
    cpu = {k: v for k, v in (("shares", r.cpu_shares), ("quota", r.cpu_quota), ("period", r.cpu_period),
                             ("cpus", r.cpuset_cpus), ("mems", r.cpuset_mems)) if v is not None}
    if r.cpu_weight is not None and r.cpu_shares is None:
        # OCI 1.0.2 has only shares: the smallest shares that runc converts back to this weight on v2
        cpu["shares"] = 2 + -(-(r.cpu_weight - 1) * 262142 // 9999)
    if cpu:
        out["cpu"] = cpu
    if r.pids_limit is not None:
        out["pids"] = {"limit": r.pids_limit}
    for rule in r.devices or []:
        entry = {"allow": rule.allow, "type": rule.type, "access": rule.access}
        entry.update({k: v for k, v in (("major", rule.major), ("minor", rule.minor)) if v != -1})
        out["devices"].append(entry)
    blkio: dict = {}
    if r.blkio_weight is not None:
        blkio["weight"] = r.blkio_weight
    for name, key in zip(Resources.THROTTLES, ("throttleReadBpsDevice", "throttleWriteBpsDevice",
                                               "throttleReadIOPSDevice", "throttleWriteIOPSDevice")):
        if getattr(r, name):
            blkio[key] = [{"major": t.major, "minor": t.minor, "rate": t.rate} for t in getattr(r, name)]
    if blkio:
        out["blockIO"] = blkio
    if r.hugetlb_limits:
        out["hugepageLimits"] = [{"pageSize": h.page_size, "limit": h.limit} for h in r.hugetlb_limits]
    return out


def config_json(config: Config, cgroups_path: str) -> dict:
    """The bundle's ``config.json`` for ``config``; the container's cgroup is ``cgroups_path`` (absolute)."""
    mounts = [dict(m) for m in DEFAULT_MOUNTS]
    if "net" not in config.namespaces:
        # sysfs of the host's network namespace cannot be mounted from a new mount namespace alone
        mounts = [m if m["destination"] != "/sys" else
                  {"destination": "/sys", "type": "bind", "source": "/sys",
                   "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]} for m in mounts]
    for m in config.mounts:
        mounts.append({"destination": m.destination, "type": m.type, "source": m.source or m.type,
                       "options": list(m.options)})
    paths = getattr(config, "namespace_paths", {}) or {}
    linux: dict = {
        "namespaces": [{"type": NAMESPACE_TYPES[n], **({"path": paths[n]} if n in paths else {})}
                       for n in config.namespaces],
        "cgroupsPath": cgroups_path,
        "resources": resources_json(config),
        "maskedPaths": list(getattr(config, "masked_paths", [])),
        "readonlyPaths": list(getattr(config, "readonly_paths", [])),
    }
    for key, attr in (("uidMappings", "uid_mappings"), ("gidMappings", "gid_mappings")):
        maps = getattr(config, attr, [])
        if maps:
            linux[key] = [{"containerID": m.container_id, "hostID": m.host_id, "size": m.size} for m in maps]
    devices = getattr(config, "devices", [])
    if devices:
        linux["devices"] = [{"path": d.path, "type": d.type, "major": d.major, "minor": d.minor,
                             "fileMode": d.file_mode, "uid": d.uid, "gid": d.gid} for d in devices]
        # the device cgroup knows character and block devices only (a fifo needs no rule; u is c)
        linux["resources"]["devices"] += [{"allow": True, "type": "b" if d.type == "b" else "c", "major": d.major,
                                           "minor": d.minor, "access": "rwm"} for d in devices if d.type != "p"]
    seccomp = getattr(config, "seccomp", None)
    if seccomp is not None:
        linux["seccomp"] = seccomp_json(seccomp)
    if getattr(config, "sysctl", None):
        linux["sysctl"] = dict(config.sysctl)
    if getattr(config, "rootfs_propagation", None):
        linux["rootfsPropagation"] = config.rootfs_propagation
    data = {
        "ociVersion": OCI_VERSION,
        "process": process_json(config.process),
        "root": {"path": os.path.abspath(config.rootfs), "readonly": bool(config.readonly_rootfs)},
        "mounts": mounts,
        "linux": linux,
    }
    if config.hostname is not None:
        data["hostname"] = config.hostname
    return data
