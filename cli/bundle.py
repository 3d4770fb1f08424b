"""A bundle's ``config.json`` and an exec's ``process.json`` as the reference's Config and Process.

Both go through ``libcontainer.spec.oci`` (``Config.from_oci``). What that converter does not read
and the reference cannot honour is refused here with the field named (runtime-spec config.md: a
runtime MUST generate an error for a property it does not support, rather than ignore it), except
``annotations`` (runtime-spec: MAY be ignored) which go to the OCI state. ``linux.cgroupsPath``
is read here: its directory becomes the Config's ``cgroup_parent`` (the container's own cgroup
is named by the reference, under it). ``linux.resources.devices`` is read here too, with runc's
default allows (:data:`RUNC_ALLOWED_DEVICES`) when its rules leave those devices to the runtime
(:func:`device_rules`).
"""

from __future__ import annotations

import dataclasses
import json
import os

from libcontainer.spec import Config, ConfigInvalid, DeviceRule, Process, validate
from libcontainer.spec.oci import NAMESPACE_TYPES, config_from_dict, read_bundle

#: (path in config.json, why it cannot be honoured): refused when present and not empty
REFUSED = (
    (("hooks",), "OCI hooks are not run by the reference"),
    (("process", "apparmorProfile"), "AppArmor profiles are not applied by the reference"),
    (("process", "selinuxLabel"), "SELinux labels are not applied by the reference"),
    (("process", "oomScoreAdj"), "oom_score_adj is not set by the reference"),
    (("process", "ioPriority"), "I/O priority is not set by the reference"),
    (("process", "scheduler"), "scheduling policy is not set by the reference"),
    (("linux", "mountLabel"), "SELinux mount labels are not applied by the reference"),
    (("linux", "intelRdt"), "Intel RDT is not supported by the reference"),
    (("linux", "personality"), "personality(2) is not set by the reference"),
    (("linux", "timeOffsets"), "time namespaces are not supported by the reference"),
    (("linux", "resources", "network"), "net_cls/net_prio are not supported by the reference"),
    (("linux", "resources", "rdma"), "the rdma controller is not supported by the reference"),
    (("linux", "resources", "unified"), "cgroup v2 unified keys are not supported by the reference"),
    (("linux", "resources", "memory", "kernel"), "kernel memory limits are not set by the reference"),
    (("linux", "resources", "memory", "kernelTCP"), "kernel TCP memory limits are not set by the reference"),
    (("linux", "resources", "memory", "swappiness"), "memory.swappiness is not set by the reference"),
    (("linux", "resources", "memory", "disableOOMKiller"), "the OOM killer is not disabled by the reference"),
    (("linux", "resources", "cpu", "realtimeRuntime"), "real-time CPU limits are not set by the reference"),
    (("linux", "resources", "cpu", "realtimePeriod"), "real-time CPU limits are not set by the reference"),
    (("linux", "resources", "blockIO", "leafWeight"), "blkio leaf weights are not set by the reference"),
    (("linux", "resources", "blockIO", "weightDevice"), "per-device blkio weights are not set by the reference"),
    (("linux", "seccomp", "flags"), "seccomp flags are not applied by the reference"),
    (("linux", "seccomp", "listenerPath"), "seccomp notify listeners are not supported by the reference"),
    (("domainname",), "the NIS domain name is not set by the reference"),
)


def _at(data, path):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def refuse_unsupported(spec: dict) -> None:
    """ConfigInvalid naming the first field of :data:`REFUSED` that ``spec`` sets."""
    for path, why in REFUSED:
        value = _at(spec, path)
        if value not in (None, "", [], {}, 0):
            raise ConfigInvalid(f"{'.'.join(path)}: {why}")


#: runc's AllowedDevices (libcontainer/specconv), appended after a config's own device rules:
#: mknod of any node, /dev/null, random, full, tty, zero, urandom, console, pts, ptmx, net/tun
RUNC_ALLOWED_DEVICES = (("c", -1, -1, "m"), ("b", -1, -1, "m"), ("c", 1, 3, "rwm"), ("c", 1, 8, "rwm"),
                        ("c", 1, 7, "rwm"), ("c", 5, 0, "rwm"), ("c", 1, 5, "rwm"), ("c", 1, 9, "rwm"),
                        ("c", 5, 1, "rwm"), ("c", 136, -1, "rwm"), ("c", 5, 2, "rwm"), ("c", 10, 200, "rwm"))


def _governs_default_devices(rule: DeviceRule, nodes: set) -> bool:
    """True when ``rule`` allows reading or writing one of runc's default devices (mknod-only rules
    do not), other than as the rule of a node the config lists in ``linux.devices`` (``nodes``:
    (type, major, minor))."""
    if not rule.allow or not set(rule.access) & set("rw") or (rule.type, rule.major, rule.minor) in nodes:
        return False
    return any(rule.type in ("a", kind) and rule.major in (-1, major) and rule.minor in (-1, minor) and "r" in access
               for kind, major, minor, access in RUNC_ALLOWED_DEVICES)


def device_rules(rules, nodes=()) -> list[DeviceRule] | None:
    """``linux.resources.devices`` (config-linux.md "Device allowlist") as the reference's device
    rules, applied in order. runtime-spec ("Default Devices": the runtime MUST supply /dev/null,
    zero, full, random, urandom, tty, console, ptmx) is read as runc reads it for a config whose
    rules leave those devices to the runtime (podman, docker and ctr deny all and allow at most
    the nodes of ``linux.devices``; ``nodes``: their (type, major, minor)): runc's default allows
    (:data:`RUNC_ALLOWED_DEVICES`, mknod included) follow the config's rules. A config whose rules
    allow one of them otherwise is taken as the whole list (SPEC.md LC-CFG-RES-08: a device no
    allow rule covers fails with EPERM), where runc would still append its defaults."""
    if rules is None:
        return None
    if not isinstance(rules, list):
        raise ConfigInvalid("linux.resources.devices: must be a list")
    out = []
    for i, rule in enumerate(rules):
        where = f"linux.resources.devices[{i}]"
        if not isinstance(rule, dict) or not isinstance(rule.get("allow"), bool):
            raise ConfigInvalid(f"{where}.allow: must be a boolean")
        numbers = [rule.get(key) for key in ("major", "minor")]
        if any(n is not None and (not isinstance(n, int) or isinstance(n, bool)) for n in numbers):
            raise ConfigInvalid(f"{where}: major and minor must be integers")
        out.append(DeviceRule(allow=rule["allow"], type=rule.get("type") or "a",
                              major=-1 if numbers[0] is None else numbers[0],
                              minor=-1 if numbers[1] is None else numbers[1], access=rule.get("access") or "rwm"))
    if any(_governs_default_devices(rule, set(nodes)) for rule in out):
        return out
    return out + [DeviceRule(True, kind, major, minor, access) for kind, major, minor, access in RUNC_ALLOWED_DEVICES]


def config_of(bundle: str, console_socket: str | None, default_parent: str) -> tuple[Config, dict]:
    """(the Config, the annotations) of ``bundle``'s config.json."""
    spec = read_bundle(bundle)
    refuse_unsupported(spec)
    config = config_from_dict(spec, bundle, console_socket)
    cgroups_path = _at(spec, ("linux", "cgroupsPath"))
    if cgroups_path is not None and not isinstance(cgroups_path, str):
        raise ConfigInvalid("linux.cgroupsPath: must be a string")
    parent = os.path.dirname(cgroups_path.strip("/")) if cgroups_path else default_parent
    if ":" in (cgroups_path or ""):
        raise ConfigInvalid(f"linux.cgroupsPath {cgroups_path!r}: a systemd slice path; systemd cgroups are "
                            "not supported (use the cgroupfs form /parent/name)")
    nodes = [("b" if d.type == "b" else "c", d.major, d.minor) for d in config.devices if d.type != "p"]
    devices = device_rules(_at(spec, ("linux", "resources", "devices")), nodes)
    resources = dataclasses.replace(config.resources, devices=devices)
    config = dataclasses.replace(config, cgroup_parent=parent or default_parent, resources=resources)
    validate(config)
    annotations = spec.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise ConfigInvalid("annotations: must be an object")
    return config, annotations


def process_of(data: dict, config: Config, console_socket: str | None) -> Process:
    """An exec's process (runtime-spec config.md "process") through the same converter, read
    beside the container's ``config`` (its rootfs and namespaces)."""
    if not isinstance(data, dict):
        raise ConfigInvalid("process.json: must be a JSON object")
    refuse_unsupported({"process": data})
    linux = {"namespaces": [{"type": NAMESPACE_TYPES[name]} for name in config.namespaces]}
    spec = {"root": {"path": config.rootfs}, "process": data, "linux": linux}
    return config_from_dict(spec, "/", console_socket).process
