"""What a container made from the DEFAULT config cannot do (issue 4, "Done when").

Each test looks from inside (a probe run in the container) and, where it
can, from outside (/proc/<pid>/ns, /proc/<pid>/status, mountinfo, psutil).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import psutil
import pytest

from libcontainer.spec import Config, Process
from libcontainer.spec.tests.helpers import exec_probe, read_all, run_init


def _init(factory, config, script, cid="iso"):
    c, out, status = run_init(factory, cid, config, script)
    c.destroy()
    return out, status


def test_default_container_sees_no_host_process(factory, config):
    out, status = _init(factory, config, "ls /proc | grep -E '^[0-9]+$'")
    assert status == 0
    assert out.split() == ["1"] or set(out.split()) <= {"1", "2", "3", "4"}, out
    host_pids = {p.pid for p in psutil.process_iter()}
    assert len(host_pids) > 10  # the host has processes the container did not list


def test_default_container_has_its_own_namespaces(container):
    for ns in ("mnt", "pid", "uts", "ipc", "net"):
        assert os.readlink(f"/proc/{container.init_pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns


@pytest.mark.parametrize("path", ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"])
def test_masked_proc_files_read_empty(factory, config, path):
    """Nothing is read from a masked file (this host's kernel has no /proc/kcore at all: it reads
    nothing there either, and the mount check below covers the files that exist)."""
    out, status = _init(factory, config, f"cat {path} 2>/dev/null | wc -c")
    assert status == 0
    assert out.split()[-1] == "0", f"{path} gave {out!r}"


def test_masked_and_readonly_paths_are_mounts_seen_from_outside(container):
    from libcontainer.spec.security import DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS
    with open(f"/proc/{container.init_pid}/mountinfo") as f:
        mounts = {line.split()[4]: line.split() for line in f}
    present = [p for p in DEFAULT_MASKED_PATHS + DEFAULT_READONLY_PATHS if os.path.exists(p)]
    assert "/proc/keys" in present and "/proc/sys" in present
    for path in present:
        assert path in mounts, f"{path} exists on this kernel but is not covered in the container"
    for path in DEFAULT_READONLY_PATHS:
        if path in mounts:
            assert "ro" in mounts[path][5].split(","), path


def test_readonly_proc_paths_cannot_be_written(factory, config):
    out, status = _init(factory, config,
                        "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo wrote || echo refused;"
                        " echo h > /proc/sysrq-trigger 2>/dev/null && echo wrote || echo refused;"
                        " touch /sys/probe 2>/dev/null && echo wrote || echo refused")
    assert out.split() == ["refused", "refused", "refused"]


@pytest.mark.parametrize("call", ["keyctl", "add_key", "kexec_load", "unshare-user", "setns"])
def test_default_seccomp_profile_blocks(factory, config, call):
    out, status = _init(factory, config, f"probe {call}")
    assert out.strip() == "EPERM", out
    assert status == 1


def test_default_seccomp_filter_is_installed(factory, config):
    out, _ = _init(factory, config, "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status")
    fields = dict(line.split(":\t") for line in out.strip().splitlines())
    assert fields["Seccomp"] == "2"  # SECCOMP_MODE_FILTER


def test_getpid_still_works(factory, config):
    out, status = _init(factory, config, "probe getpid")
    assert (out.strip(), status) == ("ok", 0)


def test_no_host_fd_reaches_init(factory, config):
    out, status = _init(factory, config, "probe fds")
    assert status == 0
    fds = dict(line.split(" -> ") for line in out.strip().splitlines())
    assert sorted(fds) == ["0", "1", "2"], fds


def test_no_host_fd_reaches_a_started_process(container):
    _pid, out, status = exec_probe(container, "probe fds")
    assert status == 0
    fds = dict(line.split(" -> ") for line in out.strip().splitlines())
    assert sorted(fds) == ["0", "1", "2"], fds


def test_init_fds_seen_from_outside(container):
    assert sorted(int(fd) for fd in os.listdir(f"/proc/{container.init_pid}/fd")) == [0, 1, 2]


def test_readonly_root_cannot_be_remounted_rw(factory, config):
    config = dataclasses.replace(config, readonly_rootfs=True)
    out, _ = _init(factory, config, "probe remount-rw; mount -o remount,rw / 2>/dev/null && echo busybox-ok;"
                                    " touch /probe-file 2>/dev/null && echo wrote || echo refused")
    lines = out.split()
    assert lines[0] == "EPERM"
    assert "busybox-ok" not in lines
    assert lines[-1] == "refused"


def test_default_container_cannot_remount_anything(factory, config):
    """The default config (root read-write, as Config's default) still cannot remount its root:
    no CAP_SYS_ADMIN, and the seccomp profile fails mount(2) first."""
    out, _ = _init(factory, config, "probe remount-rw; mount -o remount,ro / 2>/dev/null && echo remounted")
    assert out.split() == ["EPERM"]


def test_readonly_root_seen_from_outside(factory, config):
    config = dataclasses.replace(config, readonly_rootfs=True)
    c = factory.create("ro", config)
    try:
        with open(f"/proc/{c.init_pid}/mountinfo") as f:
            root = [line.split() for line in f if line.split()[4] == "/"][-1]
        assert "ro" in root[5].split(",")
    finally:
        c.destroy()


def test_no_container_mount_in_host_namespace(container, rootfs, factory_root):
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    assert not [p for p in points if p.startswith(rootfs) or p.startswith(factory_root)]


def test_default_capabilities_are_runcs_set(factory, config):
    from libcontainer.reference.capabilities import mask
    from libcontainer.spec.security import DEFAULT_CAPABILITIES
    out, _ = _init(factory, config, "grep ^Cap /proc/self/status")
    got = {k: int(v, 16) for k, v in (line.split(":\t") for line in out.strip().splitlines())}
    want = mask(list(DEFAULT_CAPABILITIES), 40)
    assert got["CapBnd"] == want and got["CapEff"] == want and got["CapPrm"] == want
    assert got["CapInh"] == 0 and got["CapAmb"] == 0


_CROSS_CREATE = r"""
import sys
from libcontainer.reference import LinuxFactory
from libcontainer.spec import Config, Process
f = LinuxFactory(sys.argv[1])
c = f.create("x", Config(rootfs=sys.argv[2], cgroup_parent=sys.argv[3],
                         process=Process(args=["sh", "-c", "read line; exit 42"], stdin=0)))
print(c.init_pid, flush=True)
"""

_CROSS_WAIT = r"""
import sys
from libcontainer.reference import LinuxFactory
print(LinuxFactory(sys.argv[1]).load("x").wait(), flush=True)
"""


def test_wait_from_a_new_process_after_the_creator_exited(factory, factory_root, rootfs, cgroup_parent):
    """The creator exits; a second, new Python process waits and gets init's exit status (42)."""
    r, w = os.pipe()
    creator = subprocess.run([sys.executable, "-c", _CROSS_CREATE, factory_root, rootfs, cgroup_parent],
                             stdin=r, capture_output=True, text=True, timeout=60)
    os.close(r)
    assert creator.returncode == 0, creator.stderr
    init_pid = int(creator.stdout)
    assert psutil.pid_exists(init_pid)
    waiter = subprocess.Popen([sys.executable, "-c", _CROSS_WAIT, factory_root], stdout=subprocess.PIPE, text=True)
    os.write(w, b"go\n")  # init reads its line and exits 42 while the waiter waits
    os.close(w)
    out, _ = waiter.communicate(timeout=60)
    assert waiter.returncode == 0 and out.strip() == "42"
    c = factory.load("x")
    assert c.wait() == 42  # and again, from this process
    c.destroy()
