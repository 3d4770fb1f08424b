"""Fixtures of the reference's container tests: a busybox rootfs with a static probe in /bin/probe.

The conformance plugin's fixtures are used by short names (``factory``,
``config``, ``container``, ``cgroup_parent``, ...: the aliases of
:mod:`libcontainer.conformance.aliases`); its ``lc_rootfs`` is replaced by one
that also has ``probe`` (probe.c beside this file, built with ``gcc -static``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest

from libcontainer.conformance import leaks as leakcheck
from libcontainer.conformance.aliases import *  # noqa: F401,F403 - the short-name fixtures, here only
from libcontainer.conformance import rootfs as rootfs_mod

PROBE_SRC = os.path.join(os.path.dirname(__file__), "probe.c")


@pytest.fixture(scope="session")
def lc_rootfs(tmp_path_factory) -> str:
    if os.geteuid() != 0:
        pytest.skip("containers need root")
    if rootfs_mod.find_busybox() is None:
        pytest.skip("no static busybox on this host (apt-get install busybox-static)")
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("no gcc to build the probe (apt-get install gcc libc6-dev)")
    # under /tmp itself, not pytest's 0700 tmp_path: a container whose root is an unprivileged host
    # uid (user namespace) must be able to reach it, as with runc
    top = tempfile.mkdtemp(prefix="libcontainer-test-rootfs-", dir="/tmp")
    os.chmod(top, 0o755)
    path = rootfs_mod.build_busybox_rootfs(os.path.join(top, "rootfs"))
    os.chmod(path, 0o755)
    subprocess.run([gcc, "-static", "-O1", "-o", os.path.join(path, "bin", "probe"), PROBE_SRC], check=True)
    yield path
    for point in reversed(leakcheck.mounts_under(path)):
        subprocess.run(["umount", "-l", point], check=False)
    shutil.rmtree(top, ignore_errors=True)
