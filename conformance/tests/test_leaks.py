"""The leak check's /proc scan (conformance/leaks.py): kernel threads, zombies, processes naming a root."""

import os
import subprocess
import time

from libcontainer.conformance import leaks


def _until(check, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return False


def test_scan_sees_this_process_and_tells_kernel_threads_apart():
    procs = leaks.scan_proc()
    me = procs[os.getpid()]
    assert me.ppid == os.getppid() and not me.kernel and me.state in "RS"
    kthreadd = procs.get(2)
    if kthreadd is not None and open("/proc/2/comm").read().strip() == "kthreadd":
        assert kthreadd.kernel


def test_a_zombie_child_is_found_then_reaped():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        assert _until(lambda: leaks.scan_proc().get(pid, leaks.ProcEntry(pid, 0, "?", False)).state == "Z")
        procs = leaks.scan_proc()
        assert pid in leaks.zombie_descendants(procs)
        assert pid in leaks.reap_zombie_children(procs)
        assert pid not in leaks.scan_proc()
    finally:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def test_processes_mentioning_a_root_by_cwd_or_command_line(tmp_path):
    root = tmp_path / "root"
    (root / "c").mkdir(parents=True)
    by_cwd = subprocess.Popen(["sleep", "600"], cwd=root / "c")
    by_arg = subprocess.Popen(["sh", "-c", "sleep 600", str(root)])
    other = subprocess.Popen(["sleep", "600"], cwd=tmp_path)
    try:
        found = {p.pid for p in leaks.processes_mentioning(str(root))}
        assert by_cwd.pid in found and by_arg.pid in found
        assert other.pid not in found and os.getpid() not in found
    finally:
        for p in (by_cwd, by_arg, other):
            p.kill()
            p.wait()
