"""Reading an OCI bundle's ``config.json`` (OCI runtime spec, config.md and config-linux.md) into a Config.

Fields read: ``process`` (args, env, cwd, user.uid/gid/additionalGids/umask,
terminal, capabilities, rlimits, noNewPrivileges), ``root`` (path, relative
to the bundle, and readonly), ``hostname``, ``mounts``, and under ``linux``:
namespaces (with ``path`` to join), uidMappings/gidMappings,
resources.memory/cpu/pids, maskedPaths, readonlyPaths, devices, seccomp,
sysctl (an object of strings) and rootfsPropagation.

The standard filesystems the runtime makes itself (/proc, /dev, /dev/pts,
/dev/shm, /dev/mqueue, /sys; see rootfs.py) are not repeated as mounts, and a
``cgroup`` mount is skipped (this implementation does not mount cgroupfs in
the container). Other fields, such as ``linux.resources.devices`` or
``annotations``, are ignored, as the spec lets a runtime ignore what it does
not implement. A field of the wrong type or value raises ConfigInvalid
naming it the way config.json spells it (``linux.namespaces[2].type``).
"""

from __future__ import annotations

import json
import os
from typing import Any

from .config import Config, Mount, Process, Resources, validate
from .errors import ConfigInvalid
from .security import Capabilities, Device, IDMap, Seccomp, SeccompArg, SyscallRule

NAMESPACE_NAMES = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt", "user": "user",
                   "cgroup": "cgroup"}
STANDARD_MOUNTS = {"/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs",
                   "/dev/mqueue": "mqueue", "/sys": "sysfs"}
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
        rlimits[_get(rl, "type", where, str)] = (_get(rl, "soft", where, int), _get(rl, "hard", where, int))
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
        dest = _get(m, "destination", where, str)
        mtype = _get(m, "type", where, str, "bind")
        options = _list_of(m, "options", where, str)
        if STANDARD_MOUNTS.get(dest) == mtype or mtype == "cgroup":
            continue
        if "bind" in options or "rbind" in options:
            mtype = "bind"
        out.append(Mount(destination=dest, type=mtype, source=_get(m, "source", where, str, ""), options=options))
    return out


def _resources(data: dict) -> Resources:
    w = "linux.resources"
    res = Resources()
    mem = _get(data, "memory", w, dict, {})
    res.memory = _get(mem, "limit", f"{w}.memory", int, None)
    res.memory_reservation = _get(mem, "reservation", f"{w}.memory", int, None)
    res.memory_swap = _get(mem, "swap", f"{w}.memory", int, None)
    cpu = _get(data, "cpu", w, dict, {})
    res.cpu_shares = _get(cpu, "shares", f"{w}.cpu", int, None)
    res.cpu_quota = _get(cpu, "quota", f"{w}.cpu", int, None)
    res.cpu_period = _get(cpu, "period", f"{w}.cpu", int, None)
    res.cpuset_cpus = _get(cpu, "cpus", f"{w}.cpu", str, None)
    res.cpuset_mems = _get(cpu, "mems", f"{w}.cpu", str, None)
    pids = _get(data, "pids", w, dict, {})
    res.pids_limit = _get(pids, "limit", f"{w}.pids", int, None)
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
    out = []
    for i, m in enumerate(_get(data, key, "linux", list, [])):
        where = f"linux.{key}[{i}]"
        out.append(IDMap(container_id=_get(m, "containerID", where, int), host_id=_get(m, "hostID", where, int),
                         size=_get(m, "size", where, int)))
    return out


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


def config_from_bundle(bundle_dir: str, console_socket: str | None = None) -> Config:
    """Read ``bundle_dir/config.json``; ConfigInvalid if it is missing, not JSON, or a field is bad."""
    path = os.path.join(bundle_dir, "config.json")
    try:
        with open(path) as f:
            spec = json.load(f)
    except FileNotFoundError:
        raise ConfigInvalid(f"config.json: {path} does not exist") from None
    except (OSError, ValueError) as e:
        raise ConfigInvalid(f"config.json: {e}") from None
    return config_from_dict(spec, bundle_dir, console_socket)
