"""Other real Python processes load, wait on and destroy a container (seed: "a container can be
destroyed by a separate process"); SPEC.md LC-GEN-02, LC-FACTORY-04, LC-WAIT-04, LC-WAIT-06."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from libcontainer.spec import ContainerDestroyed, ContainerNotRunning, Process, Status

from libcontainer.conformance.outcomes import SetupFailed

from .helpers import Call, exec_probe
from .test_destroyed import CALLS


def _script(runtime_name: str, factory_root: str, body: str) -> str:
    return textwrap.dedent(f"""
        import signal
        from libcontainer.conformance.runtimes import resolve
        factory = resolve({runtime_name!r})({factory_root!r})
    """) + textwrap.dedent(body)


def _run(runtime_name, factory_root, body, timeout=60) -> str:
    out = subprocess.run([sys.executable, "-c", _script(runtime_name, factory_root, body)],
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _start(runtime_name, factory_root, body) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _script(runtime_name, factory_root, body)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.clause("LC-GEN-02", "LC-FACTORY-04")
def test_destroy_from_another_process(factory, factory_root, runtime_name, config):
    c = factory.create("xproc", config)
    try:
        assert c.status() == Status.RUNNING
        init = c.processes()[0]
        out = _run(runtime_name, factory_root, """
            c = factory.load("xproc")
            c.signal(c.processes()[0], signal.SIGKILL)
            print(c.wait())
            c.destroy()
        """)
        if out != "137":  # the set-up's own clause: a kill ends with 128 + 9
            raise SetupFailed("LC-WAIT-02", f"wait() in another process gave {out!r} for init killed by SIGKILL")
        for name, (_clause, call) in CALLS.items():
            with pytest.raises(ContainerDestroyed):
                call(c, init)
        assert c.destroy() is None
        assert c.id == "xproc"
        assert c.config().rootfs == config.rootfs
    finally:
        c.destroy()


@pytest.mark.clause("LC-GEN-02")
def test_destroy_of_running_container_from_another_process(factory, factory_root, runtime_name, config):
    c = factory.create("xproc-run", config)
    try:
        init = c.processes()[0]
        pid, _, status = exec_probe(c, "exit 3")
        assert status == 3
        _run(runtime_name, factory_root, 'factory.load("xproc-run").destroy()')
        for name, (_clause, call) in CALLS.items():
            with pytest.raises(ContainerDestroyed):
                call(c, init)
        with pytest.raises(ContainerDestroyed):
            c.wait_process(pid)
        with pytest.raises(ContainerDestroyed):
            factory.load("xproc-run")
        c.destroy()
    finally:
        c.destroy()


@pytest.mark.clause("LC-WAIT-06")
def test_wait_here_while_another_process_destroys(factory, factory_root, runtime_name, config):
    c = factory.create("xproc-wait", config)
    try:
        waiter = Call(c.wait)
        assert not waiter.join(0.3)
        _run(runtime_name, factory_root, 'factory.load("xproc-wait").destroy()')
        assert waiter.join(10), "wait() blocked for ever after another process destroyed the container"
        if waiter.error is not None:
            assert isinstance(waiter.error, ContainerDestroyed), repr(waiter.error)
        else:
            assert waiter.result == 128 + signal.SIGKILL
    finally:
        c.destroy()


@pytest.mark.clause("LC-WAIT-04", "LC-FACTORY-04")
def test_wait_in_other_processes_sees_the_same_status(factory, factory_root, runtime_name, config):
    c = factory.create("xproc-status", config)
    try:
        exited, _, status = exec_probe(c, "exit 7")
        waiting = _start(runtime_name, factory_root, """
            c = factory.load("xproc-status")
            print(c.wait(), flush=True)
        """)
        try:
            with pytest.raises(subprocess.TimeoutExpired):
                waiting.wait(timeout=0.5)  # blocked in wait() while init lives
            c.signal(c.processes()[0], signal.SIGKILL)
            out, err = waiting.communicate(timeout=30)
        finally:
            if waiting.poll() is None:
                waiting.kill()
                waiting.wait()
        assert waiting.returncode == 0, err
        assert out.strip() == "137"
        assert c.wait() == 137
        later = _run(runtime_name, factory_root, f"""
            c = factory.load("xproc-status")
            print(c.status().name, c.wait(), c.wait(), c.wait_process({exited}))
        """)
        assert later == "STOPPED 137 137 7"
    finally:
        c.destroy()


@pytest.mark.clause("LC-WAIT-04", "LC-FACTORY-04")
def test_status_survives_the_creating_process(factory, factory_root, runtime_name, config):
    # the init exits 5 once the test tells it to (a file in its root), not after a sleep that a slow create and
    # status (an emulated guest, an OCI runtime's own start-up) may outlast
    go = f"go-orphan-{os.getpid()}"
    init = ["sh", "-c", f"while [ ! -e /{go} ]; do sleep 0.05; done; exit 5"]
    out = _run(runtime_name, factory_root, f"""
        from libcontainer.spec import Config, Process
        config = Config(rootfs={config.rootfs!r}, process=Process(args={init!r}),
                        cgroup_parent={config.cgroup_parent!r})
        c = factory.create("orphan", config)
        print(c.status().name)
    """)
    assert out == "RUNNING"
    c = factory.load("orphan")
    try:
        with open(os.path.join(config.rootfs, go), "w"):
            pass
        assert Call(c.wait).get(30) == 5
        assert c.status() == Status.STOPPED
        with pytest.raises(ContainerNotRunning):
            c.start_process(Process(args=["true"]))
    finally:
        c.destroy()
        if os.path.exists(os.path.join(config.rootfs, go)):
            os.unlink(os.path.join(config.rootfs, go))


@pytest.mark.clause("LC-CONC-02")
def test_exec_here_while_another_process_pauses_and_resumes(factory, factory_root, runtime_name, config):
    import time

    from libcontainer.spec import ContainerPaused

    from .helpers import wait_status
    c = factory.create("xproc-race", config)
    try:
        other = _start(runtime_name, factory_root, """
            import time
            c = factory.load("xproc-race")
            n, end = 0, time.monotonic() + 2.0
            while time.monotonic() < end or n < 3:  # 2 s, and 3 rounds however slow the runtime or guest
                c.pause()
                c.resume()
                n += 1
            print(n, c.status().name, flush=True)
        """)
        started, refused, wrong = [], 0, []
        try:
            deadline = time.monotonic() + 60  # the other process loops for 2 s (3 rounds at least) after it starts
            while other.poll() is None and time.monotonic() < deadline:
                try:
                    started.append(c.start_process(Process(args=["true"])))
                except ContainerPaused:
                    refused += 1
                except Exception as e:  # noqa: BLE001
                    wrong.append(repr(e))
            out, err = other.communicate(timeout=30)
        finally:
            if other.poll() is None:
                other.kill()
                other.wait()
        assert other.returncode == 0, err
        count, final = out.split()
        assert int(count) > 2 and final == "RUNNING", out
        assert not wrong, wrong[:5]
        assert wait_status(c, Status.RUNNING) == Status.RUNNING
        for pid in started:
            assert Call(c.wait_process, pid).get(10) == 0
    finally:
        c.destroy()
