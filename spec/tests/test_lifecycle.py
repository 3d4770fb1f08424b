"""Init, namespaces, wait, signal, processes and destroy (SPEC.md)."""

import os
import signal
import time

import pytest

from libcontainer.spec import ContainerStats, Status

from .helpers import exec_probe, run_init, wait_status


@pytest.mark.clause("LC-NS-01")
def test_init_is_pid_1_and_sees_no_host_process(factory, config):
    c, out, status = run_init(factory, "pid1", config, "echo $$; ls /proc | grep -E '^[0-9]+$'")
    try:
        assert status == 0
        lines = out.split()
        assert lines[0] == "1", "init must be pid 1 in its pid namespace"
        visible = {int(p) for p in lines[1:]}
        assert 1 in visible
        assert len(visible) <= 3, f"only the container's own processes may be visible, saw {visible}"
        assert os.getpid() not in visible or os.getpid() <= 3
    finally:
        c.destroy()


@pytest.mark.clause("LC-NS-02")
def test_hostname_is_applied(factory, config):
    c, out, status = run_init(factory, "uts", config, "hostname")
    try:
        assert status == 0
        assert out.strip() == config.hostname
        assert os.uname().nodename != config.hostname or config.hostname == "spec"
    finally:
        c.destroy()


@pytest.mark.clause("LC-WAIT-01")
def test_wait_returns_exit_code(factory, config):
    c, _out, status = run_init(factory, "exit3", config, "exit 3")
    try:
        assert status == 3
        assert c.wait() == 3, "wait again gives the same status"
        assert c.status() == Status.STOPPED
    finally:
        c.destroy()


@pytest.mark.clause("LC-WAIT-02", "LC-SIGNAL-01")
def test_signal_kill_gives_137(container):
    container.signal(container.processes()[0], signal.SIGKILL)
    assert container.wait() == 128 + signal.SIGKILL
    assert container.status() == Status.STOPPED


@pytest.mark.clause("LC-PROCS-01")
def test_processes_lists_init_by_host_pid(container):
    pids = container.processes()
    assert len(pids) == 1
    init = pids[0]
    with open(f"/proc/{init}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0] == b"sleep"
    assert os.readlink(f"/proc/{init}/ns/pid") != os.readlink("/proc/self/ns/pid")


@pytest.mark.clause("LC-EXEC-01", "LC-WAITPROC-01", "LC-PROCS-01")
def test_start_process_runs_in_container_and_is_waitable(container):
    pid, out, status = exec_probe(container, "hostname; echo $$; exit 5")
    assert status == 5
    hostname, inner_pid = out.split()
    assert hostname == container.config().hostname
    assert int(inner_pid) != pid, "the pid inside is in the container's pid namespace"
    assert pid not in container.processes()


@pytest.mark.clause("LC-STATS-01")
def test_stats_returns_container_stats(container):
    stats = container.stats()
    assert isinstance(stats, ContainerStats)
    if stats.pids.current is not None:
        assert stats.pids.current >= 1
    if stats.memory.usage_bytes is not None:
        assert stats.memory.usage_bytes > 0


@pytest.mark.clause("LC-PAUSE-01", "LC-RESUME-01")
def test_pause_and_resume(container):
    container.pause()
    assert wait_status(container, Status.PAUSED) == Status.PAUSED
    with open(f"/proc/{container.processes()[0]}/stat") as f:
        assert f.read().rsplit(")", 1)[1].split()[0] in ("D", "S", "T", "t")
    container.resume()
    assert container.status() == Status.RUNNING


@pytest.mark.clause("LC-DESTROY-01", "LC-DESTROY-02")
def test_destroy_kills_everything_and_twice_is_fine(factory, factory_root, config):
    c = factory.create("gone", config)
    pid, _, _ = exec_probe(c, "true")
    bg = c.start_process(type(config.process)(args=["sleep", "86400"]))
    init = c.processes()
    c.destroy()
    for p in init + [bg]:
        assert not os.path.exists(f"/proc/{p}") or open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    assert os.listdir(factory_root) == []
    c.destroy()


@pytest.mark.clause("LC-STATUS-01")
def test_status_follows_the_lifecycle(container):
    assert container.status() == Status.RUNNING
    container.pause()
    assert container.status() in (Status.PAUSING, Status.PAUSED)
    assert wait_status(container, Status.PAUSED) == Status.PAUSED
    container.resume()
    assert container.status() == Status.RUNNING
    container.signal(container.processes()[0], signal.SIGKILL)
    container.wait()
    assert container.status() == Status.STOPPED


@pytest.mark.clause("LC-GEN-01")
def test_threads_share_one_container(container):
    import threading
    errors, statuses = [], []

    def work():
        try:
            for _ in range(5):
                statuses.append(container.status())
                container.processes()
                container.stats()
                _, out, status = exec_probe(container, "echo ok")
                assert (out, status) == ("ok\n", 0)
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert set(statuses) == {Status.RUNNING}
    assert container.status() == Status.RUNNING


@pytest.mark.clause("LC-PROCS-03", "LC-PAUSE-01")
def test_paused_pids_are_all_live_while_processes_churn(factory, config):
    """While RUNNING the list may hold pids that have exited; once PAUSED, none (seed, Processes())."""
    import dataclasses

    from .helpers import is_live
    churn = dataclasses.replace(config.process, args=["sh", "-c", "while :; do /bin/sleep 0 & /bin/true; done"])
    c = factory.create("churn", dataclasses.replace(config, process=churn))
    try:
        for _ in range(5):
            c.pause()
            assert c.status() in (Status.PAUSING, Status.PAUSED)
            assert wait_status(c, Status.PAUSED) == Status.PAUSED
            pids = c.processes()
            assert pids, "a paused container has processes"
            dead = [p for p in pids if not is_live(p)]
            assert not dead, f"pids listed while PAUSED that are not live: {dead}"
            c.resume()
            time.sleep(0.05)
    finally:
        c.destroy()
