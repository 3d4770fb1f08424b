"""Cgroups the runtime did not make: sub-cgroups of the container's, and an operator's parent
(SPEC.md LC-HOST-03, LC-HOST-04; issue 13, cases 6 and 7).

The container's cgroup is found from outside, as an operator would: the
freezer line (cgroup v1) or the ``0::`` line (cgroup v2) of
/proc/<init>/cgroup, under that hierarchy's mount point.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time

import pytest

from libcontainer.spec import ConfigInvalid, LibcontainerError, NotSupported, Process, Status

from .helpers import Call, eventually, is_live, wait_status


def _mounts() -> list[tuple[str, str, set[str]]]:
    out = []
    with open("/proc/self/mounts") as f:
        for line in f:
            _dev, point, fstype, opts = line.split()[:4]
            if fstype in ("cgroup", "cgroup2"):
                out.append((fstype, point, set(opts.split(","))))
    return out


def freezer_dir(pid: int) -> tuple[int, str]:
    """(cgroup version, directory) of the freezer cgroup that holds ``pid``."""
    mounts = _mounts()
    lines = [line.rstrip("\n").split(":", 2) for line in open(f"/proc/{pid}/cgroup")]
    for _id, controllers, path in lines:
        if "freezer" in controllers.split(","):
            point = next(p for t, p, o in mounts if t == "cgroup" and "freezer" in o)
            return 1, point + path
    for _id, controllers, path in lines:
        if controllers == "":
            point = next(p for t, p, _o in mounts if t == "cgroup2")
            return 2, point + path
    pytest.skip("no freezer cgroup found for the container's init")


def cgroup_dirs(pid: int) -> list[str]:
    """Every cgroup directory (any hierarchy) that holds ``pid``."""
    mounts = _mounts()
    out = []
    for line in open(f"/proc/{pid}/cgroup"):
        _id, controllers, path = line.rstrip("\n").split(":", 2)
        names = set(controllers.split(",")) if controllers else set()
        for fstype, point, opts in mounts:
            if (fstype == "cgroup2" and not names) or (fstype == "cgroup" and names and names <= opts):
                out.append(point + path)
                break
    return out


def freeze(version: int, path: str, frozen: bool) -> None:
    with open(os.path.join(path, "freezer.state" if version == 1 else "cgroup.freeze"), "w") as f:
        f.write(("FROZEN" if frozen else "THAWED") if version == 1 else ("1" if frozen else "0"))


def is_frozen(version: int, path: str) -> bool:
    if version == 1:
        with open(os.path.join(path, "freezer.state")) as f:
            return f.read().strip() == "FROZEN"
    with open(os.path.join(path, "cgroup.events")) as f:
        return "frozen 1" in f.read()


def sub_cgroup_with(container, name: str = "sub") -> tuple[int, str, int]:
    """Make ``name`` under the container's freezer cgroup and move a new process of it there:
    (cgroup version, sub-cgroup dir, pid)."""
    init = container.processes()[0]
    version, top = freezer_dir(init)
    pid = container.start_process(Process(args=["sleep", "86400"]))
    sub = os.path.join(top, name)
    os.mkdir(sub)
    with open(os.path.join(sub, "cgroup.procs"), "w") as f:
        f.write(str(pid))
    return version, sub, pid


def container_cgroups(pid: int, cgroup_parent: str) -> list[str]:
    """The cgroup directories of ``pid`` that lie strictly below the test's own ``cgroup_parent``: the
    only cgroups a test may thaw or remove (a hierarchy the runtime does not use puts the container in
    the caller's cgroup, which is not the test's to touch)."""
    return [d for d in cgroup_dirs(pid) if f"/{cgroup_parent.strip('/')}/" in d]


def destroy_thawing(container, version: int, dirs: list[str], own: list[int], cgroup_parent: str) -> None:
    """Clean-up after a test, for a runtime that fails LC-HOST-03 too: thaw the sub-cgroups of ``dirs``
    (each strictly below ``cgroup_parent``) from outside, destroy, then SIGKILL what is left of the
    processes the test itself started (``own``) and remove the empty directories the runtime left."""
    marker = f"/{cgroup_parent.strip('/')}/"
    dirs = [d for d in dirs if marker in d]
    for top in dirs:
        for dirpath, _dirs, _files in list(os.walk(top))[1:]:
            try:
                freeze(version, dirpath, False)
            except OSError:
                pass
    try:
        container.destroy()
    except LibcontainerError:
        pass
    for pid in own:
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                mine = marker in f.read()
            if mine and is_live(pid):
                os.kill(pid, signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError):
            pass
    for top in dirs:
        for dirpath, _dirs, _files in reversed(list(os.walk(top))):
            for _ in range(200):
                try:
                    os.rmdir(dirpath)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


@pytest.mark.clause("LC-HOST-03")
def test_destroy_takes_a_frozen_sub_cgroup(factory, config, cgroup_parent):
    """The issue's case 6: a child of the container's freezer cgroup, a container process moved
    there and the child frozen: destroy kills it, removes the child, and does not hang."""
    c = factory.create("subtree", config)
    version, dirs, pid = 0, container_cgroups(c.processes()[0], cgroup_parent), 0
    try:
        version, sub, pid = sub_cgroup_with(c)
        freeze(version, sub, True)
        assert eventually(lambda: is_frozen(version, sub), 10)
        assert pid in c.processes(), "processes() misses the sub-cgroup's process"
        try:
            stats = c.stats()
        except NotSupported:
            stats = None  # a runtime without stats (LC-STATS-01 judges that)
        if stats is not None and stats.pids is not None and stats.pids.current is not None:
            assert stats.pids.current >= 2
        t0 = time.monotonic()
        Call(c.destroy).get(20)
        assert time.monotonic() - t0 < 10, "destroy waited for a frozen sub-cgroup"
    finally:
        destroy_thawing(c, version, dirs, [pid], cgroup_parent)
    assert not is_live(pid)
    assert not os.path.exists(sub)


@pytest.mark.clause("LC-HOST-03")
def test_pause_and_resume_take_the_sub_cgroups(factory, config):
    c = factory.create("subtree-pause", config)
    try:
        version, sub, pid = sub_cgroup_with(c)
        deeper = os.path.join(sub, "deeper")
        os.mkdir(deeper)
        pid2 = c.start_process(Process(args=["sleep", "86400"]))
        with open(os.path.join(deeper, "cgroup.procs"), "w") as f:
            f.write(str(pid2))
        assert {pid, pid2} <= set(c.processes())
        c.pause()
        assert wait_status(c, Status.PAUSED) == Status.PAUSED
        assert {pid, pid2} <= set(c.processes())
        assert is_frozen(version, sub) and is_frozen(version, deeper)
        c.resume()
        assert c.status() == Status.RUNNING
        assert eventually(lambda: not is_frozen(version, sub) and not is_frozen(version, deeper), 5)
    finally:
        c.destroy()
    assert not is_live(pid) and not is_live(pid2)


@pytest.mark.clause("LC-HOST-03")
def test_resume_thaws_a_sub_cgroup_frozen_on_its_own(factory, config, cgroup_parent):
    """After resume() every process of the container runs (LC-RESUME-01), also one whose sub-cgroup was
    frozen by itself before the pause."""
    c = factory.create("subtree-self", config)
    version, dirs, pid = 0, container_cgroups(c.processes()[0], cgroup_parent), 0
    try:
        version, sub, pid = sub_cgroup_with(c)
        freeze(version, sub, True)
        assert eventually(lambda: is_frozen(version, sub), 10)
        c.pause()
        assert wait_status(c, Status.PAUSED) == Status.PAUSED
        c.resume()
        assert c.status() == Status.RUNNING
        assert eventually(lambda: not is_frozen(version, sub), 5), "resume left a process frozen"
    finally:
        destroy_thawing(c, version, dirs, [pid], cgroup_parent)


# -- an operator's cgroup_parent --------------------------------------------------

@pytest.fixture
def operator_parent(cgroup_parent):
    """The test's cgroup_parent made beforehand in every hierarchy, with a pids and a memory limit where
    the host has them: ``{dir: {file: value}}`` to check after."""
    made = {}
    for fstype, point, opts in _mounts():
        if fstype == "cgroup2" and not os.path.exists(os.path.join(point, "cgroup.freeze")) \
                and not os.path.exists(os.path.join(point, "cgroup.procs")):
            continue
        if fstype == "cgroup" and not (opts & {"freezer", "pids", "memory", "cpu", "cpuset", "devices",
                                               "blkio", "hugetlb", "cpuacct", "name=systemd"}):
            continue
        path = point
        for part in cgroup_parent.split("/"):
            above, path = path, os.path.join(path, part)
            os.makedirs(path, exist_ok=True)
            for key in ("cpuset.cpus", "cpuset.mems") if "cpuset" in opts else ():
                with open(os.path.join(path, key)) as f:
                    if f.read().strip():
                        continue
                with open(os.path.join(above, key)) as f:
                    value = f.read().strip()
                with open(os.path.join(path, key), "w") as f:
                    f.write(value)
        made[path] = {}
        for name, value in (("pids.max", "123"), ("memory.limit_in_bytes", str(512 << 20)),
                            ("memory.max", str(512 << 20))):
            if os.path.exists(os.path.join(path, name)):
                with open(os.path.join(path, name), "w") as f:
                    f.write(value)
                made[path][name] = value
    yield made
    for path in made:
        try:
            os.rmdir(path)
        except OSError:
            pass


def _check_parent(made: dict) -> None:
    for path, files in made.items():
        assert os.path.isdir(path), f"the operator's cgroup {path} was removed"
        for name, value in files.items():
            with open(os.path.join(path, name)) as f:
                assert f.read().strip() == value, f"{path}/{name} changed"


@pytest.mark.clause("LC-HOST-04")
def test_destroy_keeps_an_operator_cgroup_parent(factory, config, operator_parent):
    """The issue's case 7: a pre-made cgroup_parent with a pids and memory limit survives destroy."""
    assert operator_parent, "no cgroup hierarchy to test on"
    for cid in ("op-1", "op-2"):
        c = factory.create(cid, config)
        c.destroy()
        _check_parent(operator_parent)


@pytest.mark.clause("LC-HOST-04")
def test_failed_create_keeps_an_operator_cgroup_parent(factory, config, operator_parent):
    bad = dataclasses.replace(config, process=Process(args=["/no/such/program"]))
    with pytest.raises(ConfigInvalid):
        factory.create("op-bad", bad)
    _check_parent(operator_parent)
    c = factory.create("op-good", config)
    c.destroy()
    _check_parent(operator_parent)
