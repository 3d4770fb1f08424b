"""Faults of the factory root's file system and of the state in it.

SPEC.md "Faults: lost processes and stale state": LC-FAULT-03 and LC-FAULT-08 (a full or
read-only factory root: any runtime that keeps its state under the root it is given),
LC-FAULT-04 and LC-FAULT-10 (reference-only: the reference's state files, its kills).
The factory root of these tests is a small tmpfs mounted over the test's root, removed after.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess

import pytest

from libcontainer.spec import (ContainerDestroyed, LibcontainerError, Process, Status, SystemFailure)

from .helpers import Call, exec_probe, is_live


@contextlib.contextmanager
def _tmpfs(path: str, size: str = "4m"):
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "lc-fault", path], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", path], check=False)


def _fill(root: str) -> str:
    """Fill the file system of ``root`` until ENOSPC; the filler's path."""
    path = os.path.join(root, "filler")
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    with contextlib.suppress(OSError), open(path, "ab") as f:  # the last partial pages
        for _ in range(4096):
            f.write(b"\0" * 256)
            f.flush()
    return path


def _outcome(call):
    """What a call gave: 'ok', or the LibcontainerError class name; a bare exception fails the test."""
    try:
        call()
        return "ok"
    except LibcontainerError as e:
        return type(e).__name__


# -- LC-FAULT-08: a read-only factory root ----------------------------------------------------------

@pytest.mark.clause("LC-FAULT-08", "LC-GEN-03")
def test_read_only_factory_root(factory_class, factory_root, cgroup_parent, rootfs, config):
    """Issue 13 case 14, exact input: remount the factory root read-only while a container runs:
    pause, resume, start_process, status and destroy raise only documented errors, destroy kills,
    and a destroy once the root is writable again completes."""
    with _tmpfs(factory_root):
        factory = factory_class(factory_root)
        c = factory.create("ro", config)
        try:
            init = c.processes()[0]
            # a read-only bind of the root over itself: every path lookup from now on meets a read-only
            # file system (a remount of the tmpfs itself fails EBUSY while a keeper holds a file open)
            subprocess.run(["mount", "--bind", factory_root, factory_root], check=True)
            subprocess.run(["mount", "-o", "remount,bind,ro", factory_root], check=True)
            try:
                outcomes = {name: _outcome(call) for name, call in {
                    "status": c.status, "pause": c.pause, "resume": c.resume, "processes": c.processes,
                    "start_process": lambda: c.start_process(Process(args=["true"])), "stats": c.stats}.items()}
                assert set(outcomes.values()) <= {"ok", "SystemFailure", "NotSupported"}, outcomes
                destroyed = _outcome(c.destroy)
                assert destroyed in ("ok", "SystemFailure"), destroyed
                assert not is_live(init), "destroy on a read-only root left init running"
            finally:
                subprocess.run(["umount", factory_root], check=True)  # the read-only bind
            c.destroy()
            with pytest.raises(ContainerDestroyed):
                factory.load("ro")
            assert not [n for n in os.listdir(factory_root) if not n.startswith(".")], os.listdir(factory_root)
        finally:
            with contextlib.suppress(LibcontainerError):
                c.destroy()


# -- LC-FAULT-03/08: a full factory root ------------------------------------------------------------

@pytest.mark.clause("LC-FAULT-03", "LC-FAULT-08")
def test_full_factory_root_when_init_exits(factory_class, factory_root, cgroup_parent, rootfs, config):
    """Issue 13 case 4 (second input): the factory root's file system fills after create; init is
    killed: a wait() blocked before returns 137, later calls give STOPPED and an exit status or a
    SystemFailure saying it was never recorded; destroy completes."""
    with _tmpfs(factory_root):
        factory = factory_class(factory_root)
        c = factory.create("full", config)
        try:
            init = c.processes()[0]
            _, _, status = exec_probe(c, "exit 3")
            assert status == 3
            blocked = Call(c.wait)
            assert not blocked.join(0.2)
            filler = _fill(factory_root)
            c.signal(init, signal.SIGKILL)
            assert blocked.get(20) == 128 + signal.SIGKILL
            assert c.status() == Status.STOPPED
            try:
                assert c.wait() == 128 + signal.SIGKILL
            except SystemFailure as e:
                assert "never recorded" in str(e) or "No space" in str(e), e
            c.destroy()
            with pytest.raises(ContainerDestroyed):
                factory.load("full")
            os.unlink(filler)
        finally:
            with contextlib.suppress(LibcontainerError):
                c.destroy()


# -- LC-FAULT-04: a state file that cannot be trusted (reference-only) -------------------------------

def _tamper_empty_list(state):
    return "[]"


def _tamper_no_monitor_pid(state):
    del state["monitor_pid"]
    return json.dumps(state)


def _tamper_truncated(state):
    text = json.dumps(state)
    return text[:len(text) // 2]


def _tamper_cgroup_escape(state):
    state["cgroup"]["name"] = "../../escape"
    return json.dumps(state)


def _tamper_init_pid_text(state):
    state["init_pid"] = str(state["init_pid"])
    return json.dumps(state)


TAMPERS = {"empty-list": _tamper_empty_list, "no-monitor-pid": _tamper_no_monitor_pid,
           "truncated": _tamper_truncated, "cgroup-escape": _tamper_cgroup_escape,
           "init-pid-text": _tamper_init_pid_text}


@pytest.mark.clause("LC-FAULT-04", "LC-GEN-03")
@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_untrusted_state_is_refused_and_destroyable_by_id(factory, config, tamper):
    """Issue 13 case 5, exact inputs: ``[]``, no ``monitor_pid``, truncated JSON (and a cgroup path
    leaving the parent, an init pid as text): load raises SystemFailure naming the state; destroy
    by id kills the running container and removes everything."""
    if not (hasattr(factory, "state_dir") and hasattr(factory, "destroy")):
        pytest.skip("reference-only: the runtime has no state_dir()/destroy(id) hook")
    c = factory.create("tampered", config)
    init = c.processes()[0]
    path = os.path.join(factory.state_dir("tampered"), "state.json")
    with open(path) as f:
        state = json.load(f)
    with open(path, "w") as f:
        f.write(TAMPERS[tamper](state))
    try:
        with pytest.raises(SystemFailure, match="state"):
            factory.load("tampered")
        assert is_live(init)
    finally:
        factory.destroy("tampered")
    assert not is_live(init), "destroy by id left the container's init running"
    with pytest.raises(ContainerDestroyed):
        factory.load("tampered")
    assert not os.path.exists(factory.state_dir("tampered"))
    factory.destroy("tampered")  # no-op once gone


def _cgroup_dirs(parent: str) -> list[str]:
    """Every hierarchy's directory for the cgroup path ``parent`` that exists (v1: one per controller)."""
    import glob
    return glob.glob(os.path.join("/sys/fs/cgroup", parent)) + glob.glob(os.path.join("/sys/fs/cgroup/*", parent))


@pytest.mark.clause("LC-FAULT-04", "LC-HOST-04")
@pytest.mark.parametrize("tamper", ["empty-list", "truncated"])
def test_destroy_by_id_of_untrusted_state_removes_the_parent_create_made(factory, config, tamper):
    """Found by the probe: with state.json unusable, destroy by id fell back to cgroup.json, written
    before the cgroup was made, so it named no made parent: a cgroup_parent that create made stayed
    in every hierarchy."""
    if not (hasattr(factory, "state_dir") and hasattr(factory, "destroy")):
        pytest.skip("reference-only: the runtime has no state_dir()/destroy(id) hook")
    parent = config.cgroup_parent + "/made-by-create"
    assert not _cgroup_dirs(parent)
    c = factory.create("tampered", dataclasses.replace(config, cgroup_parent=parent))
    init = c.processes()[0]
    assert _cgroup_dirs(parent)
    path = os.path.join(factory.state_dir("tampered"), "state.json")
    with open(path) as f:
        state = json.load(f)
    with open(path, "w") as f:
        f.write(TAMPERS[tamper](state))
    factory.destroy("tampered")
    assert not is_live(init)
    assert not _cgroup_dirs(parent), "destroy by id left the cgroup parent that create made"


@pytest.mark.clause("LC-FAULT-04")
def test_handle_destroy_of_untrusted_state_destroys(factory, config):
    """Found by the probe: state.json holding `[]` made the handle's destroy() return at once as if the
    container were gone (and status() raise ContainerDestroyed) while its init ran on; a truncated file
    did not. Only a missing state or another incarnation's proves a destroy."""
    if not hasattr(factory, "state_dir"):
        pytest.skip("reference-only: the runtime has no state_dir() hook")
    c = factory.create("tampered", config)
    init = c.processes()[0]
    with open(os.path.join(factory.state_dir("tampered"), "state.json"), "w") as f:
        f.write(_tamper_empty_list(None))
    try:
        assert c.status() == Status.RUNNING
        c.destroy()
        assert not is_live(init), "destroy() returned and the init still runs"
        assert not os.path.exists(factory.state_dir("tampered"))
    finally:
        if hasattr(factory, "destroy"):
            factory.destroy("tampered")


@pytest.mark.clause("LC-FAULT-04")
def test_tampered_exit_record_is_no_status(factory, config):
    """An ``exits/<pid>`` that is not a status (text, out of range) is ignored, never a ValueError."""
    if not hasattr(factory, "state_dir"):
        pytest.skip("reference-only: the runtime has no state_dir() hook")
    c = factory.create("exit-rec", config)
    try:
        pid, _, status = exec_probe(c, "exit 4")
        assert status == 4
        record = os.path.join(factory.state_dir("exit-rec"), "exits", str(pid))
        for junk in ("four", "999", ""):
            with open(record, "w") as f:
                f.write(junk)
            assert _outcome(lambda: c.wait_process(pid)) in ("ok", "ProcessNotFound", "SystemFailure")
    finally:
        c.destroy()


# -- LC-FAULT-10: verified kills (reference-only) --------------------------------------------------

@pytest.mark.clause("LC-FAULT-10")
def test_kill_verified_spares_a_process_that_is_not_the_target(runtime_name):
    if runtime_name != "reference":
        pytest.skip("reference-only: the reference's kill helper")
    from libcontainer.plumbing import linux
    victim = subprocess.Popen(["sleep", "60"])
    try:
        start = linux.process_start_time(victim.pid)
        assert linux.kill_verified(victim.pid, start + 1, signal.SIGKILL) is False  # another process's start
        assert linux.kill_verified(victim.pid, None, signal.SIGKILL, check=lambda p: False) is False
        assert victim.poll() is None and is_live(victim.pid)
        assert linux.kill_verified(victim.pid, start, signal.SIGKILL) is True
        assert victim.wait(10) == -signal.SIGKILL
        assert linux.kill_verified(victim.pid, start, signal.SIGKILL) is False  # reaped: gone
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
