"""lcrun's lifecycle through its command line, as OCI tools call it, compared with runc 1.1's
answers (run beside it on the same bundle when runc is installed)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.root

LCRUN = os.path.join(os.path.dirname(sys.executable), "lcrun")
RUNC = shutil.which("runc")


@pytest.fixture
def bundle(tmp_path, request):
    """A bundle (busybox rootfs, ``lcrun spec``'s config without a terminal) and a runner:
    ``cli(*args)`` runs lcrun with the test's own root; every container is deleted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("containers need root")
    if not os.access(LCRUN, os.X_OK):
        pytest.skip(f"lcrun is not installed beside this Python ({LCRUN}): pip install -e .")
    from libcontainer.busybox import build_busybox_rootfs
    build_busybox_rootfs(str(tmp_path / "rootfs"))
    subprocess.run([LCRUN, "spec", "--bundle", str(tmp_path)], check=True)
    spec = json.loads((tmp_path / "config.json").read_text())
    spec["process"].update(terminal=False, args=["sleep", "1000"])
    spec["root"]["readonly"] = False
    spec["linux"]["cgroupsPath"] = f"/libcontainer/lcrun-test-{os.getpid()}/c"
    (tmp_path / "config.json").write_text(json.dumps(spec))
    root = tmp_path / "state"

    def cli(*args, runtime=LCRUN, timeout=60):
        # files, not pipes, for its output: a container inherits them, and a reader of a pipe would wait for it
        with open(tmp_path / "out", "w+") as out, open(tmp_path / "err", "w+") as err:
            run = subprocess.run([runtime, "--root", str(root if runtime == LCRUN else tmp_path / "runc-state"), *args],
                                 stdout=out, stderr=err, cwd=tmp_path, timeout=timeout, stdin=subprocess.DEVNULL)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(run.args, run.returncode, out.read(), err.read())
    cli.path = tmp_path
    cli.spec = spec
    yield cli
    for runtime in (LCRUN, RUNC):
        if runtime is None:
            continue
        listed = cli("list", "-q", runtime=runtime).stdout.split()
        for cid in listed:
            cli("delete", "--force", cid, runtime=runtime)
    for hierarchy in os.listdir("/sys/fs/cgroup"):
        path = f"/sys/fs/cgroup/{hierarchy}/libcontainer/lcrun-test-{os.getpid()}"
        if os.path.isdir(path):
            os.rmdir(path)


def _state(cli, cid):
    run = cli("state", cid)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_create_start_kill_delete(bundle):
    pid_file = bundle.path / "pid"
    run = bundle("create", "--bundle", str(bundle.path), "--pid-file", str(pid_file), "c1")
    assert run.returncode == 0, run.stderr
    state = _state(bundle, "c1")
    assert state["status"] == "created" and state["ociVersion"] and state["id"] == "c1"
    assert state["bundle"] == str(bundle.path) and state["pid"] > 0
    assert json.loads(bundle("ps", "--format", "json", "c1").stdout) == [state["pid"]]
    keeper = int(pid_file.read_text())
    assert keeper > 0 and os.path.exists(f"/proc/{keeper}")
    assert bundle("start", "c1").returncode == 0
    assert _state(bundle, "c1")["status"] == "running"
    run = bundle("start", "c1")
    assert (run.returncode, "cannot start an already running container" in run.stderr) == (1, True), run.stderr
    assert bundle("kill", "c1", "KILL").returncode == 0
    deadline = time.monotonic() + 10
    while _state(bundle, "c1")["status"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _state(bundle, "c1") | {"created": ""} == state | {"status": "stopped", "pid": 0, "created": ""}
    assert bundle("delete", "c1").returncode == 0
    run = bundle("state", "c1")
    assert run.returncode == 1 and 'msg="container does not exist"' in run.stderr


def test_run_exit_status_and_output(bundle):
    spec = dict(bundle.spec, process=dict(bundle.spec["process"], args=["sh", "-c", "echo out; exit 3"]))
    (bundle.path / "config.json").write_text(json.dumps(spec))
    run = bundle("run", "r1")
    assert (run.returncode, run.stdout) == (3, "out\n"), run.stderr
    assert bundle("list", "-q").stdout == ""


def test_exec_pause_resume_ps(bundle):
    assert bundle("run", "--detach", "d1").returncode == 0
    run = bundle("exec", "--env", "X=42", "--cwd", "/tmp", "d1", "sh", "-c", "echo $X $(pwd); exit 7")
    assert (run.returncode, run.stdout) == (7, "42 /tmp\n"), run.stderr
    process = dict(bundle.spec["process"], args=["sleep", "1000"])
    (bundle.path / "process.json").write_text(json.dumps(process))
    pid_file = bundle.path / "exec.pid"
    run = bundle("exec", "--process", str(bundle.path / "process.json"), "--detach", "--pid-file", str(pid_file), "d1")
    assert run.returncode == 0, run.stderr
    exec_pid = int(pid_file.read_text())  # the process itself, as runc's pid file names it
    assert json.loads(bundle("ps", "--format", "json", "d1").stdout) == sorted([_state(bundle, "d1")["pid"], exec_pid])
    assert bundle("pause", "d1").returncode == 0
    assert _state(bundle, "d1")["status"] == "paused"
    assert bundle("pause", "d1").returncode == 0  # the reference's no-op (SPEC.md LC-PAUSE-03); runc refuses
    run = bundle("exec", "d1", "true")
    assert run.returncode == 1 and "container is paused" in run.stderr  # LC-EXEC-03, not a frozen exec
    assert bundle("resume", "d1").returncode == 0
    assert bundle("resume", "d1").returncode == 0  # a no-op (LC-RESUME-03); runc: "container not paused"
    table = bundle("ps", "d1").stdout.splitlines()
    assert "PID" in table[0] and len(table) == 3, table
    run = bundle("delete", "d1")
    assert run.returncode == 1 and "cannot delete container d1 that is not stopped: running" in run.stderr
    assert bundle("delete", "--force", "d1").returncode == 0


def test_refusals_leave_nothing(bundle):
    run = bundle("create", "--no-pivot", "n1")
    assert run.returncode == 1 and "--no-pivot is not supported" in run.stderr
    spec = dict(bundle.spec, hooks={"prestart": [{"path": "/bin/true"}]})
    (bundle.path / "config.json").write_text(json.dumps(spec))
    run = bundle("create", "n1")
    assert run.returncode == 1 and "hooks: OCI hooks are not run by the reference" in run.stderr
    assert bundle("list", "-q").stdout == ""


@pytest.mark.skipif(RUNC is None, reason="runc is not installed")
@pytest.mark.parametrize("args", [("state", "nope"), ("kill", "nope"), ("delete", "nope"), ("kill", "x", "FOO")])
def test_errors_as_runc_words_them(bundle, args):
    """The same call to runc 1.1 and lcrun: the same exit status and message."""
    theirs, ours = bundle(*args, runtime=RUNC), bundle(*args)
    assert ours.returncode == theirs.returncode == 1
    msg = theirs.stderr.split("msg=", 1)[1].strip()
    assert f"msg={msg}" in ours.stderr, (theirs.stderr, ours.stderr)


REAPER = """
import os, subprocess, sys
from libcontainer.plumbing import linux
linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
lcrun, root, pid_file = sys.argv[1:4]
subprocess.run([lcrun, "--root", root, "exec", "--detach", "--pid-file", pid_file, "e1", "sh", "-c", "exit 5"],
               check=True, stdin=subprocess.DEVNULL)
pid = int(open(pid_file).read())
print(linux.exit_status(os.waitpid(pid, 0)[1]))
"""


def test_detached_exec_is_reaped_by_the_callers_subreaper(bundle):
    """runc's model (what conmon and the adapter rely on): ``exec --detach`` leaves its process to
    the caller's child subreaper, which reaps the pid of ``--pid-file`` and so learns its status."""
    assert bundle("run", "--detach", "e1").returncode == 0
    pid_file = bundle.path / "e1.pid"
    run = subprocess.run([sys.executable, "-c", REAPER, LCRUN, str(bundle.path / "state"), str(pid_file)],
                         capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout) == (0, "5\n"), run.stderr


def test_default_cgroup_parent_is_gone_after_overlapping_containers(bundle):
    """Without linux.cgroupsPath, two containers living at once and deleted in turn leave no cgroup
    behind: a parent shared by every lcrun container (libcontainer/lcrun) was made by the first
    create only, so LC-HOST-04 kept it after the last delete."""
    del bundle.spec["linux"]["cgroupsPath"]
    (bundle.path / "config.json").write_text(json.dumps(bundle.spec))
    ids = [f"dp{os.getpid()}a", f"dp{os.getpid()}b"]
    for cid in ids:
        run = bundle("run", "--detach", cid)
        assert run.returncode == 0, run.stderr
    for cid in ids:
        assert bundle("delete", "--force", cid).returncode == 0
    left = [p for p in glob.glob("/sys/fs/cgroup/*/libcontainer/lcrun*")
            if any(cid in p for cid in ids) or p.endswith("/lcrun")]
    assert left == []
