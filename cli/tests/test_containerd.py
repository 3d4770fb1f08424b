"""containerd 1.6 (Debian's) drives ``lcrun`` through its runc shim (issue 14, item 5):
``ctr run --runtime io.containerd.runc.v2 --runc-binary lcrun``.

A containerd of the test's own (root, state and sockets in a temporary directory; the CRI plugin
off), an image made here from the busybox rootfs as an OCI image layout (one layer, no registry)
and imported with ``ctr images import``; the shim's runc root (lcrun's ``--root``) in the same
directory; each container's cgroup under ``/libcontainer/lcrun-ctr-<pid>``. Afterwards every
task and container is deleted and the containerd stopped (by its pid).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

import pytest

pytestmark = pytest.mark.root

CONTAINERD, CTR = shutil.which("containerd"), shutil.which("ctr")
LCRUN = os.path.join(os.path.dirname(sys.executable), "lcrun")
IMAGE = "localhost/lcrun-busybox:test"

if CONTAINERD is None or CTR is None:
    pytestmark = [pytest.mark.root, pytest.mark.skip(reason="containerd is not installed (apt-get install containerd)")]


def _blob(layout: tarfile.TarFile, data: bytes, media_type: str) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size = len(data)
    layout.addfile(info, io.BytesIO(data))
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def oci_archive(rootfs: str, path: str, name: str) -> None:
    """An OCI image layout tar (image-spec image-layout.md) of ``rootfs`` as one uncompressed layer."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        tar.add(rootfs, arcname=".")
    layer_bytes = layer.getvalue()
    config = {"architecture": "amd64", "os": "linux", "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
              "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer_bytes).hexdigest()}"]}}
    with tarfile.open(path, "w") as layout:
        layer_desc = _blob(layout, layer_bytes, "application/vnd.oci.image.layer.v1.tar")
        config_desc = _blob(layout, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": config_desc, "layers": [layer_desc]}
        manifest_desc = _blob(layout, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
        manifest_desc["annotations"] = {"org.opencontainers.image.ref.name": name}
        for fname, data in (("oci-layout", {"imageLayoutVersion": "1.0.0"}),
                            ("index.json", {"schemaVersion": 2, "manifests": [manifest_desc]})):
            raw = json.dumps(data).encode()
            info = tarfile.TarInfo(fname)
            info.size = len(raw)
            layout.addfile(info, io.BytesIO(raw))


class Ctr:
    def __init__(self, base: str):
        self.base = base
        self.cgroup_parent = f"/libcontainer/lcrun-ctr-{os.getpid()}"

    def __call__(self, *args: str, timeout: float = 60, check: bool = False) -> subprocess.CompletedProcess:
        run = subprocess.run([CTR, "--address", f"{self.base}/ctd.sock", *args], capture_output=True, text=True,
                             timeout=timeout, stdin=subprocess.DEVNULL)
        if check:
            assert run.returncode == 0, f"ctr {' '.join(args)}: rc {run.returncode}\n{run.stdout}\n{run.stderr}"
        return run

    def run(self, cid: str, *args: str, detach: bool = False) -> subprocess.CompletedProcess:
        return self("run", "-d" if detach else "--rm", "--runtime", "io.containerd.runc.v2", "--runc-binary", LCRUN,
                    "--runc-root", f"{self.base}/runc", "--cgroup", f"{self.cgroup_parent}/{cid}", IMAGE, cid, *args)


@pytest.fixture(scope="module")
def ctr():
    if os.geteuid() != 0:
        pytest.skip("containerd as root needs root")
    if not os.access(LCRUN, os.X_OK):
        pytest.skip(f"lcrun is not installed beside this Python ({LCRUN}): pip install -e .")
    from libcontainer.busybox import build_busybox_rootfs
    base = tempfile.mkdtemp(prefix="lcc-", dir="/tmp")  # short: a unix socket path has 108 bytes
    with open(f"{base}/config.toml", "w") as f:
        f.write(f'version = 2\nroot = "{base}/root"\nstate = "{base}/state"\n'
                'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                f'[grpc]\n  address = "{base}/ctd.sock"\n[ttrpc]\n  address = "{base}/ctd.ttrpc.sock"\n')
    log = open(f"{base}/containerd.log", "w")
    daemon = subprocess.Popen([CONTAINERD, "--config", f"{base}/config.toml"], stdout=log, stderr=log,
                              stdin=subprocess.DEVNULL)
    c = Ctr(base)
    try:
        deadline = time.monotonic() + 30
        while c("version").returncode != 0:
            assert daemon.poll() is None and time.monotonic() < deadline, open(f"{base}/containerd.log").read()
            time.sleep(0.1)
        oci_archive(build_busybox_rootfs(f"{base}/rootfs"), f"{base}/image.tar", IMAGE)
        c("images", "import", f"{base}/image.tar", check=True)
        yield c
    finally:
        for cid in c("containers", "ls", "-q").stdout.split():
            c("tasks", "kill", "-s", "KILL", cid)
            c("tasks", "delete", "--force", cid)
            c("containers", "rm", cid)
        c("images", "rm", IMAGE)
        daemon.terminate()
        daemon.wait(30)
        log.close()
        subprocess.run(["umount", "-R", f"{base}/root"], capture_output=True)  # snapshot mounts, if any remain
        shutil.rmtree(base, ignore_errors=True)
        for hierarchy in os.listdir("/sys/fs/cgroup"):
            path = f"/sys/fs/cgroup/{hierarchy}{c.cgroup_parent}"
            if os.path.isdir(path):
                os.rmdir(path)


def test_run_prints_output_and_exits_with_the_status(ctr):
    run = ctr.run("c-echo", "echo", "hello from lcrun")
    assert (run.returncode, run.stdout) == (0, "hello from lcrun\n"), run.stderr
    run = ctr.run("c-three", "sh", "-c", "echo three; exit 3")
    assert (run.returncode, run.stdout) == (3, "three\n"), run.stderr
    run = ctr.run("c-kill", "sh", "-c", "sleep 1000 & kill -9 $!; wait $!")
    assert run.returncode == 137, run.stderr


def test_detached_task_exec_pause_kill_delete(ctr):
    ctr.run("c-d1", "sleep", "1000", detach=True)
    try:
        run = ctr("tasks", "exec", "--exec-id", "e1", "c-d1", "sh", "-c", "echo in-exec; exit 4")
        assert (run.returncode, run.stdout) == (4, "in-exec\n"), run.stderr
        ctr("tasks", "pause", "c-d1", check=True)
        assert "PAUSED" in ctr("tasks", "ls", check=True).stdout
        ctr("tasks", "resume", "c-d1", check=True)
        assert "RUNNING" in ctr("tasks", "ls", check=True).stdout
        assert ctr("tasks", "exec", "--exec-id", "e2", "c-d1", "echo", "thawed", check=True).stdout == "thawed\n"
        ctr("tasks", "kill", "-s", "KILL", "c-d1", check=True)
        deadline = time.monotonic() + 30
        while "STOPPED" not in ctr("tasks", "ls", check=True).stdout:
            assert time.monotonic() < deadline, "the task never stopped after SIGKILL"
            time.sleep(0.05)
    finally:
        ctr("tasks", "delete", "--force", "c-d1")
        ctr("containers", "rm", "c-d1")
    assert ctr("containers", "ls", "-q", check=True).stdout.split() == []
