"""``Config.sysctl``: which kernel parameters a container may set (sysctl(8), OCI config-linux.md "Sysctl").

Only keys that a namespace of the container's own makes its own are
allowed, as runc's ``libcontainer/configs/validate`` decides: the rest
would change the host.
"""

from __future__ import annotations

import os

from .errors import ConfigInvalid


def _need(ok: bool, field_name: str, why: str) -> None:
    if not ok:
        raise ConfigInvalid(f"{field_name}: {why}")


#: sysctl(8) keys that a namespace makes the container's own, and the namespace they need
#: (runc's libcontainer/configs/validate: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.* with ipc;
#: net.* with net; kernel.hostname and kernel.domainname with uts)
#: each entry: (prefix, namespace); a prefix ending in ``*`` matches any key it begins, others match exactly
SYSCTL_NAMESPACES = (("kernel.msg*", "ipc"), ("kernel.sem", "ipc"), ("kernel.shm*", "ipc"), ("fs.mqueue.*", "ipc"),
                     ("net.*", "net"), ("kernel.hostname", "uts"), ("kernel.domainname", "uts"))


def sysctl_namespace(key: str) -> str | None:
    """The namespace that makes sysctl ``key`` the container's own (:data:`SYSCTL_NAMESPACES`), or None."""
    for pattern, ns in SYSCTL_NAMESPACES:
        if key == pattern or (pattern.endswith("*") and key.startswith(pattern[:-1])):
            return ns
    return None


def validate_sysctl(config) -> None:
    """Raise ConfigInvalid naming ``sysctl`` (or ``sysctl.KEY``) unless every entry of ``config.sysctl`` is a
    namespaced key (:data:`SYSCTL_NAMESPACES`) whose namespace the container makes or joins (not the host's)."""
    _need(isinstance(config.sysctl, dict), "sysctl", "must be a dict of str to str")
    for key, value in config.sysctl.items():
        _need(isinstance(key, str) and key and all(c.isalnum() or c in "._-" for c in key)
              and all(key.split(".")), "sysctl", f"{key!r} is not a sysctl name such as net.ipv4.ip_forward")
        _need(isinstance(value, str) and "\0" not in value and "\n" not in value, f"sysctl.{key}",
              "must be a string without NUL or newline")
        ns = sysctl_namespace(key)
        _need(ns is not None, f"sysctl.{key}", "is not in a kernel namespace of the container's own (refused, "
              "as runc does: it would change the host)")
        _need(ns in config.namespaces, f"sysctl.{key}", f"needs the {ns} namespace")
        if ns == "net" and "net" in config.namespace_paths:
            _need(os.stat(config.namespace_paths["net"]).st_ino != os.stat("/proc/1/ns/net").st_ino,
                  f"sysctl.{key}", "the joined net namespace is the host's")
