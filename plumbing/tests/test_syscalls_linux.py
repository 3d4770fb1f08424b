"""Unit tests of libcontainer.plumbing's syscall table, Linux helpers and state directory (no root)."""

import errno
import os
import signal
import subprocess

import pytest

from libcontainer.plumbing import linux, statedir, syscalls
from libcontainer.spec import NotSupported


def test_syscall_numbers_of_x86_64_and_aarch64_are_the_kernels():
    # arch/x86/entry/syscalls/syscall_64.tbl and include/uapi/asm-generic/unistd.h
    assert [syscalls.number(n, "x86_64") for n in ("pivot_root", "capget", "capset", "bpf")] == [155, 125, 126, 321]
    assert [syscalls.number(n, "aarch64") for n in ("pivot_root", "capget", "capset", "bpf")] == [41, 90, 91, 280]
    assert {"x86_64", "aarch64"} <= set(syscalls.architectures())


def test_unknown_architecture_raises_not_supported_naming_call_and_architecture():
    with pytest.raises(NotSupported, match=r"syscall bpf.*architecture sparc64"):
        syscalls.number("bpf", "sparc64")
    with pytest.raises(NotSupported, match=r"syscall no_such_call.*x86_64"):
        syscalls.number("no_such_call", "x86_64")


def test_every_call_linux_makes_by_number_is_in_the_table():
    with open(linux.__file__) as f:
        source = f.read()
    import re
    called = set(re.findall(r'_syscall\("([a-z_0-9]+)"', source))
    assert called and called <= set(syscalls.SYSCALLS), called - set(syscalls.SYSCALLS)


def test_bpf_on_an_unknown_architecture_is_not_supported_not_a_guessed_number(monkeypatch):
    monkeypatch.setattr(syscalls, "machine", lambda: "sparc64")
    with pytest.raises(NotSupported, match="bpf.*sparc64"):
        linux.bpf_prog_attach(0, 0, linux.BPF_CGROUP_DEVICE)
    with pytest.raises(NotSupported, match="pivot_root.*sparc64"):
        linux.pivot_root("/nonexistent-new", "/nonexistent-old")


def test_this_machine_has_its_numbers():
    if syscalls.machine() not in syscalls.architectures():
        pytest.skip(f"no syscall numbers for {syscalls.machine()}")
    effective, permitted, _ = linux.capget()  # a real call by the table's number
    assert effective & ~permitted == 0


def test_prctl_answers_through_its_result():
    assert linux.prctl(linux.PR_GET_NO_NEW_PRIVS) in (0, 1)


def test_exit_status_is_code_or_128_plus_signal():
    assert linux.exit_status(3 << 8) == 3
    assert linux.exit_status(signal.SIGKILL) == 128 + signal.SIGKILL  # a wait status: killed by SIGKILL
    assert linux.exit_status(signal.SIGTERM) == 128 + signal.SIGTERM


def test_process_start_time_names_this_process_and_none_when_gone():
    assert linux.process_start_time(os.getpid()) > 0
    assert linux.process_start_time(2**22 + 1) is None


def test_kill_verified_uses_the_stdlib_pidfd_send_signal():
    child = subprocess.Popen(["sleep", "60"])
    try:
        start = linux.process_start_time(child.pid)
        assert linux.kill_verified(child.pid, start + 1) is False
        assert linux.kill_verified(child.pid, start, signal.SIGTERM) is True
        assert child.wait(10) == -signal.SIGTERM
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_dir_name_keeps_short_ids_and_hashes_long_ones():
    assert statedir.dir_name("web") == "web"
    long_a, long_b = "a" * 1024, "a" * 1023 + "b"
    assert len(statedir.dir_name(long_a)) <= 255
    assert statedir.dir_name(long_a) != statedir.dir_name(long_b)
    assert statedir.dir_name(long_a).startswith("a" * 64)


def test_remove_state_dir_removes_state_json_then_lock_last(tmp_path, monkeypatch):
    """A destroy killed half-way leaves the state (the next one does it all again) or a lock-only
    directory (recovered by the next load, create or destroy), never a lock-less state."""
    state_dir, lock = statedir.make_dir(str(tmp_path), "c1")
    os.close(lock)
    for name in ("state.json", "cgroup.json", "monitor.json", "monitor.log"):
        (tmp_path / "c1" / name).write_text("{}")
    (tmp_path / "c1" / "exits").mkdir()
    (tmp_path / "c1" / "exits" / "12").write_text("0")
    order = []
    unlink = os.unlink
    monkeypatch.setattr(os, "unlink", lambda path: (order.append(os.path.basename(path)), unlink(path)))
    statedir.remove_state_dir(state_dir)
    assert not os.path.exists(state_dir)
    assert order[-2:] == ["state.json", "lock"], order


def test_remove_state_dir_killed_after_state_json_leaves_a_recoverable_directory(tmp_path, monkeypatch):
    state_dir, lock = statedir.make_dir(str(tmp_path), "c2")
    os.close(lock)
    (tmp_path / "c2" / "state.json").write_text("{}")
    unlink = os.unlink

    def dies_at_the_lock(path):
        if os.path.basename(path) == statedir.LOCK:
            raise KeyboardInterrupt("killed")
        unlink(path)
    monkeypatch.setattr(os, "unlink", dies_at_the_lock)
    with pytest.raises(KeyboardInterrupt):
        statedir.remove_state_dir(state_dir)
    monkeypatch.undo()
    assert os.listdir(state_dir) == [statedir.LOCK]
    removed = []
    assert statedir.recover(state_dir, lambda: os.path.exists(os.path.join(state_dir, statedir.STATE)),
                            lambda: (removed.append(1), statedir.remove_state_dir(state_dir)))
    assert removed and not os.path.exists(state_dir)


def test_recover_leaves_a_directory_whose_flock_is_held(tmp_path):
    state_dir, lock = statedir.make_dir(str(tmp_path), "busy")
    try:
        assert statedir.recover(state_dir, lambda: False, lambda: pytest.fail("removed under a held lock")) is False
    finally:
        os.close(lock)
    assert os.path.isdir(state_dir)


def test_write_atomic_leaves_no_temporary_file(tmp_path):
    path = str(tmp_path / "f.json")
    statedir.write_json(path, {"a": 1})
    statedir.write_json(path, {"a": 2})
    assert statedir.read_json(path) == {"a": 2}
    assert os.listdir(tmp_path) == ["f.json"]


def test_exit_records_round_trip_and_junk_is_no_status(tmp_path):
    os.mkdir(tmp_path / statedir.EXITS)
    statedir.write_exit(str(tmp_path), 42, 128 + signal.SIGKILL)
    assert statedir.read_exit(str(tmp_path), 42) == 137
    (tmp_path / statedir.EXITS / "43").write_text("999")
    assert statedir.read_exit(str(tmp_path), 43) is None
    assert statedir.read_exit(str(tmp_path), 44) is None


def _einval(pid):
    raise OSError(errno.EINVAL, "Invalid argument")


def test_pidfd_open_of_a_process_leaving_its_thread_group_is_process_lookup_error(monkeypatch):
    """The 6.12 guest's destroy of a paused container (LC-DESTROY-03, spec/tests/test_bugs.py) got
    SystemFailure "[Errno 22] Invalid argument": pidfd_open(2) answers EINVAL, not ESRCH, for a pid
    whose process was reaped while the pid is still allocated. That is the process being gone."""
    monkeypatch.setattr(os, "pidfd_open", _einval)
    with pytest.raises(ProcessLookupError):
        linux.pidfd_open(12345)
    assert linux.kill_verified(12345, None, signal.SIGKILL) is False


def test_pidfd_open_of_a_pid_that_cannot_be_one_stays_einval():
    with pytest.raises(OSError) as raised:
        linux.pidfd_open(0)
    assert raised.value.errno == errno.EINVAL and not isinstance(raised.value, ProcessLookupError)


def test_pidfd_open_of_a_live_process_is_a_pidfd():
    fd = linux.pidfd_open(os.getpid())
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[pidfd]"
    finally:
        os.close(fd)
