"""process.join_cgroup's self-move: a single-threaded process moving itself writes ``0`` to the v1
hierarchies' ``tasks`` files (no global threadgroup lock, no RCU grace period; see
process.self_move_files), ``cgroup.procs`` otherwise. Stand-in files need no root; the last test
moves a real child on a cgroup v1 host (root)."""

import os
import signal
import threading

import pytest

from libcontainer.reference import process as process_mod


def _cgroup_dirs(tmp_path):
    v1 = tmp_path / "freezer" / "c1"
    v2 = tmp_path / "unified" / "c1"
    for d in (v1, v2):
        d.mkdir(parents=True)
        (d / "cgroup.procs").write_text("")
    (v1 / "tasks").write_text("")  # only v1 directories have one
    return v1, v2


def _in_child(func) -> int:
    """Run ``func`` in a forked child (single-threaded: fork copies one thread); its exit code."""
    pid = os.fork()
    if pid == 0:
        try:
            func()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_self_move_files_take_tasks_where_there_is_one(tmp_path):
    v1, v2 = _cgroup_dirs(tmp_path)
    files = [str(v1 / "cgroup.procs"), str(v2 / "cgroup.procs")]
    assert process_mod.self_move_files(files) == [str(v1 / "tasks"), str(v2 / "cgroup.procs")]


def test_a_single_threaded_process_moves_itself_through_tasks(tmp_path):
    v1, v2 = _cgroup_dirs(tmp_path)
    files = [str(v1 / "cgroup.procs"), str(v2 / "cgroup.procs")]
    assert _in_child(lambda: process_mod.join_cgroup(files)) == 0
    assert (v1 / "tasks").read_text() == "0"
    assert (v1 / "cgroup.procs").read_text() == ""
    assert (v2 / "cgroup.procs").read_text() == "0"  # v2: no tasks file, the process file


def test_a_move_of_another_pid_or_a_threaded_process_uses_cgroup_procs(tmp_path):
    v1, _v2 = _cgroup_dirs(tmp_path)
    files = [str(v1 / "cgroup.procs")]
    process_mod.join_cgroup(files, pid=4242)  # another process: its whole thread group
    assert (v1 / "cgroup.procs").read_text() == "4242"
    (v1 / "cgroup.procs").write_text("")
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)
    helper.start()
    try:
        assert not process_mod.single_threaded()
        process_mod.join_cgroup(files)  # tasks would move only the calling thread
    finally:
        stop.set()
        helper.join()
    assert (v1 / "cgroup.procs").read_text() == "0"
    assert (v1 / "tasks").read_text() == ""


@pytest.mark.root
def test_self_move_puts_the_whole_process_in_every_v1_hierarchy():
    """On a cgroup v1 (or hybrid) host: after its self-move a forked child is listed in the
    ``cgroup.procs`` of every hierarchy of a real container cgroup (the process, not one thread)."""
    from libcontainer.reference.cgroups import CgroupV1, driver_for
    from libcontainer.spec import Resources
    cgroup = driver_for(f"libcontainer/selfmove-{os.getpid()}", "c1")
    if not isinstance(cgroup, CgroupV1):
        pytest.skip("needs cgroup v1 hierarchies (this host has cgroup v2 only)")
    cgroup.create(Resources())
    r, w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            os.close(hold_w)
            process_mod.join_cgroup(cgroup.procs_files())
            os.write(w, b"m")
            code = 0
            os.read(hold_r, 1)  # stays (in the cgroup) until the parent closes its end
        finally:
            os._exit(code)
    try:
        os.close(w)
        os.close(hold_r)
        assert os.read(r, 1) == b"m"
        for path in cgroup.procs_files():
            with open(path) as f:
                assert [int(x) for x in f.read().split()] == [pid], path
            assert any(name == "tasks" for name in os.listdir(os.path.dirname(path)))
    finally:
        os.close(r)
        os.close(hold_w)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        cgroup.destroy()  # and the parents it made
