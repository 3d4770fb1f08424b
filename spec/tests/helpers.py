"""Helpers for the specification tests: run a probe and read what it printed."""

from __future__ import annotations

import dataclasses
import os
import signal
import time

from libcontainer.conformance.outcomes import SetupFailed
from libcontainer.spec import Config, Container, Factory, Process, Status

SIGKILLED = 128 + signal.SIGKILL


def read_all(fd: int) -> str:
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks).decode(errors="replace")
        chunks.append(chunk)


def run_init(factory: Factory, cid: str, config: Config, script: str) -> tuple[Container, str, int]:
    """Create ``cid`` whose init is ``sh -c script``; return (container, its stdout, its exit status)."""
    r, w = os.pipe()
    try:
        proc = dataclasses.replace(config.process, args=["sh", "-c", script], stdout=w)
        c = factory.create(cid, dataclasses.replace(config, process=proc))
    finally:
        os.close(w)
    with os.fdopen(r, "rb", closefd=True) as f:
        out = read_all(f.fileno())
    return c, out, c.wait()


def exec_probe(container: Container, script: str) -> tuple[int, str, int]:
    """start_process ``sh -c script``; return (pid, its stdout, its exit status)."""
    r, w = os.pipe()
    try:
        pid = container.start_process(Process(args=["sh", "-c", script], stdout=w))
    finally:
        os.close(w)
    out = read_all(r)
    os.close(r)
    return pid, out, container.wait_process(pid)


def stop_by_sigkill(container: Container, pid: int | None = None) -> int:
    """Set-up: bring ``container`` to STOPPED by SIGKILL of its init (host ``pid``, default its first process).

    Checks the status ``wait()`` gives against LC-WAIT-02 (137) once; when it
    differs, raises :class:`~libcontainer.conformance.outcomes.SetupFailed`:
    the plugin reports LC-WAIT-02 failed once and the test as blocked by it,
    not as a failure of the test's own clauses. Returns the status (137).
    """
    container.signal(container.processes()[0] if pid is None else pid, signal.SIGKILL)
    status = container.wait()
    if status != SIGKILLED:
        raise SetupFailed("LC-WAIT-02", f"wait() gave {status!r} for an init killed by SIGKILL, not {SIGKILLED}")
    return status


def wait_status(container: Container, want: Status, timeout: float = 10.0) -> Status:
    """Poll status() until it is ``want`` or ``timeout`` seconds pass; return the last status."""
    deadline = time.monotonic() + timeout
    while True:
        got = container.status()
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.005)


def is_live(pid: int) -> bool:
    """True if ``pid`` (host pid namespace) exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


class Call:
    """Run ``fn()`` in a thread; ``join(timeout)`` says whether it finished.

    After it finished, ``result`` holds the return value and ``error`` the
    exception (or None).
    """

    def __init__(self, fn, *args):
        import threading
        self.result = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn, args):
        try:
            self.result = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the test
            self.error = e

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def get(self, timeout: float = 30.0):
        """The result, re-raising the thread's exception; AssertionError if still running."""
        assert self.join(timeout), f"the call did not return within {timeout} s"
        if self.error is not None:
            raise self.error
        return self.result


def eventually(predicate, timeout: float = 5.0, step: float = 0.01) -> bool:
    """Poll ``predicate()`` until true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def create_unstarted(factory: Factory, cid: str, config: Config) -> Container:
    """``factory.create(cid, config, start=False)`` (SPEC.md LC-CREATED-01); a create that takes no
    ``start`` keyword is a runtime without the create/start split: NotSupported, so the test reads
    *not supported*, never passed."""
    import inspect

    from libcontainer.spec import NotSupported
    try:
        inspect.signature(factory.create).bind(cid, config, start=False)
    except TypeError:
        raise NotSupported(f"{type(factory).__name__}.create takes no start keyword (no create/start split)") from None
    return factory.create(cid, config, start=False)
