"""Unit tests of the reference's pieces that need no container."""

import errno
import os

import pytest

from libcontainer.reference.cgroups import v1, v2
from libcontainer.reference.cgroups.driver import read_int, read_keyed


def test_v1_mounts_parses_combined_and_named_hierarchies(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0\n"
        "cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n"
        "cgroup /sys/fs/cgroup/systemd cgroup rw,name=systemd 0 0\n"
        "cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n")
    found = v1.mounts(str(mounts))
    assert found == {"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
                     "memory": "/sys/fs/cgroup/memory"}
    assert v2.mount_point(str(mounts)) == "/sys/fs/cgroup/unified"


def test_v1_paths_put_freezer_first_and_dedupe_combined(tmp_path):
    d = v1.CgroupV1("libcontainer", "c1", {"cpu": "/x/cpu,cpuacct", "cpuacct": "/x/cpu,cpuacct",
                                         "freezer": "/x/freezer"})
    assert d.paths() == ["/x/freezer/libcontainer/c1", "/x/cpu,cpuacct/libcontainer/c1"]


def test_v1_driver_needs_a_freezer():
    with pytest.raises(OSError):
        v1.CgroupV1("libcontainer", "c1", {"memory": "/x/memory"})


def test_cgroup_file_readers(tmp_path):
    (tmp_path / "one").write_text("42\n")
    (tmp_path / "max").write_text("max\n")
    (tmp_path / "keyed").write_text("cache 4096\nrss 8192\nweird line here\n")
    assert read_int(str(tmp_path / "one")) == 42
    assert read_int(str(tmp_path / "max")) is None
    assert read_int(str(tmp_path / "absent")) is None
    assert read_keyed(str(tmp_path / "keyed")) == {"cache": 4096, "rss": 8192}


def test_v2_resources_convert_like_runc(tmp_path):
    cg = tmp_path / "libcontainer" / "c"
    cg.mkdir(parents=True)
    for name in ("memory.max", "cpu.weight", "cpu.max", "pids.max", "memory.swap.max"):
        (cg / name).write_text("")
    from libcontainer.spec import Resources
    d = v2.CgroupV2("libcontainer", "c", str(tmp_path))
    d._apply(Resources(memory=64 << 20, memory_swap=128 << 20, cpu_shares=1024, cpu_quota=50000,
                       cpu_period=100000, pids_limit=-1))
    assert (cg / "memory.max").read_text() == str(64 << 20)
    assert (cg / "memory.swap.max").read_text() == str(64 << 20)
    assert (cg / "cpu.weight").read_text() == str(1 + (1022 * 9999) // 262142)  # 39
    assert (cg / "cpu.max").read_text() == "50000 100000"
    assert (cg / "pids.max").read_text() == "max"


def test_factory_root_that_is_a_file_is_a_system_failure_not_id_in_use(tmp_path, monkeypatch):
    from libcontainer.reference import LinuxFactory
    from libcontainer.spec import Config, Process, SystemFailure
    root = tmp_path / "file"
    root.write_text("x")
    rootfs = tmp_path / "fs"
    rootfs.mkdir()
    with pytest.raises(SystemFailure, match="factory root"):
        LinuxFactory(str(root)).create("x1", Config(rootfs=str(rootfs), process=Process(args=["true"])))
    assert root.read_text() == "x"
    with pytest.raises(TypeError):
        LinuxFactory(5)


@pytest.mark.parametrize("err", [2, 19])  # ENOENT, ENODEV: the shared parent removed by another destroy
def test_retry_vanishing_retries_a_parent_removed_mid_create(err):
    from libcontainer.reference.cgroups.driver import retry_vanishing
    calls = []

    def make():
        calls.append(1)
        if len(calls) < 3:
            raise OSError(err, os.strerror(err))
    retry_vanishing(make)
    assert len(calls) == 3
    with pytest.raises(PermissionError):
        retry_vanishing(lambda: (_ for _ in ()).throw(PermissionError(13, "denied")))


def test_home_of_reads_the_uid_s_home_from_passwd(tmp_path):
    """process.home_of: field 6 of the first line whose uid (field 3) matches; "/" without a match, an
    empty home or a file (SPEC.md LC-FAULT-13, runc's rule); bytes that are not UTF-8 are replaced."""
    from libcontainer.reference.process import home_of
    passwd = tmp_path / "passwd"
    passwd.write_bytes(b"root:x:0:0:root:/root:/bin/sh\nnohome:x:7:7::::\nw\xffx:x:1000:1000::/home/w\xff:/bin/sh\n"
                       b"short:x:9\n")
    assert home_of(0, str(passwd)) == "/root"
    assert home_of(1000, str(passwd)) == "/home/w\ufffd"
    assert home_of(7, str(passwd)) == "/"
    assert home_of(9, str(passwd)) == "/"
    assert home_of(4242, str(passwd)) == "/"
    assert home_of(0, str(tmp_path / "absent")) == "/"


def test_cgroup_move_tolerates_a_child_that_gave_up(tmp_path):
    """process.CgroupMove: the parent's move of a child that exited before reading its byte (EPIPE on
    the pipe) is not an error of its own (the child reports its failure); a live child reads ``c``."""
    from libcontainer.reference import process as process_mod
    procs = tmp_path / "cgroup.procs"
    procs.write_text("")
    move = process_mod.CgroupMove([str(procs)])
    pid = os.fork()
    if pid == 0:
        move.child_end()
        os._exit(0)  # gives up at once: its read end closes with it
    try:
        os.waitpid(pid, 0)
        move.move(pid)  # writes the pid, then EPIPE: swallowed
    finally:
        move.close()
    assert procs.read_text() == str(pid)
    move = process_mod.CgroupMove([str(procs)])
    pid = os.fork()
    if pid == 0:
        try:
            process_mod.wait_cgroup(move.child_end())
            os._exit(0)
        except BaseException:
            os._exit(1)
    try:
        move.move(pid)
    finally:
        move.close()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_cgroup_move_that_failed_lets_the_child_give_up(tmp_path):
    """process.CgroupMove.move: a move that fails (here the cgroup.procs file is gone, as when the
    container's cgroup was removed meanwhile) closes the write end itself, so the child waiting in
    wait_cgroup reads EOF and gives up while the parent still waits for its errfd (spawn's ``during``);
    before, the child blocked until the parent's close, which came only after that wait: a deadlock."""
    from libcontainer.plumbing import linux
    from libcontainer.reference import process as process_mod
    move = process_mod.CgroupMove([str(tmp_path / "gone" / "cgroup.procs")])
    pid = os.fork()
    if pid == 0:
        try:
            process_mod.wait_cgroup(move.child_end())
            os._exit(0)
        except OSError as e:
            os._exit(3 if e.errno == errno.EIO else 1)
        except BaseException:
            os._exit(1)
    pidfd = os.pidfd_open(pid)
    try:
        with pytest.raises(FileNotFoundError):
            move.move(pid)
        exited = linux.wait_readable(pidfd, 10.0)  # not move.close(): the child must give up without it
    finally:
        move.close()
        os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    assert exited, "the child still waited for the cgroup move after move() failed"
    assert os.waitstatus_to_exitcode(status) == 3
