"""Helpers of the config-semantics tests: run a probe in a container, parse what the kernel shows.

Everything here goes through the public interface (``Factory.create``,
``start_process``, ``processes``) and the kernel's own files: ``/proc/self/*``
read inside the container (proc(5)), and, for what the kernel shows only in
the cgroup filesystem, the cgroup files of a container process found from the
host through ``/proc/<pid>/cgroup`` (cgroups(7)). No runtime's internals.
"""

from __future__ import annotations

import dataclasses
import os

from libcontainer.spec import Config, Container, Factory, Process

from .helpers import read_all


def run(factory: Factory, config: Config, where: str, cid: str = "cfg", **process) -> tuple[str, int]:
    """Run a process with the ``process`` fields (``args`` among them) as init (``where="init"``) or
    through ``start_process`` (``where="exec"``) of a container made from ``config``; return
    (its stdout, its exit status). The container is destroyed before this returns."""
    if where == "init":
        r, w = os.pipe()
        try:
            proc = dataclasses.replace(config.process, stdout=w, **process)
            c = factory.create(cid, dataclasses.replace(config, process=proc))
        finally:
            os.close(w)
        try:
            with os.fdopen(r, "rb", closefd=True) as f:
                out = read_all(f.fileno())
            return out, c.wait()
        finally:
            c.destroy()
    c = factory.create(cid, config)
    try:
        r, w = os.pipe()
        try:
            pid = c.start_process(Process(stdout=w, **process))
        finally:
            os.close(w)
        with os.fdopen(r, "rb", closefd=True) as f:
            out = read_all(f.fileno())
        return out, c.wait_process(pid)
    finally:
        c.destroy()


def probe(factory: Factory, config: Config, script: str, where: str, **process) -> tuple[str, int]:
    """:func:`run` of ``sh -c script``."""
    return run(factory, config, where, args=["sh", "-c", script], **process)


def status_fields(text: str) -> dict[str, str]:
    """``Name:\\tvalue`` lines of /proc/<pid>/status (proc(5)) as a dict."""
    return {k: v.strip() for k, v in (line.split(":", 1) for line in text.splitlines() if ":" in line)}


def limits_table(text: str) -> dict[str, tuple[str, str]]:
    """/proc/<pid>/limits (proc(5)): limit name (``Max open files``) -> (soft, hard) as printed."""
    rows = {}
    for line in text.splitlines()[1:]:
        parts = line[:26].strip(), line[26:].split()
        if parts[0] and len(parts[1]) >= 2:
            rows[parts[0]] = (parts[1][0], parts[1][1])
    return rows


# -- the cgroup files of a container, from the host ------------------------------------

def _mounts() -> list[tuple[str, str, set[str]]]:
    out = []
    with open("/proc/self/mounts") as f:
        for line in f:
            _src, point, fstype, opts = line.split()[:4]
            if fstype in ("cgroup", "cgroup2"):
                out.append((point, fstype, set(opts.split(","))))
    return out


def cgroup_version() -> int:
    """2 when the controllers are on a cgroup2 mount (no v1 hierarchy for ``memory``), else 1."""
    return 1 if any(t == "cgroup" and "memory" in o for _p, t, o in _mounts()) else 2


def cgroup_file(container: Container, v1: tuple[str, str] | None, v2: str | None) -> str | None:
    """The host path of a cgroup file of ``container``'s init: ``v1 = (controller, file)`` on v1, ``v2`` on v2.

    Found from the host: the cgroup of the container's first listed process
    (``/proc/<pid>/cgroup``) under the host's mount of that hierarchy. None
    when this cgroup version has no such file."""
    pid = container.processes()[0]
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    if cgroup_version() == 1:
        if v1 is None:
            return None
        controller, name = v1
        rel = next((p for _n, ctrls, p in lines if controller in ctrls.split(",")), None)
        point = next((p for p, t, o in _mounts() if t == "cgroup" and controller in o), None)
    else:
        if v2 is None:
            return None
        name = v2
        rel = next((p for n, ctrls, p in lines if n == "0" and ctrls == ""), None)
        point = next((p for p, t, _o in _mounts() if t == "cgroup2"), None)
    assert rel is not None and point is not None, f"no cgroup of pid {pid} for {v1 or v2}"
    return os.path.join(point, rel.lstrip("/"), name)


def cgroup_read(container: Container, v1: tuple[str, str] | None, v2: str | None) -> str:
    """The stripped text of :func:`cgroup_file`."""
    path = cgroup_file(container, v1, v2)
    assert path is not None, f"this cgroup version has no file {v1 or v2}"
    with open(path) as f:
        return f.read().strip()


def cgroup_keyed(container: Container, v1: tuple[str, str] | None, v2: str | None) -> dict[str, int]:
    """A flat-keyed cgroup file (``cpu.stat``, ``memory.events``) as a dict of ints."""
    return {k: int(v) for k, v in (line.split() for line in cgroup_read(container, v1, v2).splitlines())}
