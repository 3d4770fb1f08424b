"""kill_cgroup's kill loop (reference/cleanup.py): the cgroup is read a bounded number of times, not
once per process, and only its members are killed. No root: a stand-in driver whose members are
children of this test (pidfd_open(2) and pidfd_send_signal(2) on one's own children need none)."""

import os
import signal
import subprocess

from libcontainer.plumbing import linux
from libcontainer.reference import cleanup
from libcontainer.reference.cgroups import THAWED


class FakeCgroup:
    """The part of a CgroupDriver that kill_cgroup uses; ``members`` live children, ``reads`` counted.
    No freezer (freeze raises), no cgroup.kill: the kill loop is what runs."""

    def __init__(self, members):
        self.members = members
        self.reads = 0

    def exists(self):
        return True

    def kill(self):
        return False

    def pids(self):
        self.reads += 1
        # a process leaves cgroup.procs when it exits (before it is reaped): zombies are not members
        return [p.pid for p in self.members if linux.process_state(p.pid) not in ("Z", "X", None)]

    def freeze(self, timeout=10.0):
        raise OSError("no freezer here")

    def thaw(self):
        pass

    def freezer_state(self):
        return THAWED


def _sleepers(n):
    return [subprocess.Popen(["sleep", "60"]) for _ in range(n)]


def test_kill_cgroup_reads_the_cgroup_a_bounded_number_of_times_not_once_per_process():
    members = _sleepers(40)
    try:
        cgroup = FakeCgroup(members)
        cleanup.kill_cgroup(cgroup)
        assert [p.wait(timeout=10) for p in members] == [-signal.SIGKILL] * 40
        # before: 1 + n reads per round (one membership check per pid); now 2 per round, 1-3 rounds
        assert cgroup.reads <= 8, cgroup.reads
    finally:
        for p in members:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_kill_members_spares_processes_that_are_not_in_the_cgroup_and_batches():
    inside, outside = _sleepers(5), _sleepers(2)
    try:
        cgroup = FakeCgroup(inside)
        sent = cleanup.kill_members(cgroup, [p.pid for p in inside + outside], batch=2)
        assert sent == 5
        assert [p.wait(timeout=10) for p in inside] == [-signal.SIGKILL] * 5
        assert [p.poll() for p in outside] == [None, None]  # asked for, but not members: spared
        assert cgroup.reads == 4  # one read per batch of 2 of the 7 pids
        gone = subprocess.Popen(["true"])
        gone.wait()
        assert cleanup.kill_members(cgroup, [gone.pid]) == 0  # reaped (or its pid another's): nothing sent
    finally:
        for p in inside + outside:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()
