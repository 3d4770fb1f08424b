"""``lcrun spec``, ``lcrun features``, ``lcrun --version``."""

from __future__ import annotations

import json
import os

from libcontainer.spec import NAMESPACES, Config, Process
from libcontainer.spec.oci import NAMESPACE_TYPES, OCI_VERSION, config_json, known_capabilities

VERSION = "0.1.0"


def version_text() -> str:
    return f"lcrun version {VERSION}\nspec: {OCI_VERSION}\n"


def spec(bundle: str) -> None:
    """Write runc's example config.json (``sh`` on a terminal, rootfs ``rootfs``) into ``bundle``;
    refuses to overwrite one (runc: "File config.json exists. Remove it first")."""
    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise FileExistsError(f"File {path} exists. Remove it first")
    env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"]
    config = Config(rootfs=os.path.join(os.path.abspath(bundle), "rootfs"),
                    process=Process(args=["sh"], env=env, terminal=True))
    data = config_json(config, "")
    data["root"] = {"path": "rootfs", "readonly": True}
    data["linux"].pop("cgroupsPath", None)
    with open(path, "w") as f:
        json.dump(data, f, indent="\t")


def features() -> dict:
    """What this runtime honours (runtime-spec features.md, as ``runc features`` prints it)."""
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": [],
        "mountOptions": ["ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "bind", "rbind",
                         "private", "rprivate", "shared", "rshared", "slave", "rslave", "relatime", "strictatime"],
        "linux": {
            "namespaces": sorted(NAMESPACE_TYPES[n] for n in NAMESPACES),
            "capabilities": known_capabilities(),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {"enabled": True},
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
        "annotations": {"org.libcontainer.lcrun.createStart": "true"},
    }
