"""A destroyed container: every call whose seed contract lists ContainerDestroyed raises it;
id and config() still answer; destroy stays a no-op (SPEC.md)."""

import signal

import pytest

from libcontainer.spec import ContainerDestroyed, ErrorCode, Process

from .helpers import stop_by_sigkill


@pytest.fixture
def destroyed(factory, config):
    c = factory.create("dead", config)
    init = c.processes()[0]
    c.destroy()
    return c, init


CALLS = {
    "status": ("LC-STATUS-02", lambda c, pid: c.status()),
    "processes": ("LC-PROCS-02", lambda c, pid: c.processes()),
    "stats": ("LC-STATS-02", lambda c, pid: c.stats()),
    "start_process": ("LC-EXEC-02", lambda c, pid: c.start_process(Process(args=["true"]))),
    "pause": ("LC-PAUSE-02", lambda c, pid: c.pause()),
    "resume": ("LC-RESUME-02", lambda c, pid: c.resume()),
    "signal": ("LC-SIGNAL-02", lambda c, pid: c.signal(pid, signal.SIGTERM)),
    "wait": ("LC-WAIT-03", lambda c, pid: c.wait()),
    "wait_process": ("LC-WAITPROC-02", lambda c, pid: c.wait_process(pid)),
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.clause(cl), id=n)
                                  for n, (cl, _) in CALLS.items()])
def test_call_on_destroyed_raises_container_destroyed(destroyed, name):
    _clause, call = CALLS[name]
    c, init = destroyed
    with pytest.raises(ContainerDestroyed) as info:
        call(c, init)
    assert info.value.code == ErrorCode.CONTAINER_DESTROYED


@pytest.mark.clause("LC-IDENT-01", "LC-CONFIG-01", "LC-DESTROY-02")
def test_id_and_config_answer_after_destroy(destroyed, config):
    c, _ = destroyed
    assert c.id == "dead"
    assert c.config().rootfs == config.rootfs
    assert c.config().process.args == config.process.args
    c.destroy()


@pytest.mark.clause("LC-WAIT-03", "LC-WAITPROC-02")
def test_wait_after_destroy_raises_even_when_the_status_was_known(factory, config):
    c = factory.create("known", config)
    pid = c.start_process(Process(args=["true"]))
    assert c.wait_process(pid) == 0
    stop_by_sigkill(c)
    c.destroy()
    with pytest.raises(ContainerDestroyed):
        c.wait()
    with pytest.raises(ContainerDestroyed):
        c.wait_process(pid)
