"""A container's ``state.json``: :class:`ContainerState`, its format version and JSON round trip.

The reference (``reference/factory.py``) and the OCI adapter (``conformance/oci/factory.py``)
write the same record; fields one of them does not use stay None. ``create`` writes it twice:
first with ``creating`` set (the monitor reads the config from it), then complete, which commits
the container; ``destroy`` removes it last (:func:`.statedir.remove_state_dir`). Writes are atomic
(temporary file, rename(2)).

What a file that is not a state of this format gives (SPEC.md LC-FAULT-04): :func:`load` and
:meth:`ContainerState.from_json` raise :class:`StateCorrupt`, a SystemFailure whose message names
the file and the field: for JSON that does not parse, a value that is not an object, a missing
or mistyped field, an ``id`` that is not the container's, a cgroup record leaving its parent, and
a file of another ``version`` (an older library wrote it: no conversion is attempted). The
factories' ``load`` raise it as it is (``LinuxFactory.destroy(id)`` still removes such a
container by its ``cgroup.json``); a handle never takes such a file as proof of a destroy
(:func:`incarnation`). Fields this version does not know are dropped.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass

from libcontainer.spec.errors import SystemFailure

from . import statedir

FORMAT_VERSION = 1
STARTED = ("init_pid", "init_start", "monitor_pid", "monitor_start")  # what a committed create adds


class StateCorrupt(SystemFailure):
    """``state.json`` is not a state this library wrote in this format: the message names the field."""


@dataclass
class ContainerState:
    """One container's record. Pids are host pids; ``*_start`` the process's start time (field 22
    of /proc/PID/stat, clock ticks since boot), which with the pid names it without the reuse race.

    ``config``: ``Config.to_dict()``. ``incarnation``: names this lifetime of the id (LC-FAULT-01).
    ``created``: seconds since the epoch. ``cgroup``: the reference's cgroup record (version, parent,
    name, procs_files, hierarchies or root, made). ``runtime``: the OCI runtime's name (adapter).
    ``creating``: create has not committed; nothing but the monitor may use the record then.
    ``await_start``: made by ``create(start=False)``: the init waits for StartRequest (LC-CREATED-01).
    """

    id: str
    config: dict
    incarnation: str
    created: float
    init_pid: int | None = None
    init_start: int | None = None
    monitor_pid: int | None = None
    monitor_start: int | None = None
    cgroup: dict | None = None
    runtime: str | None = None
    creating: bool = False
    await_start: bool = False
    version: int = FORMAT_VERSION

    def to_json(self) -> str:
        """The record as one JSON object (None fields left out)."""
        # the fields one level deep: ``config`` and ``cgroup`` are JSON data already (dataclasses.asdict
        # would deep-copy them, thousands of calls for a config with a seccomp profile)
        return json.dumps({f.name: v for f in dataclasses.fields(self) if (v := getattr(self, f.name)) is not None})

    @classmethod
    def from_json(cls, text: str | bytes, container_id: str | None = None,
                  require: tuple[str, ...] = ()) -> "ContainerState":
        """The record in ``text``; StateCorrupt naming the field when it is not one of this format,
        when its ``id`` is not ``container_id`` (if given), or when a field of ``require`` is
        missing from a committed (not ``creating``) record."""
        try:
            data = json.loads(text)
        except ValueError as e:
            raise StateCorrupt(f"not JSON: {e}") from None
        if not isinstance(data, dict):
            raise StateCorrupt(f"not an object but {type(data).__name__}")
        version = data.get("version")
        if version != FORMAT_VERSION:
            raise StateCorrupt(f"field 'version' is {version!r}: a state of another format (this library "
                               f"reads version {FORMAT_VERSION}); destroy the container by id"[:300])
        values = {}
        for field in dataclasses.fields(cls):
            if field.name in data:
                values[field.name] = _checked(field.name, data[field.name])
            elif field.default is dataclasses.MISSING:
                raise StateCorrupt(f"field {field.name!r} is missing")
        state = cls(**values)
        if container_id is not None and state.id != container_id:
            raise StateCorrupt(f"field 'id' is {state.id!r}"[:200])
        if not state.creating:
            for name in require:
                if getattr(state, name) is None:
                    raise StateCorrupt(f"field {name!r} is missing")
        if state.cgroup is not None:
            validate_cgroup(state.cgroup)
        return state


_TYPES = {"id": str, "config": dict, "incarnation": str, "created": (int, float), "init_pid": int,
          "init_start": int, "monitor_pid": int, "monitor_start": int, "cgroup": dict, "runtime": str,
          "creating": bool, "await_start": bool, "version": int}
_POSITIVE = frozenset(STARTED)


def _checked(name: str, value):
    kind = _TYPES[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        raise StateCorrupt(f"field {name!r} is not {' or '.join(k.__name__ for k in kinds)}: {value!r}"[:200])
    if name in _POSITIVE and value <= 0:
        raise StateCorrupt(f"field {name!r} is not positive: {value!r}")
    return value


def validate_cgroup(info) -> dict:
    """A cgroup record as the reference's factory writes it (in ``state.json`` and ``cgroup.json``);
    StateCorrupt naming the field otherwise, also for a name or parent that leaves the parent."""
    if not isinstance(info, dict) or info.get("version") not in (1, 2):
        raise StateCorrupt("field 'cgroup.version' is missing or not 1 or 2")
    keys = {"parent": str, "name": str, "procs_files": list}
    keys.update({"hierarchies": dict} if info["version"] == 1 else {"root": str})
    for name, kind in keys.items():
        if not isinstance(info.get(name), kind):
            raise StateCorrupt(f"field 'cgroup.{name}' is missing or not {kind.__name__}")
    name = info["name"]
    if not name or "/" in name or name in (".", "..") or ".." in info["parent"].split("/"):
        raise StateCorrupt(f"field 'cgroup.name' or 'cgroup.parent' is not a cgroup below the parent: {name!r}")
    return info


def load(path: str, container_id: str | None = None, require: tuple[str, ...] = ()) -> ContainerState:
    """The record in the file ``path`` (:meth:`ContainerState.from_json`); StateCorrupt names the
    file too. FileNotFoundError when there is none; other OSError (EACCES, EIO) as open(2)."""
    with open(path, "rb") as f:
        text = f.read()
    try:
        return ContainerState.from_json(text, container_id, require)
    except StateCorrupt as e:
        raise StateCorrupt(f"{path}: {e}") from None


def save(path: str, state: ContainerState, unlink_first: bool = False) -> None:
    """Write ``state`` to ``path`` atomically (:func:`.statedir.write_atomic`, whose ``unlink_first``
    this passes on). OSError."""
    statedir.write_atomic(path, state.to_json(), unlink_first)


def incarnation(path: str) -> str | None:
    """The ``incarnation`` in the file ``path``, read leniently: None when the file cannot be read
    or holds no incarnation (a tamperer, a full disk: no proof that the container was destroyed).
    FileNotFoundError when there is no file (the proof)."""
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise
    except (OSError, ValueError):
        return None
    value = data.get("incarnation") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def path_in(state_dir: str) -> str:
    """The path of ``state.json`` in ``state_dir``."""
    return os.path.join(state_dir, statedir.STATE)
