"""Config semantics, the process: what a process made from a ``Process`` shows inside the container.

Each test runs the same probe as the container's init (``Factory.create``) and
as a process started later (``start_process``): both must honour every field.
What is checked is what the kernel shows the process about itself (proc(5):
/proc/self/status, /proc/self/limits, /proc/self/stat) and what it was given
(argv, environment, stdio).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading

import pytest

from libcontainer.spec import Process

from .helpers import read_all
from .observe import limits_table, probe, run, status_fields

WHERE = pytest.mark.parametrize("where", ["init", "exec"])


@WHERE
@pytest.mark.clause("LC-CFG-PROC-01")
def test_args_reach_the_program_exactly(factory, config, where):
    # $0 and each argument kept as given: a space, an empty argument and a glob character unexpanded
    out, status = run(factory, config, where, args=["sh", "-c", 'echo "<$0>"; for a; do echo "<$a>"; done',
                                                    "zero", "a b", "", "*"])
    assert status == 0
    assert out.splitlines() == ["<zero>", "<a b>", "<>", "<*>"]


@WHERE
@pytest.mark.clause("LC-CFG-PROC-02")
def test_env_is_exactly_the_configured_environment(factory, config, where, monkeypatch):
    monkeypatch.setenv("LC_SPEC_HOST_ONLY", "must-not-leak")  # the caller's environment stays outside
    env = ["PATH=/bin:/usr/bin", "HOME=/root", "FOO=bar baz", "EMPTY=", "EQ=a=b"]
    out, status = run(factory, config, where, args=["env"], env=env)
    assert status == 0
    assert sorted(out.splitlines()) == sorted(env)


@WHERE
@pytest.mark.clause("LC-CFG-PROC-03")
def test_cwd_is_the_working_directory(factory, config, where):
    out, status = probe(factory, config, "pwd; readlink /proc/self/cwd", where, cwd="/etc")
    assert status == 0
    assert out.split() == ["/etc", "/etc"]


@WHERE
@pytest.mark.clause("LC-CFG-PROC-04")
def test_uid_and_gid_are_every_id_of_the_process(factory, config, where):
    out, status = probe(factory, config, "grep -E '^(Uid|Gid):' /proc/self/status", where, uid=1000, gid=1001)
    assert status == 0
    fields = status_fields(out)
    # real, effective, saved set and filesystem ids (proc(5))
    assert fields["Uid"].split() == ["1000"] * 4
    assert fields["Gid"].split() == ["1001"] * 4


@WHERE
@pytest.mark.clause("LC-CFG-PROC-05")
@pytest.mark.parametrize("gids", [[3000, 2000, 1001], []], ids=["three", "none"])
def test_additional_gids_are_the_supplementary_groups(factory, config, where, gids):
    out, status = probe(factory, config, "grep ^Groups: /proc/self/status", where, uid=1000, gid=1001,
                        additional_gids=gids)
    assert status == 0
    assert sorted(int(g) for g in status_fields(out)["Groups"].split()) == sorted(gids)


@WHERE
@pytest.mark.clause("LC-CFG-PROC-06")
@pytest.mark.parametrize("umask", [0o027, 0o000])
def test_umask_is_the_file_mode_creation_mask(factory, config, where, umask):
    out, status = probe(factory, config, "grep ^Umask: /proc/self/status; umask", where, umask=umask)
    assert status == 0
    assert int(status_fields(out)["Umask"], 8) == umask
    assert int(out.splitlines()[1], 8) == umask


# the row names of /proc/<pid>/limits (fs/proc/base.c lnames[])
LIMIT_ROWS = {"RLIMIT_NOFILE": "Max open files", "RLIMIT_CORE": "Max core file size", "RLIMIT_NPROC": "Max processes",
              "RLIMIT_MSGQUEUE": "Max msgqueue size"}


@WHERE
@pytest.mark.clause("LC-CFG-PROC-07")
def test_rlimits_show_in_proc_self_limits(factory, config, where):
    rlimits = {"RLIMIT_NOFILE": (123, 456), "RLIMIT_CORE": (0, 4096), "RLIMIT_NPROC": (300, 400),
               "RLIMIT_MSGQUEUE": (8192, 16384)}
    out, status = probe(factory, config, "cat /proc/self/limits", where, rlimits=rlimits)
    assert status == 0
    table = limits_table(out)
    for name, (soft, hard) in rlimits.items():
        assert table[LIMIT_ROWS[name]] == (str(soft), str(hard)), name


@WHERE
@pytest.mark.clause("LC-CFG-PROC-08")
def test_stdio_are_the_given_descriptors_or_dev_null(factory, config, where):
    # stdin, stdout and stderr given: the process reads and writes them
    in_r, in_w = os.pipe()
    err_r, err_w = os.pipe()
    os.write(in_w, b"hello\n")
    os.close(in_w)
    try:
        out, status = probe(factory, config, 'read x; echo "out:$x"; echo "err:$x" >&2', where,
                            stdin=in_r, stderr=err_w)
    finally:
        os.close(in_r)
        os.close(err_w)
    err = read_all(err_r)
    os.close(err_r)
    assert status == 0
    assert out.strip() == "out:hello" and err.strip() == "err:hello"
    # stdin and stderr None: /dev/null (reading gives EOF at once, writing goes nowhere)
    out, status = probe(factory, config, "cat; echo lost >&2; readlink /proc/self/fd/0; readlink /proc/self/fd/2", where)
    assert status == 0
    assert out.split() == ["/dev/null", "/dev/null"]


def _console(path: str) -> tuple[socket.socket, dict, threading.Thread]:
    """A console socket (runc's --console-socket protocol): the master end arrives by SCM_RIGHTS."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(30)
    got: dict = {}

    def accept():
        try:
            conn, _ = srv.accept()
        except OSError as e:
            got["error"] = e
            return
        with conn:
            got["master"] = socket.recv_fds(conn, 1024, 1)[1][0]
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    return srv, got, t


def _drain(master: int) -> str:
    out = b""
    try:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO once every slave descriptor is closed
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
    return out.decode(errors="replace").replace("\r", "")


TTY_SCRIPT = ('tty; test -t 0 && test -t 1 && test -t 2 && echo all-three; '
              'read -r stat < /proc/self/stat; set -- ${stat##*) }; echo "tty_nr=$5"; '
              '( exec 3</dev/tty ) 2>/dev/null && echo controlling')


@WHERE
@pytest.mark.clause("LC-CFG-PROC-09")
def test_terminal_is_a_pty_of_the_container_sent_to_the_console_socket(factory, config, where, tmp_path):
    path = str(tmp_path / "console.sock")
    srv, got, t = _console(path)
    try:
        fields = dict(args=["sh", "-c", TTY_SCRIPT], terminal=True, console_socket=path)
        if where == "init":
            c = factory.create("tty", dataclasses.replace(config, process=dataclasses.replace(config.process,
                                                                                              **fields)))
            pid = None
        else:
            c = factory.create("tty", config)
            pid = c.start_process(Process(**fields))
        try:
            t.join(30)
            assert "master" in got, f"no pseudo-terminal master arrived on the console socket: {got}"
            out = _drain(got["master"])
            assert (c.wait() if pid is None else c.wait_process(pid)) == 0
        finally:
            c.destroy()
    finally:
        srv.close()
    lines = out.split("\n")
    assert lines[0].startswith("/dev/pts/"), out  # a pty of the container's devpts
    assert "all-three" in lines and "controlling" in lines, out
    assert any(line.startswith("tty_nr=") and line != "tty_nr=0" for line in lines), out
