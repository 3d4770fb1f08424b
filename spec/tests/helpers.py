"""Helpers for the specification tests: run a probe and read what it printed."""

from __future__ import annotations

import dataclasses
import os
import time

from libcontainer.spec import Config, Container, Factory, Process, Status


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


def wait_status(container: Container, want: Status, timeout: float = 10.0) -> Status:
    """Poll status() until it is ``want`` or ``timeout`` seconds pass; return the last status."""
    deadline = time.monotonic() + timeout
    while True:
        got = container.status()
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.005)
