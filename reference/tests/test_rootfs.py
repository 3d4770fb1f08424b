"""The root filesystem: pivot_root, /proc, /sys read-only, /dev, bind mounts, devices, propagation."""

from __future__ import annotations

import dataclasses
import os

import pytest

from libcontainer.spec import Device, Mount
from libcontainer.spec.tests.helpers import run_init


def _init(factory, config, script, cid="fs"):
    c, out, status = run_init(factory, cid, config, script)
    c.destroy()
    return out, status


def _mountinfo(pid: int) -> dict[str, list[str]]:
    with open(f"/proc/{pid}/mountinfo") as f:
        return {line.split()[4]: line.split() for line in f}


def test_root_is_pivoted_not_chrooted(container, rootfs):
    """After pivot_root the old root is unmounted: the container's mount table starts at its rootfs,
    and its root is a mount of the rootfs directory (a chroot would keep the host's / as root)."""
    mounts = _mountinfo(container.init_pid)
    assert mounts["/"][3] == rootfs or mounts["/"][3].endswith(os.path.basename(rootfs))
    assert len(mounts) < 40  # only the container's own: the host's mounts are gone
    assert os.readlink(f"/proc/{container.init_pid}/root") == "/"


def test_the_old_root_is_gone_before_the_program_runs(factory, config):
    """pivot_root(".", ".") stacks the old root on the new one; the init detaches it before exec: the
    program's mount table has exactly one mount on / (the old root, still attached, would be a second)."""
    out, status = _init(factory, config, "awk '$5 == \"/\"' /proc/self/mountinfo | wc -l")
    assert status == 0 and out.split() == ["1"], (status, out)


def test_dev_has_the_standard_nodes(factory, config):
    out, status = _init(factory, config,
                        "for n in null zero full random urandom tty; do ls -l /dev/$n | cut -c1,1; done;"
                        " ls -l /dev/ptmx | cut -c1,1; grep -c ' /dev/pts devpts' /proc/mounts;"
                        " grep -c ' /dev/shm tmpfs' /proc/mounts; grep -c ' /dev/mqueue mqueue' /proc/mounts;"
                        " head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo null-ok")
    assert status == 0
    assert out.split() == ["c"] * 6 + ["l", "1", "1", "1", "4", "null-ok"]


def test_dev_is_a_tmpfs_and_sys_is_read_only(container):
    mounts = _mountinfo(container.init_pid)
    assert mounts["/dev"][-3] == "tmpfs"
    assert "ro" in mounts["/sys"][5].split(",")


def test_sys_cannot_be_written(factory, config):
    out, _ = _init(factory, config, "echo 1 > /sys/kernel/profiling 2>/dev/null && echo wrote || echo refused")
    assert out.strip() == "refused"


def test_bind_mount_read_only(factory, config, tmp_path):
    src = tmp_path / "data"
    src.mkdir()
    (src / "file").write_text("hello\n")
    os.chmod(tmp_path, 0o755)
    cfg = dataclasses.replace(config, mounts=[Mount(destination="/data", source=str(src), options=["ro"]),
                                              Mount(destination="/rw", source=str(src))])
    out, status = _init(factory, cfg, "cat /data/file; touch /data/new 2>/dev/null && echo wrote || echo refused;"
                                      " touch /rw/new2 && echo rw-ok; rmdir /data 2>/dev/null || echo busy")
    assert status == 0
    assert out.split() == ["hello", "refused", "rw-ok", "busy"]
    assert (src / "new2").exists() and not (src / "new").exists()


def test_bind_mount_of_a_file(factory, config, tmp_path):
    src = tmp_path / "hosts"
    src.write_text("10.0.0.1 probe\n")
    out, _ = _init(factory, dataclasses.replace(config, mounts=[
        Mount(destination="/etc/hosts-probe", source=str(src), options=["ro"])]), "cat /etc/hosts-probe")
    assert out.strip() == "10.0.0.1 probe"


def test_tmpfs_mount_from_config(factory, config):
    cfg = dataclasses.replace(config, mounts=[Mount(destination="/scratch", type="tmpfs", source="tmpfs",
                                                    options=["nosuid", "nodev", "mode=700", "size=1m"])])
    out, _ = _init(factory, cfg, "grep ' /scratch ' /proc/mounts; stat -c %a /scratch")
    line, mode = out.strip().split("\n")
    assert "tmpfs" in line and "size=1024k" in line and mode == "700"


def test_device_nodes_from_config(factory, config):
    cfg = dataclasses.replace(config, devices=[
        Device(path="/dev/kmsg-probe", type="c", major=1, minor=11, file_mode=0o600, uid=0, gid=0),
        Device(path="/dev/fuse", type="c", major=10, minor=229, file_mode=0o666),
        Device(path="/dev/sub/fifo", type="p", file_mode=0o640, uid=7, gid=8)])
    out, status = _init(factory, cfg, "stat -c '%F %a %t %T %u %g' /dev/kmsg-probe /dev/fuse /dev/sub/fifo")
    assert status == 0
    lines = out.strip().split("\n")
    assert lines[0] == "character special file 600 1 b 0 0"
    assert lines[1] == "character special file 666 a e5 0 0"
    assert lines[2] == "fifo 640 0 0 7 8"


def test_container_mounts_do_not_reach_the_host(container, rootfs):
    """Private propagation: nothing mounted for the container shows in the host's mount table."""
    with open("/proc/self/mountinfo") as f:
        host = f.read()
    assert rootfs not in host
    for point in ("/proc", "/dev", "/sys"):
        assert f" {rootfs}{point} " not in host


def test_mount_inside_does_not_propagate_out(factory, config):
    cfg = dataclasses.replace(config, process=dataclasses.replace(config.process, capabilities=None),
                              seccomp=None)
    c, out, status = run_init(factory, "prop", cfg, "mount -t tmpfs none /tmp && echo mounted")
    try:
        assert out.strip() == "mounted"
        with open("/proc/self/mountinfo") as f:
            assert " - tmpfs none " not in f.read()
    finally:
        c.destroy()


def test_masked_directory_is_empty(factory, config):
    cfg = dataclasses.replace(config, masked_paths=["/etc"])
    out, _ = _init(factory, cfg, "ls -A /etc | wc -l; touch /etc/x 2>/dev/null && echo wrote || echo refused")
    assert out.split() == ["0", "refused"]


def test_readonly_path_from_config(factory, config):
    cfg = dataclasses.replace(config, readonly_paths=["/tmp"])
    out, _ = _init(factory, cfg, "touch /tmp/x 2>/dev/null && echo wrote || echo refused")
    assert out.strip() == "refused"
