"""podman (Debian's 4.3.1, with conmon) drives ``lcrun`` as its OCI runtime (issue 14, item 5).

An image imported from the busybox rootfs (``podman import``, no registry); podman's storage,
run and tmp directories and lcrun's root in a temporary directory of the test's own; the flags
this host needs (/work/shared/notes/host-facts.md): ``--network none``, ``--ulimit
nofile=20000:20000 --ulimit nproc=4096:4096``, ``--cgroup-manager cgroupfs``. Afterwards every
container, the image and the storage are removed, and the ``libpod_parent`` cgroups podman
leaves, in the hierarchies where the run made them, once empty.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

import pytest

from libcontainer.cli.store import DEFAULT_ROOT

pytestmark = pytest.mark.root

PODMAN = shutil.which("podman")
#: the lcrun installed beside this Python (the project's virtualenv), else on PATH
LCRUN = os.path.join(os.path.dirname(sys.executable), "lcrun")
LCRUN = LCRUN if os.access(LCRUN, os.X_OK) else (shutil.which("lcrun") or LCRUN)
IMAGE = "localhost/lcrun-busybox:test"
HOST_FLAGS = ["--network", "none", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]
CGROUP_LEFTOVERS = "/sys/fs/cgroup/*/libpod_parent"

if PODMAN is None:
    pytestmark = [pytest.mark.root, pytest.mark.skip(reason="podman is not installed (apt-get install podman)")]


def _lcrun_containers(base: str | None = None) -> list[str]:
    """The container ids in lcrun's default root; with ``base``, only those whose bundle is under it
    (made by the podman of that directory: another podman, e.g. of a parallel test worker, shares
    the root)."""
    root = os.path.join(DEFAULT_ROOT, "containers")
    ids = os.listdir(root) if os.path.isdir(root) else []
    if base is None:
        return ids
    mine = []
    for cid in ids:
        state = subprocess.run([LCRUN, "state", cid], capture_output=True, text=True)
        if state.returncode == 0 and json.loads(state.stdout).get("bundle", "").startswith(base + "/"):
            mine.append(cid)
    return mine


class Podman:
    def __init__(self, base: str):
        self.base = base
        self.global_args = [PODMAN, "--root", f"{base}/storage", "--runroot", f"{base}/run", "--tmpdir", f"{base}/tmp",
                            "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--storage-driver", "vfs",
                            "--runtime", LCRUN]
        # lcrun's default root (/run/lcrun): podman 4.3 does not pass --runtime-flag to the
        # `podman container cleanup` that conmon runs at exit, so a root of our own would be missed there

    def __call__(self, *args: str, timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess:
        run = subprocess.run(self.global_args + list(args), capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
        if check:
            assert run.returncode == 0, f"podman {' '.join(args)}: rc {run.returncode}\n{run.stdout}\n{run.stderr}"
        return run


@pytest.fixture(scope="module")
def podman():
    if os.geteuid() != 0:
        pytest.skip("podman as root needs root")
    if not os.access(LCRUN, os.X_OK):
        pytest.skip(f"lcrun is not installed ({LCRUN}): pip install -e .")
    from libcontainer.busybox import build_busybox_rootfs
    # podman refuses a --runroot of more than 50 characters: pytest's tmp paths under xdist are longer
    base = tempfile.mkdtemp(prefix="lcp-", dir="/tmp")
    rootfs = build_busybox_rootfs(os.path.join(base, "rootfs"))
    with tarfile.open(os.path.join(base, "rootfs.tar"), "w") as tar:
        tar.add(rootfs, arcname=".")
    cgroups_before = set(glob.glob(CGROUP_LEFTOVERS))
    lcrun_before = set(_lcrun_containers())
    p = Podman(base)
    p("import", os.path.join(base, "rootfs.tar"), IMAGE, check=True)
    yield p
    p("rm", "--all", "--force", "--time", "0")
    p("rmi", "--all", "--force")
    leftovers = sorted(set(_lcrun_containers(base)) - lcrun_before)
    with open("/proc/self/mountinfo") as f:  # podman's shm mounts under its run directory, if any remain
        points = [line.split()[4] for line in f if line.split()[4].startswith(base + "/")]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)
    shutil.rmtree(base, ignore_errors=True)
    for path in sorted(set(glob.glob(CGROUP_LEFTOVERS)) - cgroups_before):
        for sub in sorted(glob.glob(f"{path}/**/", recursive=True), key=len, reverse=True):
            try:
                os.rmdir(sub)
            except OSError:
                pass
    assert leftovers == [], f"lcrun containers left after podman rm --all: {leftovers}"


def _run(podman, *args, **kwargs):
    return podman("run", "--rm", *HOST_FLAGS, IMAGE, *args, **kwargs)


def test_run_prints_output_and_exits_0(podman):
    run = _run(podman, "echo", "hello from lcrun")
    assert (run.returncode, run.stdout) == (0, "hello from lcrun\n"), run.stderr


def test_run_exit_code_3(podman):
    run = _run(podman, "sh", "-c", "echo three; exit 3")
    assert (run.returncode, run.stdout) == (3, "three\n"), run.stderr


def test_run_exit_code_137_for_a_sigkill(podman):
    run = _run(podman, "sh", "-c", "echo before; sleep 1000 & kill -9 $!; wait $!")
    assert (run.returncode, run.stdout) == (137, "before\n"), run.stderr


def test_detached_exec_pause_stop_rm(podman):
    podman("run", "-d", "--name", "lc-d1", *HOST_FLAGS, IMAGE, "sleep", "1000", check=True)
    try:
        run = podman("exec", "lc-d1", "sh", "-c", "echo in-exec; exit 4")
        assert (run.returncode, run.stdout) == (4, "in-exec\n"), run.stderr
        ps = podman("ps", "--format", "{{.Names}} {{.Status}}", check=True)
        assert "lc-d1 Up" in ps.stdout
        top = podman("top", "lc-d1", check=True)
        rows = top.stdout.splitlines()[1:]
        assert [r.split()[-2:] for r in rows] == [["sleep", "1000"]], top.stdout
        podman("pause", "lc-d1", check=True)
        assert "Paused" in podman("ps", "-a", "--format", "{{.Names}} {{.Status}}", check=True).stdout
        podman("unpause", "lc-d1", check=True)
        assert podman("exec", "lc-d1", "echo", "thawed", check=True).stdout == "thawed\n"
        podman("stop", "--time", "1", "lc-d1", check=True)
        assert podman("wait", "lc-d1").stdout.strip() == "137", "sleep as pid 1 ignores SIGTERM: stop kills it"
    finally:
        podman("rm", "-f", "lc-d1", check=True)
    assert "lc-d1" not in podman("ps", "-a", "--format", "{{.Names}}", check=True).stdout


def test_kill_and_rm_force(podman):
    podman("run", "-d", "--name", "lc-d2", *HOST_FLAGS, IMAGE, "sleep", "1000", check=True)
    podman("kill", "lc-d2", check=True)
    assert podman("wait", "lc-d2").stdout.strip() == "137"
    podman("run", "-d", "--name", "lc-d3", *HOST_FLAGS, IMAGE, "sleep", "1000", check=True)
    podman("rm", "-f", "--time", "0", "lc-d2", "lc-d3", check=True)
    assert podman("ps", "-a", "--format", "{{.Names}}", check=True).stdout.split() == []
