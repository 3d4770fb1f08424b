"""Decisions where SPEC.md was silent, met while writing the fault clauses (issue 13, item 4):
LC-FAULT-11 (a pause landing as init exits), LC-FAULT-12 (a cwd that does not exist),
LC-FAULT-13 (HOME without a passwd entry), LC-FAULT-14 (pids.current and zombies)."""

from __future__ import annotations

import dataclasses

import pytest

from libcontainer.spec import ConfigInvalid, ContainerDestroyed, ContainerNotRunning, NotSupported, Process, Status

from .helpers import exec_probe, run_init


@pytest.mark.clause("LC-FAULT-11")
@pytest.mark.parametrize("delay", ["0.01", "0.03"])
def test_pause_landing_as_init_exits(factory, config, delay):
    """pause() in a loop while init exits after ``delay`` s: each pause returns or raises
    ContainerNotRunning; once STOPPED, resume() raises ContainerNotRunning and destroy() removes
    everything (a cgroup left frozen included: the leak check)."""
    c = factory.create("pause-exit", dataclasses.replace(config, process=Process(args=["sleep", delay])))
    try:
        for _ in range(100000):
            try:
                c.pause()
            except ContainerNotRunning:
                break
            if c.status() == Status.STOPPED:
                break
            c.resume()
        assert c.status() == Status.STOPPED
        with pytest.raises(ContainerNotRunning):
            c.resume()
        assert c.wait() == 0
    finally:
        c.destroy()
    with pytest.raises(ContainerDestroyed):
        factory.load("pause-exit")


@pytest.mark.clause("LC-FAULT-12")
def test_missing_cwd_is_made_for_init_and_refused_for_start_process(factory, config):
    """A cwd missing from the rootfs: init's is made (a directory, 0755, parents too) and init runs in
    it; a start_process whose cwd is missing raises ConfigInvalid naming the cwd (field or path) and makes nothing; a
    cwd with a file in the way is ConfigInvalid at create, which leaves nothing."""
    import os
    top = os.path.join(config.rootfs, "lc-fault-12")
    blocker = os.path.join(config.rootfs, "lc-fault-12-file")
    try:
        made = dataclasses.replace(config, process=dataclasses.replace(config.process, cwd="/lc-fault-12/a/b"))
        c, out, status = run_init(factory, "cwd-init", made, "pwd; stat -c %a .")
        try:
            assert status == 0 and out.split() == ["/lc-fault-12/a/b", "755"], (status, out)
        finally:
            c.destroy()
        c = factory.create("cwd-exec", config)
        try:
            with pytest.raises(ConfigInvalid, match="cwd|/lc-fault-12-exec"):
                c.start_process(Process(args=["true"], cwd="/lc-fault-12-exec"))
            assert c.status() == Status.RUNNING
        finally:
            c.destroy()
        assert not os.path.exists(os.path.join(config.rootfs, "lc-fault-12-exec"))
        with open(blocker, "w"):
            pass
        bad = dataclasses.replace(config, process=Process(args=["true"], cwd="/lc-fault-12-file/x"))
        with pytest.raises(ConfigInvalid, match="cwd|/lc-fault-12-file"):
            factory.create("cwd-file", bad)
        with pytest.raises(ContainerDestroyed):
            factory.load("cwd-file")
    finally:
        for path in ("lc-fault-12/a/b", "lc-fault-12/a", "lc-fault-12", "lc-fault-12-exec"):
            if os.path.isdir(os.path.join(config.rootfs, path)):
                os.rmdir(os.path.join(config.rootfs, path))  # the shared rootfs stays as built
        if os.path.exists(blocker):
            os.unlink(blocker)


@pytest.mark.clause("LC-FAULT-13")
def test_home_from_passwd_or_slash(factory, config):
    """No HOME in env: the uid's home from the container's /etc/passwd (root: /root), ``/`` for a
    uid without an entry; a HOME in env is kept."""
    c, out, status = run_init(factory, "home-init", config, 'echo "$HOME"')
    try:
        assert status == 0 and out.strip() == "/root"
    finally:
        c.destroy()
    c = factory.create("home-exec", config)
    try:
        _, out, status = exec_probe(c, 'echo "$HOME"')
        assert out.strip() == "/root"
        import os
        r, w = os.pipe()
        pid = c.start_process(Process(args=["sh", "-c", 'echo "$HOME"'], uid=4242, gid=4242, stdout=w))
        os.close(w)
        with os.fdopen(r) as f:
            assert f.read().strip() == "/"
        assert c.wait_process(pid) == 0
        r, w = os.pipe()
        pid = c.start_process(Process(args=["sh", "-c", 'echo "$HOME"'], env=["HOME=/x", "PATH=/bin"], stdout=w))
        os.close(w)
        with os.fdopen(r) as f:
            assert f.read().strip() == "/x"
        assert c.wait_process(pid) == 0
    finally:
        c.destroy()


def _cmdline(pid: int) -> list[str]:
    """The arguments of host pid ``pid`` (proc(5) /proc/pid/cmdline), [] when it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


@pytest.mark.clause("LC-FAULT-14")
def test_pids_current_counts_zombies_processes_does_not(factory, config):
    """A zombie in the container (a child its parent never reaps): processes() lists the live
    processes only; stats().pids.current counts every task the kernel still charges, the zombie
    included, so it may exceed len(processes())."""
    # init is sleep (it never reaps); its child "sleep 0" exits at once and stays a zombie
    c = factory.create("zombie", dataclasses.replace(
        config, process=Process(args=["sh", "-c", "sleep 0 & exec sleep 86400"])))
    try:
        import time
        init = c.processes()[0]
        deadline = time.monotonic() + 10

        def init_execd() -> bool:  # sh forks the child before it execs sleep: from then on the child exists
            try:
                with open(f"/proc/{init}/cmdline", "rb") as f:
                    return f.read().split(b"\0")[0].endswith(b"sleep")
            except OSError:
                return False
        while time.monotonic() < deadline and not init_execd():
            time.sleep(0.01)
        while time.monotonic() < deadline:  # wait for the child to have exited (observed: it leaves processes())
            procs = c.processes()
            # one process is not enough: before sh has forked it is alone too; sh forks before its exec,
            # so init showing "sleep 86400" alone means the child has been made and has exited
            if len(procs) == 1 and _cmdline(procs[0]) == ["sleep", "86400"]:
                break
            time.sleep(0.01)
        assert len(procs) == 1, procs
        try:
            pids = c.stats().pids
        except NotSupported:
            pytest.skip("the runtime gives no stats (NotSupported)")
        if pids is None or pids.current is None:
            pytest.skip("no pids controller: pids.current is not reported")
        assert pids.current == len(procs) + 1, (pids.current, procs)
    finally:
        c.destroy()
