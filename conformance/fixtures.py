"""The plugin's public fixtures, all named with the project's ``lc_`` prefix.

* ``lc_runtime_name`` (session): the ``--runtime`` value (``reference`` by default).
* ``lc_factory_class`` (session): the factory constructor it names.
* ``lc_rootfs`` (session): a busybox-static root filesystem, built once per process.
* ``lc_cgroup_parent``: a cgroup parent of the test's own, ``libcontainer/pytest-<pid>-<n>``.
* ``lc_factory_root``: a fresh, empty factory root directory.
* ``lc_factory``: a fresh factory on it; after the test it fails the test when a
  process, cgroup, mount or state directory of the test is left (and removes
  them). When the test itself already failed, what was left is removed and
  shown in a report section instead, so JUnit counts the test once.
* ``lc_config``: a minimal valid Config whose init is ``sleep 86400``.
* ``lc_container``: a RUNNING container of ``lc_config`` (id ``spec-c``), destroyed after the test.

The specification's tests and the reference's tests use short names
(``factory``, ``config``, ...) through aliases in their own conftest.py;
other projects see only these prefixed names.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess

import pytest

from libcontainer.spec import Config, Process

from . import leaks as leakcheck
from . import rootfs as rootfs_mod
from . import runtimes

_counter = itertools.count()
CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def lc_runtime_name(pytestconfig) -> str:
    return pytestconfig.getoption("lc_runtime") or "reference"


@pytest.fixture(scope="session")
def lc_factory_class(lc_runtime_name):
    try:
        return runtimes.resolve(lc_runtime_name)
    except ValueError as e:
        raise pytest.UsageError(str(e)) from e


@pytest.fixture(scope="session")
def lc_rootfs(tmp_path_factory) -> str:
    """A busybox-static root filesystem, built once per session (worker)."""
    if os.geteuid() != 0:
        pytest.skip("containers need root")
    if rootfs_mod.find_busybox() is None:
        pytest.skip("no static busybox on this host (apt-get install busybox-static)")
    path = rootfs_mod.build_busybox_rootfs(str(tmp_path_factory.mktemp("rootfs")))
    yield path
    for point in reversed(leakcheck.mounts_under(path)):
        subprocess.run(["umount", "-l", point], check=False)


@pytest.fixture
def lc_cgroup_parent() -> str:
    """A cgroup parent of the test's own, under the project's ``libcontainer`` parent."""
    name = f"libcontainer/pytest-{os.getpid()}-{next(_counter)}"
    yield name
    # only the test's own parent: the shared ``libcontainer`` goes at session end, so a runtime that is
    # creating ``libcontainer/pytest-…`` in another worker never finds its parent removed under it
    for top in leakcheck.cgroup_dirs(name):
        try:
            os.rmdir(top)
        except OSError:
            pass


@pytest.fixture
def lc_factory_root(tmp_path) -> str:
    root = tmp_path / "root"
    root.mkdir()
    return str(root)


@pytest.fixture
def lc_factory(request, lc_factory_class, lc_factory_root, lc_cgroup_parent, lc_rootfs):
    """A fresh factory; after the test, fails it if anything of the test is left on the host."""
    f = lc_factory_class(lc_factory_root)
    yield f
    found = leakcheck.find_leaks(lc_factory_root, lc_cgroup_parent, lc_rootfs)
    if not found:
        return
    for name in sorted(os.listdir(lc_factory_root)) if os.path.isdir(lc_factory_root) else []:
        try:
            f.load(name).destroy()
        except Exception:  # noqa: BLE001 - best-effort cleanup before reporting
            pass
    leakcheck.clean(lc_factory_root, lc_cgroup_parent)
    for point in reversed(leakcheck.mounts_under(lc_factory_root)):
        subprocess.run(["umount", "-l", point], check=False)
    shutil.rmtree(lc_factory_root, ignore_errors=True)
    os.makedirs(lc_factory_root, exist_ok=True)
    if request.node.stash.get(CALL_FAILED, False):
        # the test failed already: one failure per test (JUnit counts a teardown error as a second one)
        request.node.add_report_section("teardown", "left behind (removed)", str(found))
        return
    pytest.fail(f"the test left behind: {found}", pytrace=False)


@pytest.fixture
def lc_config(lc_rootfs, lc_cgroup_parent) -> Config:
    """A minimal valid config: the busybox rootfs, init ``sleep 86400``, the test's cgroup parent."""
    return Config(rootfs=lc_rootfs, process=Process(args=["sleep", "86400"]), hostname="spec",
                  cgroup_parent=lc_cgroup_parent)


@pytest.fixture
def lc_container(lc_factory, lc_config):
    """A RUNNING container made from ``lc_config`` (id ``spec-c``); destroyed after the test, before the leak check."""
    c = lc_factory.create("spec-c", lc_config)
    yield c
    c.destroy()
