"""What an OCI runtime binary can do, probed from the binary itself, with presets for what cannot be.

``--runtime oci:PATH [GLOBAL-FLAGS...]`` (or a bare absolute ``PATH``) names
any OCI runtime command line (runc(8)-like: ``create``, ``start``,
``state``, ``kill``, ``delete``, ``exec``, ``ps``). :func:`probe` learns:

* name and version: the first line of ``PATH --version`` (``NAME version
  V`` for runc, crun and runsc; otherwise the file's name);
* ``features``: the JSON of ``PATH features`` (the OCI runtime features
  document, opencontainers/runtime-spec ``features.md``; runc >= 1.1 has
  it, crun 1.8.1 and runsc 20221219 have not), else None;
* the commands: the indented first words of ``PATH --help`` (runc, crun and
  runsc list their commands so), so ``has_events`` is whether ``events``
  is one of them;
* ``refuses_hybrid``: only on a hybrid host whose cgroup2 lists controllers
  (the one case that matters), by trying: ``create`` of an empty bundle in
  a scratch ``--root`` and reading the error for crun's refusal ("cgroups
  in hybrid mode not supported"); the container is deleted at once.

A :class:`Preset` (``runc``, ``crun``, ``runsc``) gives the global flags a
runtime needs on this host and what no probe can tell (how ``--log`` names
its file); a preset's ``refuses_hybrid`` replaces the trying probe.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass

from .cli import Runtime, find
from .files import remove_empty_cgroup

PROBE_TIMEOUT = 10.0
HYBRID_REFUSAL = "hybrid mode not supported"
_COMMAND_LINE = re.compile(r"^\s+([a-z][a-z0-9-]*)\b")
_VERSION_LINE = re.compile(r"^(\S+) version (\S+)")


@dataclass(frozen=True)
class Preset:
    """Knowledge of one runtime that its binary cannot be asked for.

    ``flags``: global flags put before every command (runsc here needs
    ``--platform=ptrace``: no usable KVM; ``--network=none``: no veth
    network in the adapter; ``--oci-seccomp``: without it runsc ignores
    ``linux.seccomp``; ``--net-raw``: without it runsc drops CAP_NET_RAW
    from the config's capabilities; ``runsc flags``). ``log_prefix``: what ``--log`` wants before the
    file name (crun(1): ``file:PATH``). ``refuses_hybrid``: known answer,
    None to probe. ``host_pids``: ``ps`` lists host pids (runsc lists the
    pids of its own kernel, gVisor's Sentry, which no host call can use)."""

    binary: str
    flags: tuple = ()
    log_prefix: str = ""
    refuses_hybrid: bool | None = None
    host_pids: bool = True


PRESETS = {
    "runc": Preset("runc", refuses_hybrid=False),
    "crun": Preset("crun", log_prefix="file:", refuses_hybrid=True),
    "runsc": Preset("runsc", flags=("--platform=ptrace", "--network=none", "--oci-seccomp", "--net-raw"),
                    refuses_hybrid=False, host_pids=False),
}


@dataclass(frozen=True)
class Features:
    """The probed abilities of one runtime command line (``argv``: binary and global flags)."""

    argv: tuple
    name: str
    version: str           # the first line of --version
    commands: frozenset    # the commands --help lists
    features: dict | None  # the JSON of `features`, if the runtime has the command
    has_events: bool
    refuses_hybrid: bool
    log_prefix: str = ""
    host_pids: bool = True

    def summary(self) -> str:
        """One line for the run header: version and what was probed."""
        parts = [f"events={'yes' if self.has_events else 'no'}",
                 f"features={'yes' if self.features is not None else 'no'}",
                 f"hybrid-cgroups={'refused' if self.refuses_hybrid else 'ok'}",
                 f"ps={'host pids' if self.host_pids else 'own pids'}"]
        return f"{self.version}; {', '.join(parts)}"


def parse(spec: str) -> tuple:
    """``oci:PATH FLAGS...`` or ``PATH FLAGS...`` as (absolute binary, flags); raises ValueError.

    PATH must be an executable file (a bare name is looked up in ``PATH``
    only after ``oci:``); the flags are split as a shell would (shlex)."""
    text = spec[len("oci:"):] if spec.startswith("oci:") else spec
    words = shlex.split(text)
    if not words:
        raise ValueError(f"--runtime {spec!r}: name the runtime binary, oci:PATH")
    binary = words[0] if "/" in words[0] else shutil.which(words[0])
    if binary is None or not os.path.isfile(binary) or not os.access(binary, os.X_OK):
        raise ValueError(f"--runtime {spec!r}: {words[0]} is not an executable file")
    return os.path.abspath(binary), tuple(words[1:])


def _output(argv: list, timeout: float = PROBE_TIMEOUT):
    """(exit status or None, stdout and stderr) of ``argv``; the output goes through a file, never a pipe
    (a ``create`` hands its stdio to the container, which would keep a pipe open)."""
    with tempfile.TemporaryFile("w+") as out:
        try:
            rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                timeout=timeout, check=False).returncode
        except (OSError, subprocess.TimeoutExpired):
            rc = None
        out.seek(0)
        return rc, out.read()


def probe_version(argv: list) -> tuple:
    """(name, first line of ``--version``); the name is the file's name when the line is not ``NAME version V``."""
    _, text = _output([*argv, "--version"])
    line = text.strip().splitlines()[0] if text.strip() else "unknown"
    m = _VERSION_LINE.match(line)
    return (m.group(1) if m else os.path.basename(argv[0])), line


def probe_features(argv: list) -> dict | None:
    """The OCI features document of ``PATH features`` (runtime-spec features.md), or None if it has none."""
    rc, text = _output([*argv, "features"])
    if rc != 0:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) and "ociVersionMax" in data else None


def probe_commands(argv: list) -> frozenset:
    """The command names ``PATH --help`` lists (indented lines' first words)."""
    _, text = _output([*argv, "--help"])
    return frozenset(m.group(1) for line in text.splitlines() if (m := _COMMAND_LINE.match(line)))


def hybrid_host(controllers_file: str) -> bool:
    """True when cgroup2 is mounted beside v1 and lists controllers (a host crun 1.8.1 refuses)."""
    try:
        with open(controllers_file) as f:
            return bool(f.read().strip())
    except OSError:
        return False


def probe_refuses_hybrid(argv: list) -> bool:
    """Try ``create`` of an empty bundle (new namespaces, a cgroup under ``/libcontainer-probe-*``) and
    see whether the runtime refuses the hybrid host; whatever it made is deleted."""
    scratch = tempfile.mkdtemp(prefix="libcontainer-probe-")
    container_id = f"probe-{uuid.uuid4().hex[:12]}"
    cgroup = f"/libcontainer-probe-{uuid.uuid4().hex[:12]}"
    try:
        os.mkdir(os.path.join(scratch, "rootfs"))
        config = {"ociVersion": "1.0.2", "root": {"path": "rootfs"},
                  "process": {"args": ["/nonexistent"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
                  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
                  "linux": {"cgroupsPath": cgroup,
                            "namespaces": [{"type": t} for t in ("pid", "mount", "ipc", "uts", "network")]}}
        with open(os.path.join(scratch, "config.json"), "w") as f:
            json.dump(config, f)
        root = [*argv, "--root", os.path.join(scratch, "state")]
        _, text = _output([*root, "create", "--bundle", scratch, container_id])
        _output([*root, "delete", "--force", container_id])
        return HYBRID_REFUSAL in text
    finally:
        remove_empty_cgroup(cgroup)
        shutil.rmtree(scratch, ignore_errors=True)


def probe(binary: str, flags: tuple = (), preset: Preset | None = None,
          controllers_file: str = "/sys/fs/cgroup/unified/cgroup.controllers") -> Features:
    """Everything :class:`Features` holds for ``binary`` run with ``flags`` (the preset's flags first).

    Without a preset, the preset named as the probed name (``oci:/usr/bin/crun`` is crun) gives what
    cannot be probed (``log_prefix``, ``host_pids``), never its flags or ``refuses_hybrid``."""
    flags = tuple(preset.flags if preset else ()) + tuple(flags)
    argv = [binary, *flags]
    name, version = probe_version(argv)
    known = preset or PRESETS.get(name)
    commands = probe_commands(argv)
    features = probe_features(argv) if "features" in commands or not commands else None
    if preset is not None and preset.refuses_hybrid is not None:
        refuses = preset.refuses_hybrid
    else:
        refuses = hybrid_host(controllers_file) and probe_refuses_hybrid(argv)
    return Features(argv=tuple(argv), name=name, version=version, commands=commands, features=features,
                    has_events="events" in commands, refuses_hybrid=refuses,
                    log_prefix=known.log_prefix if known else "", host_pids=known.host_pids if known else True)


@functools.lru_cache(maxsize=None)
def probe_cached(binary: str, flags: tuple, preset_name: str | None) -> Features:
    """:func:`probe` once per process for one command line (a factory is made per test)."""
    return probe(binary, flags, PRESETS.get(preset_name) if preset_name else None)


def runtime_for(spec: str, root: str) -> Runtime:
    """The :class:`.cli.Runtime` for ``--runtime`` ``spec`` (a preset name, ``oci:PATH FLAGS...`` or an
    absolute PATH) with state under ``root``; raises ValueError for an unusable spec, FileNotFoundError
    for a preset whose binary is not installed."""
    if spec in PRESETS:
        binary, flags, name = find(PRESETS[spec].binary), (), spec
    else:
        binary, flags = parse(spec)
        name = None
    found = probe_cached(binary, flags, name)
    return Runtime(name=name or found.name, binary=binary, root=root, has_events=found.has_events,
                   refuses_hybrid=found.refuses_hybrid, flags=found.argv[1:], log_prefix=found.log_prefix,
                   host_pids=found.host_pids, probed=found.summary())
