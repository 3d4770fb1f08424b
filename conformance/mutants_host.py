"""Mutants for the host and image clauses (LC-HOST-*, issue 13): each the reference with one
defence against a hostile image or host input broken, through the public interface (see
:mod:`libcontainer.conformance.mutants`, whose ``MUTANTS`` lists them).

The first two reproduce a runtime that follows the image's symlinks on the host: they create paths
through the rootfs's links, which the tests point only at a tmp directory of their own."""

from __future__ import annotations

import errno
import json
import os
import select

from libcontainer.spec import SystemFailure, validate_id

from .mutants_base import MutantFactory, mutant


def _create_following_links(self, container_id, config):
    validate_id(container_id)
    for m in getattr(config, "mounts", None) or []:
        if m.type != "bind" and isinstance(m.destination, str):
            os.makedirs(os.path.join(config.rootfs, m.destination.lstrip("/")), exist_ok=True)
    return MutantFactory.create(self, container_id, config)


def _create_dev_through_links(self, container_id, config):
    validate_id(container_id)
    dev = os.path.join(config.rootfs, "dev")
    if os.path.islink(dev) and os.path.isdir(dev):
        for name in ("null", "zero", "tty"):
            open(os.path.join(dev, name), "a").close()  # where an unscoped runtime would mknod
    return MutantFactory.create(self, container_id, config)


def _cgroup_of(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = [line.split(":", 2) for line in f.read().splitlines()]
    except OSError:
        return None
    for _id, controllers, path in lines:
        if "freezer" in controllers.split(","):
            return path
    return next((path for _id, controllers, path in lines if controllers == ""), None)


def _processes_top_cgroup_only(self):
    pids = self.inner.processes()
    if not pids:
        return pids
    top = _cgroup_of(pids[0])
    return [p for p in pids if _cgroup_of(p) == top]


def _destroy_removes_parent(self):
    parent = self.inner.config().cgroup_parent
    self.inner.destroy()
    for hierarchy in os.listdir("/sys/fs/cgroup"):
        try:
            os.rmdir(os.path.join("/sys/fs/cgroup", hierarchy, parent))  # only when empty, as the old reference
        except OSError:
            pass


def _soft_above_hard(process) -> bool:
    def above(pair) -> bool:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            return False
        soft, hard = (2**64 if v == -1 else v for v in pair)
        return soft > hard
    rlimits = getattr(process, "rlimits", None)
    return isinstance(rlimits, dict) and any(above(v) for v in rlimits.values())


def _create_late_rlimit(self, container_id, config):
    if _soft_above_hard(getattr(config, "process", None)):
        raise SystemFailure("init: setrlimit: Invalid argument", errno=errno.EINVAL)  # found in init, not before
    return MutantFactory.create(self, container_id, config)


def _exec_late_rlimit(self, process):
    if _soft_above_hard(process):
        raise SystemFailure("exec: setrlimit: Invalid argument", errno=errno.EINVAL)
    return self.inner.start_process(process)


def _exec_one_recv(self, process):
    if len(json.dumps(getattr(process, "args", []))) > 36000:
        raise SystemFailure("JSONDecodeError: Unterminated string")  # the monitor read one recv()
    return self.inner.start_process(process)


def _create_by_select(self, container_id, config):
    """create that waits on its start-up pipe with select(2), as the reference's create did (its
    ``read_all``): a ValueError once the caller's descriptors are numbered above FD_SETSIZE (1024)."""
    r, w = os.pipe()
    try:
        os.write(w, b"r")
        select.select([r], [], [], 10.0)
    finally:
        os.close(r)
        os.close(w)
    return MutantFactory.create(self, container_id, config)


HostPathsFollowLinks = mutant("HostPathsFollowLinks", _factory={"create": _create_following_links})
DevThroughLinks = mutant("DevThroughLinks", _factory={"create": _create_dev_through_links})
SubCgroupsIgnored = mutant("SubCgroupsIgnored", processes=_processes_top_cgroup_only)
DestroyRemovesParent = mutant("DestroyRemovesParent", destroy=_destroy_removes_parent)
LateRlimitCheck = mutant("LateRlimitCheck", start_process=_exec_late_rlimit,
                         _factory={"create": _create_late_rlimit})
ExecOneRecv = mutant("ExecOneRecv", start_process=_exec_one_recv)
CreateBySelect = mutant("CreateBySelect", _factory={"create": _create_by_select})
