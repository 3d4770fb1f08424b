"""A bundle's ``config.json`` and an exec's ``process.json`` as the reference's Config and Process.

Both go through ``libcontainer.spec.oci`` (``Config.from_oci``). What that converter does not read
and the reference cannot honour is refused here with the field named (runtime-spec config.md: a
runtime MUST generate an error for a property it does not support, rather than ignore it), except
``annotations`` (runtime-spec: MAY be ignored) which go to the OCI state. ``linux.cgroupsPath``
is read here: its directory becomes the Config's ``cgroup_parent`` (the container's own cgroup
is named by the reference, under it).
"""

from __future__ import annotations

import dataclasses
import json
import os

from libcontainer.spec import Config, ConfigInvalid, Process
from libcontainer.spec.oci import NAMESPACE_TYPES, config_from_dict

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


def read_spec(bundle: str) -> dict:
    path = os.path.join(bundle, "config.json")
    try:
        with open(path) as f:
            spec = json.load(f)
    except FileNotFoundError:
        raise ConfigInvalid(f"JSON specification file config.json not found in {bundle}") from None
    except (OSError, ValueError) as e:
        raise ConfigInvalid(f"config.json: {e}") from None
    if not isinstance(spec, dict):
        raise ConfigInvalid("config.json: must be a JSON object")
    return spec


def config_of(bundle: str, console_socket: str | None, default_parent: str) -> tuple[Config, dict]:
    """(the Config, the annotations) of ``bundle``'s config.json."""
    spec = read_spec(bundle)
    refuse_unsupported(spec)
    config = config_from_dict(spec, bundle, console_socket)
    cgroups_path = _at(spec, ("linux", "cgroupsPath"))
    if cgroups_path is not None and not isinstance(cgroups_path, str):
        raise ConfigInvalid("linux.cgroupsPath: must be a string")
    parent = os.path.dirname(cgroups_path.strip("/")) if cgroups_path else default_parent
    if ":" in (cgroups_path or ""):
        raise ConfigInvalid(f"linux.cgroupsPath {cgroups_path!r}: a systemd slice path; systemd cgroups are "
                            "not supported (use the cgroupfs form /parent/name)")
    config = dataclasses.replace(config, cgroup_parent=parent or default_parent)
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
