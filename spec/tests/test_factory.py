"""Factory: create, ids, atomicity and load (SPEC.md LC-FACTORY-*, LC-ID-*)."""

import dataclasses
import os
import subprocess
import sys
import textwrap

import pytest

from libcontainer.spec import (ConfigInvalid, ContainerDestroyed, ErrorCode, IdInUse, InvalidIdFormat, Status)

from .helpers import wait_status


@pytest.mark.clause("LC-FACTORY-01")
def test_create_returns_running_container(factory, config):
    c = factory.create("web", config)
    try:
        assert c.id == "web"
        assert c.status() == Status.RUNNING
    finally:
        c.destroy()


@pytest.mark.clause("LC-ID-01", "LC-ID-02")
@pytest.mark.parametrize("bad", ["..", ".", "a/b", "", "x" * 1025, "../x", "a\0b", "sp ace", None, 7])
def test_invalid_id_raises_and_creates_nothing(factory, factory_root, config, bad):
    with pytest.raises(InvalidIdFormat) as info:
        factory.create(bad, config)
    assert info.value.code == ErrorCode.INVALID_ID_FORMAT
    assert os.listdir(factory_root) == [] if os.path.isdir(factory_root) else True
    assert not os.path.exists(os.path.join(os.path.dirname(factory_root), "x"))


@pytest.mark.clause("LC-ID-01")
@pytest.mark.parametrize("good", ["a", "A_b-c.d+e", "x" * 1024, "...", "0"])
def test_valid_ids_are_accepted(factory, config, good):
    c = factory.create(good, config)
    try:
        assert c.id == good
        assert factory.load(good).status() == Status.RUNNING
    finally:
        c.destroy()


@pytest.mark.clause("LC-ID-01")
@pytest.mark.parametrize("good", ["tasks", "cgroup.procs", "notify_on_release", "freezer.state", "cgroup.freeze",
                                  "memory.limit_in_bytes", "pids.max", "state.json", "lock", "-", "+", ".x", "x."])
def test_ids_that_name_host_files_are_ordinary_ids(factory, config, good):
    """Valid ids that an implementation may be tempted to use as a file name beside its own files
    (cgroup interface files, state files) must work like any other id."""
    c = factory.create(good, config)
    try:
        assert c.status() == Status.RUNNING
        c.pause()
        assert c.status() in (Status.PAUSING, Status.PAUSED)
        c.resume()
        assert factory.load(good).status() == Status.RUNNING
    finally:
        c.destroy()
    with pytest.raises(ContainerDestroyed):
        factory.load(good)


@pytest.mark.clause("LC-FACTORY-02")
def test_second_create_with_same_id_raises_id_in_use(factory, config):
    c = factory.create("dup", config)
    try:
        with pytest.raises(IdInUse) as info:
            factory.create("dup", config)
        assert info.value.code == ErrorCode.ID_IN_USE
        assert c.status() == Status.RUNNING, "the first container must be untouched"
    finally:
        c.destroy()


@pytest.mark.clause("LC-FACTORY-03")
def test_missing_rootfs_raises_config_invalid_and_leaves_nothing(factory, factory_root, config, tmp_path):
    bad = dataclasses.replace(config, rootfs=str(tmp_path / "no-such-rootfs"))
    with pytest.raises(ConfigInvalid) as info:
        factory.create("nofs", bad)
    assert info.value.code == ErrorCode.CONFIG_INVALID
    assert not os.path.exists(os.path.join(factory_root, "nofs"))
    with pytest.raises(ContainerDestroyed):
        factory.load("nofs")
    # the id is free again: create with a good config works
    c = factory.create("nofs", config)
    c.destroy()


@pytest.mark.clause("LC-FACTORY-03")
def test_missing_init_binary_raises_config_invalid_and_leaves_nothing(factory, factory_root, config):
    bad = dataclasses.replace(config, process=dataclasses.replace(config.process, args=["/no/such/binary"]))
    with pytest.raises(ConfigInvalid):
        factory.create("nobin", bad)
    assert not os.path.exists(os.path.join(factory_root, "nobin"))


@pytest.mark.clause("LC-FACTORY-05")
def test_load_of_unknown_id_raises_container_destroyed(factory):
    with pytest.raises(ContainerDestroyed):
        factory.load("never-created")


@pytest.mark.clause("LC-FACTORY-04")
def test_load_from_another_process_sees_same_status(factory, factory_root, factory_class, runtime_name, config):
    c = factory.create("shared", config)
    try:
        c.pause()
        assert wait_status(c, Status.PAUSED) == Status.PAUSED
        script = textwrap.dedent(f"""
            from libcontainer.conformance.runtimes import resolve
            f = resolve({runtime_name!r})({factory_root!r})
            c = f.load("shared")
            print(c.status().name, c.config().rootfs, sorted(c.processes()))
        """)
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        status, rootfs, pids = out.stdout.split(" ", 2)
        assert status == "PAUSED"
        assert rootfs == config.rootfs
        assert pids.strip() == str(sorted(c.processes()))
        c.resume()
    finally:
        c.destroy()
