"""An OCI bundle's ``config.json`` and a Config, both directions (OCI runtime spec 1.0.2, config.md,
config-linux.md).

**OCI -> Config** (:func:`config_from_dict`, :func:`config_from_bundle`, ``Config.from_oci``) reads
``process``, ``root``, ``hostname``, ``mounts`` and ``linux`` (namespaces with ``path``, id mappings,
resources memory/cpu/pids/blockIO/hugepageLimits, masked and read-only paths, devices, seccomp, sysctl,
rootfsPropagation). The filesystems the runtime makes itself (/proc, /dev, /dev/pts, /dev/shm,
/dev/mqueue, /sys) and ``cgroup`` mounts are skipped; other fields (``linux.resources.devices``,
``annotations``) are ignored, as the spec allows. A field of the wrong type or value raises
ConfigInvalid naming it as config.json spells it (``linux.namespaces[2].type``). An rlimit of 2^64-1
(RLIM_INFINITY as uint64) reads as -1.

**Config -> OCI** (:func:`config_json`) writes ``runc spec``'s defaults (its standard mounts; a deny-all
device rule, the config's rules, an allow rule per device node); capabilities None (privileged) is the
caller's bounding set; ``network`` has no OCI field.

**Round trip**: ``config_from_dict(config_json(c, path), "/") == c`` for a valid Config within what OCI
carries: not ``network``, ``cgroup_parent``, ``console_socket``, ``cpu_weight`` (written as shares),
``resources.devices``, capabilities None, a mount with an empty source (spec/units/test_oci_roundtrip.py).
"""

from __future__ import annotations

import json
import os
from typing import Any

from .config import Config, HugepageLimit, Mount, Process, Resources, ThrottleDevice
from .errors import ConfigInvalid
from .security import CAPABILITIES, Capabilities, Device, IDMap, Seccomp, SeccompArg, SyscallRule
from .validation import validate

OCI_VERSION = "1.0.2"
#: kernel name (Config.namespaces) -> OCI ``linux.namespaces[].type``, and the reverse
NAMESPACE_TYPES = {"mnt": "mount", "pid": "pid", "uts": "uts", "ipc": "ipc", "net": "network",
                   "user": "user", "cgroup": "cgroup"}
NAMESPACE_NAMES = {oci: kernel for kernel, oci in NAMESPACE_TYPES.items()}
STANDARD_MOUNTS = {"/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs",
                   "/dev/mqueue": "mqueue", "/sys": "sysfs"}
#: /sys without a new net namespace (sysfs of the host's cannot be mounted from a new mount namespace alone)
SYSFS_BIND = {"destination": "/sys", "type": "bind", "source": "/sys",
              "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
RLIM_INFINITY = 2**64 - 1  # getrlimit(2), as the OCI spec's uint64
BLKIO_THROTTLES = dict(zip(Resources.THROTTLES, ("throttleReadBpsDevice", "throttleWriteBpsDevice",
                                                 "throttleReadIOPSDevice", "throttleWriteIOPSDevice")))


# -- OCI -> Config ---------------------------------------------------------

_MISSING = object()


def _get(obj: dict, key: str, where: str, kind, default: Any = _MISSING):
    value = obj.get(key, _MISSING) if isinstance(obj, dict) else _MISSING
    name = f"{where}.{key}" if where else key
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise ConfigInvalid(f"{name}: is required")
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        raise ConfigInvalid(f"{name}: must be {' or '.join(k.__name__ for k in kinds)}, not {type(value).__name__}")
    return value


def _list_of(obj: dict, key: str, where: str, kind, default=()) -> list:
    items = _get(obj, key, where, list, _MISSING if default is _MISSING else list(default))
    for i, item in enumerate(items):
        if not isinstance(item, kind) or (kind is int and isinstance(item, bool)):
            raise ConfigInvalid(f"{where}.{key}[{i}]: must be {kind.__name__}")
    return items


def _process(data: dict, console_socket: str | None) -> Process:
    w = "process"
    user = _get(data, "user", w, dict, {})
    process = Process(
        args=_list_of(data, "args", w, str, default=_MISSING),
        env=_list_of(data, "env", w, str),
        cwd=_get(data, "cwd", w, str),
        uid=_get(user, "uid", "process.user", int, 0),
        gid=_get(user, "gid", "process.user", int, 0),
        additional_gids=_list_of(user, "additionalGids", "process.user", int),
        no_new_privileges=_get(data, "noNewPrivileges", w, bool, False),
        terminal=_get(data, "terminal", w, bool, False),
        console_socket=console_socket,
    )
    umask = _get(user, "umask", "process.user", int, None)
    if umask is not None:
        process.umask = umask
    caps = _get(data, "capabilities", w, dict, None)
    if caps is None:
        process.capabilities = Capabilities(bounding=[], effective=[], permitted=[], inheritable=[], ambient=[])
    else:
        process.capabilities = Capabilities(**{s: _list_of(caps, s, "process.capabilities", str)
                                               for s in Capabilities.SETS})
    rlimits = {}
    for i, rl in enumerate(_get(data, "rlimits", w, list, [])):
        where = f"process.rlimits[{i}]"
        soft, hard = (-1 if v == RLIM_INFINITY else v for v in (_get(rl, k, where, int) for k in ("soft", "hard")))
        rlimits[_get(rl, "type", where, str)] = (soft, hard)
    process.rlimits = rlimits
    if process.terminal and console_socket is None:
        raise ConfigInvalid("process.terminal: true needs a console socket (pass console_socket=PATH)")
    return process


def _mounts(data: list) -> list[Mount]:
    out = []
    for i, m in enumerate(data):
        where = f"mounts[{i}]"
        if not isinstance(m, dict):
            raise ConfigInvalid(f"{where}: must be an object")
        if m == SYSFS_BIND:
            continue
        dest = _get(m, "destination", where, str)
        mtype = _get(m, "type", where, str, "bind")
        options = _list_of(m, "options", where, str)
        if STANDARD_MOUNTS.get(dest) == mtype or mtype == "cgroup":
            continue
        if "bind" in options or "rbind" in options:
            mtype = "bind"
        out.append(Mount(destination=dest, type=mtype, source=_get(m, "source", where, str, ""), options=options))
    return out


#: Resources field -> (OCI object under linux.resources, key, type)
_RESOURCE_FIELDS = {"memory": ("memory", "limit", int), "memory_reservation": ("memory", "reservation", int),
                    "memory_swap": ("memory", "swap", int), "cpu_shares": ("cpu", "shares", int),
                    "cpu_quota": ("cpu", "quota", int), "cpu_period": ("cpu", "period", int),
                    "cpuset_cpus": ("cpu", "cpus", str), "cpuset_mems": ("cpu", "mems", str),
                    "pids_limit": ("pids", "limit", int), "blkio_weight": ("blockIO", "weight", int)}


def _resources(data: dict) -> Resources:
    w = "linux.resources"
    res = Resources()
    for name, (obj, key, kind) in _RESOURCE_FIELDS.items():
        setattr(res, name, _get(_get(data, obj, w, dict, {}), key, f"{w}.{obj}", kind, None))
    blkio = _get(data, "blockIO", w, dict, {})
    for name, key in BLKIO_THROTTLES.items():
        setattr(res, name, [ThrottleDevice(*(_get(t, k, f"{w}.blockIO.{key}[{i}]", int) for k in ("major", "minor",
                                                                                                "rate")))
                            for i, t in enumerate(_get(blkio, key, f"{w}.blockIO", list, []))])
    res.hugetlb_limits = [HugepageLimit(_get(h, "pageSize", f"{w}.hugepageLimits[{i}]", str),
                                        _get(h, "limit", f"{w}.hugepageLimits[{i}]", int))
                          for i, h in enumerate(_get(data, "hugepageLimits", w, list, []))]
    return res


def _seccomp(data: dict) -> Seccomp:
    w = "linux.seccomp"
    rules = []
    for i, r in enumerate(_get(data, "syscalls", w, list, [])):
        where = f"{w}.syscalls[{i}]"
        args = []
        for j, a in enumerate(_get(r, "args", where, list, [])):
            aw = f"{where}.args[{j}]"
            args.append(SeccompArg(index=_get(a, "index", aw, int), value=_get(a, "value", aw, int),
                                   value_two=_get(a, "valueTwo", aw, int, 0), op=_get(a, "op", aw, str)))
        rules.append(SyscallRule(names=_list_of(r, "names", where, str), action=_get(r, "action", where, str),
                                 errno_ret=_get(r, "errnoRet", where, int, None), args=args))
    return Seccomp(default_action=_get(data, "defaultAction", w, str),
                   default_errno_ret=_get(data, "defaultErrnoRet", w, int, None),
                   architectures=_list_of(data, "architectures", w, str), syscalls=rules)


def _idmaps(data: dict, key: str) -> list[IDMap]:
    return [IDMap(*(_get(m, k, f"linux.{key}[{i}]", int) for k in ("containerID", "hostID", "size")))
            for i, m in enumerate(_get(data, key, "linux", list, []))]


def _devices(data: list) -> list[Device]:
    out = []
    for i, d in enumerate(data):
        where = f"linux.devices[{i}]"
        out.append(Device(path=_get(d, "path", where, str), type=_get(d, "type", where, str),
                          major=_get(d, "major", where, int, 0), minor=_get(d, "minor", where, int, 0),
                          file_mode=_get(d, "fileMode", where, int, 0o666), uid=_get(d, "uid", where, int, 0),
                          gid=_get(d, "gid", where, int, 0)))
    return out


def _sysctl(linux: dict) -> dict[str, str]:
    data = _get(linux, "sysctl", "linux", dict, {})
    for key, value in data.items():
        if not isinstance(value, str):
            raise ConfigInvalid(f"linux.sysctl.{key}: must be str, not {type(value).__name__}")
    return dict(data)


def config_from_dict(spec: dict, bundle_dir: str, console_socket: str | None = None) -> Config:
    """The Config of an OCI config (already parsed JSON); ``root.path`` is relative to ``bundle_dir``."""
    if not isinstance(spec, dict):
        raise ConfigInvalid("config.json: must be a JSON object")
    root = _get(spec, "root", "", dict)
    rootfs = os.path.join(os.path.abspath(bundle_dir), _get(root, "path", "root", str))
    process = _process(_get(spec, "process", "", dict), console_socket)
    linux = _get(spec, "linux", "", dict, {})
    namespaces, paths = [], {}
    for i, ns in enumerate(_get(linux, "namespaces", "linux", list, [])):
        where = f"linux.namespaces[{i}]"
        kind = _get(ns, "type", where, str)
        if kind not in NAMESPACE_NAMES:
            raise ConfigInvalid(f"{where}.type: unknown namespace {kind!r}")
        name = NAMESPACE_NAMES[kind]
        namespaces.append(name)
        path = _get(ns, "path", where, str, None)
        if path:
            paths[name] = path
    config = Config(
        rootfs=os.path.normpath(rootfs), process=process,
        hostname=_get(spec, "hostname", "", str, None),
        namespaces=namespaces,
        resources=_resources(_get(linux, "resources", "linux", dict, {})),
        readonly_rootfs=_get(root, "readonly", "root", bool, False),
        mounts=_mounts(_get(spec, "mounts", "", list, [])),
        namespace_paths=paths,
        uid_mappings=_idmaps(linux, "uidMappings"),
        gid_mappings=_idmaps(linux, "gidMappings"),
        masked_paths=_list_of(linux, "maskedPaths", "linux", str),
        readonly_paths=_list_of(linux, "readonlyPaths", "linux", str),
        devices=_devices(_get(linux, "devices", "linux", list, [])),
        seccomp=_seccomp(linux["seccomp"]) if linux.get("seccomp") is not None else None,
        sysctl=_sysctl(linux),
        rootfs_propagation=_get(linux, "rootfsPropagation", "linux", str, None) or None,
    )
    validate(config)
    return config


def read_bundle(bundle_dir: str) -> dict:
    """The OCI runtime spec in ``bundle_dir/config.json`` as a dict, unconverted; ConfigInvalid if it is
    missing (runc's message), not JSON, or not an object (runtime-spec "Filesystem Bundle")."""
    try:
        with open(os.path.join(bundle_dir, "config.json")) as f:
            spec = json.load(f)
    except FileNotFoundError:
        raise ConfigInvalid(f"JSON specification file config.json not found in {bundle_dir}") from None
    except (OSError, ValueError) as e:
        raise ConfigInvalid(f"config.json: {e}") from None
    if not isinstance(spec, dict):
        raise ConfigInvalid("config.json: must be a JSON object")
    return spec


def config_from_bundle(bundle_dir: str, console_socket: str | None = None) -> Config:
    """Read ``bundle_dir/config.json`` (:func:`read_bundle`) and convert it; ConfigInvalid if it is
    missing, not JSON, or a field is bad."""
    return config_from_dict(read_bundle(bundle_dir), bundle_dir, console_socket)


# -- Config -> OCI ---------------------------------------------------------

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
    """The capabilities of this process's bounding set (``CapBnd``, proc(5)): all a container can hold."""
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
    data = {"terminal": bool(getattr(process, "terminal", False)), "user": {"uid": process.uid, "gid": process.gid},
            "args": list(process.args), "env": list(process.env), "cwd": process.cwd,
            "capabilities": capabilities_json(process), "noNewPrivileges": bool(process.no_new_privileges)}
    if getattr(process, "umask", None) is not None:
        data["user"]["umask"] = process.umask
    if process.additional_gids:
        data["user"]["additionalGids"] = list(process.additional_gids)
    if process.rlimits:
        # the OCI spec's rlimits are uint64: -1 (unlimited) is RLIM_INFINITY
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
    for name, key in BLKIO_THROTTLES.items():
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
        mounts = [m if m["destination"] != "/sys" else dict(SYSFS_BIND) for m in mounts]
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
