"""A caller holding many open files (SPEC.md LC-HOST-07).

Found by the issue 15 scale benchmark: the reference's caller keeps a pidfd
per container, and with about 1030 descriptors open ``create`` raised a bare
``ValueError: filedescriptor out of range in select()``: select(2) takes
only descriptors below FD_SETSIZE (1024). The exact input kept here: the
caller's next descriptors are above 1024 when it calls the interface.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import signal

import pytest

from libcontainer.spec import Status

from .helpers import SIGKILLED, exec_probe, run_init, wait_status

FD_SETSIZE = 1024
HIGH = FD_SETSIZE + 100  # the lowest descriptor the interface gets in these tests


@contextlib.contextmanager
def low_descriptors_taken():
    """Hold every descriptor below HIGH (dups of /dev/null), so that whatever the caller opens next
    (pipes, pidfds, sockets) is numbered above FD_SETSIZE; restore the limit and close them after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = HIGH + 200
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {want}: cannot hold {HIGH} descriptors")
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    held = []
    try:
        null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        held.append(null)
        while True:
            fd = os.dup(null)
            held.append(fd)
            if fd >= HIGH - 1:
                break
        probe = os.dup(null)
        os.close(probe)
        assert probe > FD_SETSIZE, probe  # what the caller opens next is numbered above 1024
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.clause("LC-HOST-07")
def test_lifecycle_with_descriptors_above_fd_setsize(factory, config):
    """create, start_process, wait_process, pause, resume, signal, wait and destroy all work when
    every descriptor the caller opens is above 1024 (the issue's input: about 1030 open)."""
    with low_descriptors_taken():
        c, out, code = run_init(factory, "many-fds", config, "echo ok")
        try:
            assert (out, code) == ("ok\n", 0)
        finally:
            c.destroy()
        sleeper = dataclasses.replace(config.process, args=["sleep", "86400"])
        long = factory.create("many-fds-2", dataclasses.replace(config, process=sleeper))
        try:
            _pid, out, code = exec_probe(long, "echo exec")
            assert (out, code) == ("exec\n", 0)
            long.pause()
            assert long.status() == Status.PAUSED
            long.resume()
            assert long.status() == Status.RUNNING
            long.signal(long.processes()[0], signal.SIGKILL)
            assert long.wait() == SIGKILLED
            assert wait_status(long, Status.STOPPED) == Status.STOPPED
        finally:
            long.destroy()
