"""Process settings applied in the container: capabilities, no_new_privs, seccomp from the config,
rlimits, umask, user and groups, env and cwd, for init and for start_process; and the CVE classes."""

from __future__ import annotations

import dataclasses
import os
import socket
import threading

import pytest

from libcontainer.reference.capabilities import mask
from libcontainer.spec import Capabilities, ConfigInvalid, Process, Seccomp, SyscallRule
from libcontainer.spec.tests.helpers import exec_probe, read_all, run_init


def _init(factory, config, script, cid="sec", **process):
    config = dataclasses.replace(config, process=dataclasses.replace(config.process, **process))
    c, out, status = run_init(factory, cid, config, script)
    c.destroy()
    return out, status


def _status_fields(text: str) -> dict[str, str]:
    return dict(line.split(":\t", 1) for line in text.strip().splitlines() if ":\t" in line)


def test_capability_sets_from_config(factory, config):
    caps = Capabilities(bounding=["CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW"], effective=["CAP_KILL"],
                        permitted=["CAP_KILL", "CAP_CHOWN"], inheritable=["CAP_KILL"], ambient=["CAP_KILL"])
    out, _ = _init(factory, config, "grep ^Cap /proc/self/status", capabilities=caps)
    got = {k: int(v, 16) for k, v in _status_fields(out).items()}
    assert got["CapBnd"] == mask(caps.bounding, 40)
    # exec(2) as root recomputes effective/permitted from bounding: runc's behaviour too
    assert got["CapInh"] == mask(["CAP_KILL"], 40)
    assert got["CapAmb"] == mask(["CAP_KILL"], 40)


def test_ambient_capability_survives_exec_as_non_root(factory, config):
    caps = Capabilities(bounding=["CAP_NET_BIND_SERVICE"], effective=["CAP_NET_BIND_SERVICE"],
                        permitted=["CAP_NET_BIND_SERVICE"], inheritable=["CAP_NET_BIND_SERVICE"],
                        ambient=["CAP_NET_BIND_SERVICE"])
    out, _ = _init(factory, config, "id -u; grep -E '^Cap(Eff|Amb)' /proc/self/status", uid=1000, gid=1000,
                   capabilities=caps)
    lines = out.split("\n")
    assert lines[0] == "1000"
    got = {k: int(v, 16) for k, v in _status_fields(out).items()}
    assert got["CapEff"] == got["CapAmb"] == mask(["CAP_NET_BIND_SERVICE"], 40)


def test_non_root_user_has_no_capabilities_by_default(factory, config):
    out, _ = _init(factory, config, "grep -E '^Cap(Eff|Prm)' /proc/self/status", uid=65534, gid=65534)
    assert {k: int(v, 16) for k, v in _status_fields(out).items()} == {"CapEff": 0, "CapPrm": 0}


def test_privileged_process_keeps_every_capability_the_runtime_has(factory, config):
    out, _ = _init(factory, config, "grep ^CapEff /proc/self/status", capabilities=None)
    assert int(_status_fields(out)["CapEff"], 16) == int(open("/proc/self/status").read()
                                                        .split("CapEff:\t")[1].split()[0], 16)


def test_unknown_capability_is_config_invalid(factory, config):
    proc = dataclasses.replace(config.process, capabilities=Capabilities(bounding=["CAP_FLY"]))
    with pytest.raises(ConfigInvalid, match="capabilities.bounding"):
        factory.create("bad", dataclasses.replace(config, process=proc))


@pytest.mark.parametrize("nnp", [False, True])
def test_no_new_privileges(factory, config, nnp):
    out, _ = _init(factory, config, "grep ^NoNewPrivs /proc/self/status", no_new_privileges=nnp)
    assert _status_fields(out)["NoNewPrivs"] == ("1" if nnp else "0")


def test_seccomp_rule_from_config_fails_chosen_syscall_with_eperm(factory, config):
    profile = Seccomp(syscalls=[SyscallRule(names=["mkdir", "mkdirat"], action="SCMP_ACT_ERRNO", errno_ret=1)])
    out, _ = _init(factory, dataclasses.replace(config, seccomp=profile),
                   "mkdir /tmp/x 2>&1; probe keyctl")
    assert "Operation not permitted" in out
    assert out.strip().splitlines()[-1] != "EPERM"  # keyctl is not in this profile: it reaches the kernel


def test_seccomp_errno_from_config(factory, config):
    profile = Seccomp(syscalls=[SyscallRule(names=["keyctl"], errno_ret=38)])
    out, _ = _init(factory, dataclasses.replace(config, seccomp=profile), "probe keyctl")
    assert out.strip() == "ENOSYS"


def test_seccomp_applies_to_started_processes(container):
    _pid, out, _ = exec_probe(container, "probe keyctl; grep ^Seccomp: /proc/self/status")
    assert out.split() == ["EPERM", "Seccomp:", "2"]


def test_seccomp_none_loads_no_filter(factory, config):
    out, _ = _init(factory, dataclasses.replace(config, seccomp=None), "grep ^Seccomp: /proc/self/status")
    assert out.split() == ["Seccomp:", "0"]


def test_rlimits_umask_user_groups_env_cwd_of_init(factory, config):
    out, _ = _init(factory, config, "ulimit -n; ulimit -Hn; umask; id -u; id -g; id -G; echo $FOO; pwd",
                   rlimits={"RLIMIT_NOFILE": (123, 456)}, umask=0o027, uid=1000, gid=1001,
                   additional_gids=[1001, 2000, 3000], env=["FOO=bar", "PATH=/bin:/usr/bin"], cwd="/tmp")
    assert out.split() == ["123", "456", "0027", "1000", "1001", "1001", "2000", "3000", "bar", "/tmp"]


def test_start_process_applies_user_groups_env_cwd_caps_rlimits(container):
    r, w = os.pipe()
    try:
        pid = container.start_process(Process(
            args=["sh", "-c", "ulimit -n; umask; id -u; id -G; echo $FOO; pwd; grep ^CapEff /proc/self/status"],
            env=["FOO=exec", "PATH=/bin"], cwd="/tmp", uid=7, gid=8, additional_gids=[9], umask=0o077,
            rlimits={"RLIMIT_NOFILE": (77, 77)}, stdout=w,
            capabilities=Capabilities(bounding=["CAP_KILL"], effective=["CAP_KILL"], permitted=["CAP_KILL"],
                                      inheritable=["CAP_KILL"], ambient=["CAP_KILL"])))
    finally:
        os.close(w)
    out = read_all(r)
    os.close(r)
    assert container.wait_process(pid) == 0
    lines = out.split("\n")
    assert lines[:6] == ["77", "0077", "7", "8 9", "exec", "/tmp"]
    assert int(lines[6].split()[1], 16) == mask(["CAP_KILL"], 40)


def test_cwd_through_proc_self_fd_cannot_reach_the_host(container):
    """CVE-2024-21626 class: a cwd naming an fd (/proc/self/fd/N) finds no host directory."""
    for n in range(3, 12):
        with pytest.raises(ConfigInvalid, match="process.cwd"):
            container.start_process(Process(args=["true"], cwd=f"/proc/self/fd/{n}"))


def test_cwd_is_inside_rootfs(container, rootfs):
    marker = os.path.join(rootfs, "tmp")
    _pid, out, status = exec_probe(container, "pwd; ls -d /tmp; readlink /proc/self/cwd")
    assert status == 0
    assert out.split()[0] == "/"
    assert os.path.isdir(marker)


def test_joining_process_cannot_reach_host_python_exe(container):
    """CVE-2019-5736 class: while processes join the container (forked from the monitor, a host
    Python, until they exec), a container process racing over /proc/<pid>/exe never opens or
    reads the link of one that is still the host's binary."""
    r, w = os.pipe()
    try:
        racer = container.start_process(Process(args=["probe", "exe-race", "3"], stdout=w))
    finally:
        os.close(w)
    started = 0
    stop = threading.Event()

    def joiner():
        nonlocal started
        while not stop.is_set():
            pid = container.start_process(Process(args=["true"]))
            container.wait_process(pid)
            started += 1
    t = threading.Thread(target=joiner)
    t.start()
    try:
        out = read_all(r)
    finally:
        stop.set()
        t.join()
        os.close(r)
    assert container.wait_process(racer) == 0
    assert started >= 3  # joins happened while the racer ran (how many depends on the load)
    last = out.strip().splitlines()[-1].split()
    assert last[0] == "opened" and last[-2] == "hostexe"
    assert int(last[1]) > 0  # the racer did reach the joining processes (after their exec)
    assert int(last[-1]) == 0, out


def test_started_process_is_not_dumpable_before_exec_but_is_after(container):
    """The exe race above depends on PR_SET_DUMPABLE 0 before exec; after exec the process is
    dumpable again (its /proc files are its own user's), so tools in the container work."""
    _pid, out, status = exec_probe(container, "readlink /proc/self/exe")
    assert status == 0 and out.strip() == "/bin/busybox"


def test_terminal_gives_a_pty_through_the_console_socket(container, tmp_path):
    path = str(tmp_path / "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    got = {}

    def accept():
        conn, _ = srv.accept()
        with conn:
            _msg, fds, _f, _a = socket.recv_fds(conn, 1024, 1)
            got["master"] = fds[0]
    t = threading.Thread(target=accept)
    t.start()
    pid = container.start_process(Process(args=["sh", "-c", "tty; test -t 0 && echo isatty"], terminal=True,
                                          console_socket=path))
    t.join(10)
    srv.close()
    master = got["master"]
    out = b""
    try:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO once the slave side is closed
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
    assert container.wait_process(pid) == 0
    text = out.decode().replace("\r", "").split()
    assert text[0].startswith("/dev/pts/") and text[1] == "isatty"


def test_terminal_without_console_socket_is_config_invalid(container):
    with pytest.raises(ConfigInvalid, match="console_socket"):
        container.start_process(Process(args=["true"], terminal=True))


def test_init_with_a_terminal(factory, config, tmp_path):
    path = str(tmp_path / "init-console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    got = {}

    def accept():
        conn, _ = srv.accept()
        with conn:
            got["master"] = socket.recv_fds(conn, 1024, 1)[1][0]
    t = threading.Thread(target=accept)
    t.start()
    proc = dataclasses.replace(config.process, args=["sh", "-c", "tty; ps -o pid,tty | tail -n +2"],
                               terminal=True, console_socket=path)
    c = factory.create("tty", dataclasses.replace(config, process=proc))
    t.join(10)
    srv.close()
    out = b""
    try:
        while True:
            try:
                chunk = os.read(got["master"], 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(got["master"])
    assert c.wait() == 0
    c.destroy()
    lines = out.decode().replace("\r", "").split("\n")
    assert lines[0].startswith("/dev/pts/")


def test_unknown_rlimit_is_config_invalid(container):
    with pytest.raises(ConfigInvalid, match="rlimits"):
        container.start_process(Process(args=["true"], rlimits={"RLIMIT_BOGUS": (1, 1)}))
