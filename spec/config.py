"""Plain data classes for container and process configs.

Field names follow runc's ``libcontainer/configs`` in snake_case where the
seed era had the same concept. Namespace names are spelled as the kernel
spells them in ``/proc/<pid>/ns`` (``mnt``, ``pid``, ``uts``, ``ipc``,
``net``, ``user``, ``cgroup``).

:func:`validate` checks what can be checked without touching the host and
raises :class:`~libcontainer.spec.errors.ConfigInvalid` naming the field.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigInvalid

NAMESPACES = ("mnt", "pid", "uts", "ipc", "net", "user", "cgroup")
DEFAULT_NAMESPACES = ("mnt", "pid", "uts", "ipc", "net")
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
    """

    args: list[str]
    env: list[str] = field(default_factory=lambda: list(DEFAULT_ENV))
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)
    no_new_privileges: bool = False
    rlimits: dict[str, tuple[int, int]] = field(default_factory=dict)
    stdin: Any = field(default=None, compare=False, repr=False)
    stdout: Any = field(default=None, compare=False, repr=False)
    stderr: Any = field(default=None, compare=False, repr=False)

    STDIO = ("stdin", "stdout", "stderr")

    def to_dict(self) -> dict:
        """The process as JSON-ready data, without the stdio fields."""
        return {f.name: _plain(getattr(self, f.name))
                for f in dataclasses.fields(self) if f.name not in self.STDIO}

    @classmethod
    def from_dict(cls, data: dict) -> "Process":
        data = dict(data)
        data["rlimits"] = {k: tuple(v) for k, v in data.get("rlimits", {}).items()}
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
class Resources:
    """cgroup limits. None leaves a value as the kernel has it.

    ``memory``, ``memory_reservation``, ``memory_swap``: bytes (-1 is
    unlimited). ``cpu_shares`` (v1 shares, 2..262144), ``cpu_quota`` and
    ``cpu_period`` (microseconds). ``pids_limit``: 0 is literal, -1 is
    unlimited. ``cpuset_cpus``/``cpuset_mems``: list strings such as "0-1".
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


@dataclass
class Config:
    """A container's config (runc's ``configs.Config``, trimmed to what is used).

    ``rootfs``: absolute host path of the root filesystem (a directory).
    ``process``: the initial process, started by ``Factory.create``.
    ``hostname``: set in the container's uts namespace (None: unchanged).
    ``namespaces``: the kernel names of the namespaces to create.
    ``cgroup_parent``: the cgroup under which the container's own cgroup is
    made, relative to each hierarchy's root (default ``libcontainer``).
    """

    rootfs: str
    process: Process
    hostname: str | None = None
    namespaces: list[str] = field(default_factory=lambda: list(DEFAULT_NAMESPACES))
    resources: Resources = field(default_factory=Resources)
    cgroup_parent: str = "libcontainer"
    readonly_rootfs: bool = False
    mounts: list[Mount] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The config as JSON-ready data (the process without its stdio)."""
        data = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
        data["process"] = self.process.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Config":
        data = dict(data)
        data["process"] = Process.from_dict(data["process"])
        data["resources"] = Resources(**data.get("resources", {}))
        data["mounts"] = [Mount(**m) for m in data.get("mounts", [])]
        return cls(**data)


def _plain(value):
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


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
    _need(isinstance(process.rlimits, dict), f"{prefix}.rlimits", "must be a dict")
    for key, pair in process.rlimits.items():
        _need(isinstance(key, str) and key.startswith("RLIMIT_"), f"{prefix}.rlimits", f"unknown limit {key!r}")
        _need(isinstance(pair, (tuple, list)) and len(pair) == 2 and all(_is_int(v) and v >= -1 for v in pair),
              f"{prefix}.rlimits.{key}", "must be (soft, hard) integers")
    for name in Process.STDIO:
        value = getattr(process, name)
        ok = value is None or (_is_int(value) and value >= 0) or hasattr(value, "fileno")
        _need(ok, f"{prefix}.{name}", "must be None, a file descriptor or a file")


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
    res = config.resources
    _need(isinstance(res, Resources), "resources", "must be Resources")
    for name in ("memory", "memory_reservation", "memory_swap"):
        value = getattr(res, name)
        _need(value is None or (_is_int(value) and (value == -1 or 0 < value < 2**63)),
              f"resources.{name}", "must be -1 or a positive number of bytes")
    if res.memory is not None and res.memory != -1:
        _need(res.memory >= 4 * 1024 * 1024, "resources.memory", "must be at least 4 MiB")
    _need(res.cpu_shares is None or (_is_int(res.cpu_shares) and 2 <= res.cpu_shares <= 262144),
          "resources.cpu_shares", "must be 2..262144")
    _need(res.cpu_period is None or (_is_int(res.cpu_period) and 1000 <= res.cpu_period <= 1000000),
          "resources.cpu_period", "must be 1000..1000000 microseconds")
    _need(res.cpu_quota is None or (_is_int(res.cpu_quota) and (res.cpu_quota == -1 or 1000 <= res.cpu_quota < 2**63)),
          "resources.cpu_quota", "must be -1 or at least 1000 microseconds")
    _need(res.pids_limit is None or (_is_int(res.pids_limit) and -1 <= res.pids_limit < 2**63),
          "resources.pids_limit", "must be -1 (unlimited), 0 or a positive count")
    for name in ("cpuset_cpus", "cpuset_mems"):
        value = getattr(res, name)
        _need(value is None or (isinstance(value, str) and all(c in "0123456789,-" for c in value) and value),
              f"resources.{name}", "must be a list such as 0-1,3")
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
