"""The monitor: both start modes, its identity, reaping, and create from several threads."""

from __future__ import annotations

import threading

import psutil
import pytest

from libcontainer.reference import LinuxFactory
from libcontainer.spec import Process
from libcontainer.spec.tests.helpers import exec_probe, run_init


@pytest.mark.parametrize("mode", ["fork", "exec"])
def test_both_monitor_modes_run_a_container(factory_root, factory, config, mode):
    f = LinuxFactory(factory_root, monitor=mode)
    c = f.create(f"m-{mode}", config)
    try:
        monitor = psutil.Process(psutil.Process(c.init_pid).ppid())
        if mode == "fork":
            assert monitor.name() == "lc-monitor"
        else:
            assert "libcontainer.reference.monitor" in monitor.cmdline()
        # nothing of the caller's: regular files open are only its own log in the state directory
        assert {f.path for f in monitor.open_files()} <= {f"{factory_root}/m-{mode}/monitor.log"}
        _pid, out, status = exec_probe(c, "echo hi; probe keyctl")
        assert (out.split(), status) == (["hi", "EPERM"], 1)
    finally:
        c.destroy()
    assert not psutil.pid_exists(monitor.pid) or monitor.status() == psutil.STATUS_ZOMBIE


def test_unknown_monitor_mode_is_refused(factory_root):
    with pytest.raises(ValueError):
        LinuxFactory(factory_root, monitor="spawn")


def test_monitor_exits_and_is_reaped_after_destroy(factory, config):
    c, _out, status = run_init(factory, "reap", config, "exit 5")
    assert status == 5
    monitor_pid = c._state.monitor_pid
    c.destroy()
    assert not psutil.pid_exists(monitor_pid) or psutil.Process(monitor_pid).status() != psutil.STATUS_ZOMBIE


def test_create_from_several_threads_at_once(factory, config):
    """The fork start mode forks a multi-threaded caller: every container still starts and runs."""
    results, errors = {}, []

    def make(i):
        try:
            c, out, status = run_init(factory, f"t{i}", config, f"echo {i}")
            results[i] = (out.strip(), status)
            c.destroy()
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=make, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert results == {i: (str(i), 0) for i in range(6)}


@pytest.mark.parametrize("userns", [False, True])
@pytest.mark.parametrize("bad", [{"args": ["/nonexistent"]}, {"cwd": "/etc/passwd/x"},
                                 {"rlimits": {"RLIMIT_NOPE": (1, 1)}}])
def test_failed_init_is_config_invalid_and_leaves_nothing(factory, config, bad, userns):
    """create is atomic: the leak check of the ``factory`` fixture fails the test if anything is left
    (a cwd under a file cannot be made, unlike a missing one: LC-FAULT-12)."""
    import dataclasses

    from libcontainer.spec import ConfigInvalid, IDMap
    cfg = dataclasses.replace(config, process=dataclasses.replace(config.process, **bad))
    if userns:
        cfg = dataclasses.replace(cfg, namespaces=cfg.namespaces + ["user"], uid_mappings=[IDMap(0, 100000, 65536)],
                                  gid_mappings=[IDMap(0, 100000, 65536)])
    with pytest.raises(ConfigInvalid, match="process"):
        factory.create("bad", cfg)


def test_leak_check_finds_a_forked_monitor(factory_root, factory, config):
    """The harness's leak check finds a live forked monitor (its cwd is its state directory)."""
    from libcontainer.conformance.leaks import processes_mentioning
    c = factory.create("seen", config)
    try:
        monitor_pid = psutil.Process(c.init_pid).ppid()
        assert monitor_pid in {p.pid for p in processes_mentioning(factory_root)}
    finally:
        c.destroy()
