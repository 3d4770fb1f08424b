"""linux.wait_readable: poll(2), so descriptors above FD_SETSIZE work (SPEC.md LC-HOST-07). No root."""

from __future__ import annotations

import os
import resource

import pytest

from libcontainer.plumbing import linux


def test_readable_and_timeout_on_a_pipe():
    r, w = os.pipe()
    try:
        assert linux.wait_readable(r, 0) is False
        os.write(w, b"x")
        assert linux.wait_readable(r, 0) is True
    finally:
        os.close(r)
        os.close(w)


def test_descriptor_above_fd_setsize():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < 1200")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    r, w = os.pipe()
    high = os.dup2(r, 1100)
    try:
        os.write(w, b"x")
        assert linux.wait_readable(high, 1.0) is True  # select(2) raises ValueError for 1100
        os.read(high, 1)
        assert linux.wait_readable(high, 0.01) is False
        os.close(w)
        w = -1
        assert linux.wait_readable(high, 1.0) is True  # EOF is readable
    finally:
        for fd in (r, high, w):
            if fd >= 0:
                os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
