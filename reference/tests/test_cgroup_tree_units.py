"""The drivers with cgroups they did not make (SPEC.md LC-HOST-03, LC-HOST-04), on the real hierarchies:
the v2 driver on the cgroup2 mount (freezer and kill work there without controllers), the v1 driver on the
host's v1 hierarchies. Sub-cgroups below the container's are made by the test, as an operator would."""

from __future__ import annotations

import os
import subprocess

import pytest

from libcontainer.reference.cgroups import FROZEN, CgroupV1, CgroupV2, v1_mounts, v2_mount_point
from libcontainer.spec import Resources

pytestmark = pytest.mark.root  # cgroups under the host hierarchies (conformance/rootmark.py)


def _drivers():
    out = []
    root = v2_mount_point()
    if root is not None:
        out.append("v2")
    if "freezer" in v1_mounts():
        out.append("v1")
    return out


@pytest.fixture(params=_drivers())
def driver(request):
    if os.geteuid() != 0:
        pytest.skip("cgroups need root")
    parent = f"libcontainer/pytest-tree-{os.getpid()}"
    if request.param == "v2":
        d = CgroupV2(parent, "c", root=v2_mount_point(), controllers=())
        freeze_file, frozen_value = "cgroup.freeze", "1"
    else:
        d = CgroupV1(parent, "c", {"freezer": v1_mounts()["freezer"]})
        freeze_file, frozen_value = "freezer.state", "FROZEN"
    d.create(Resources())
    if not os.path.exists(os.path.join(d.paths()[0], freeze_file)):
        d.destroy()
        pytest.skip("no freezer files in this cgroup")
    d.freeze_file, d.frozen_value = freeze_file, frozen_value
    procs = []
    yield d, procs
    for p in procs:
        p.kill()
    if d.exists():
        d.thaw()
    for p in procs:
        p.wait()
    d.destroy()
    assert not d.exists()
    assert not os.path.exists(os.path.dirname(d.paths()[0])), "a parent the driver made was left"


def _spawn_in(path: str, procs: list) -> int:
    def join():
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write("0")
    p = subprocess.Popen(["sleep", "86400"], preexec_fn=join)
    procs.append(p)
    return p.pid


def test_sub_cgroups_are_the_container_s(driver):
    d, procs = driver
    top = d.paths()[0]
    sub = os.path.join(top, "sub", "deeper")
    os.makedirs(sub)
    a, b = _spawn_in(top, procs), _spawn_in(sub, procs)
    assert set(d.pids()) == {a, b}
    with open(os.path.join(sub, d.freeze_file), "w") as f:
        f.write(d.frozen_value)   # frozen on its own
    d.freeze()
    assert d.freezer_state() == FROZEN
    d.thaw()
    with open(os.path.join(sub, d.freeze_file)) as f:
        assert f.read().strip() in ("0", "THAWED"), "thaw left a self-frozen sub-cgroup frozen"
    for p in procs:
        p.kill()
        p.wait()
    procs.clear()
    d.destroy()
    assert not os.path.exists(top)


def test_an_existing_parent_is_never_removed():
    if os.geteuid() != 0 or "freezer" not in v1_mounts():
        pytest.skip("needs root and a v1 freezer")
    hier = {"freezer": v1_mounts()["freezer"]}
    parent = f"libcontainer/pytest-op-{os.getpid()}"
    path = os.path.join(hier["freezer"], parent)
    os.makedirs(path)
    try:
        d = CgroupV1(parent, "c", hier)
        d.create(Resources())
        assert d.made == []
        d.destroy()
        assert os.path.isdir(path) and not d.exists()
    finally:
        os.rmdir(path)
