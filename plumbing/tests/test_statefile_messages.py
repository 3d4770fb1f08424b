"""Unit tests of ``state.json`` (libcontainer.plumbing.statefile) and the monitor's messages
(libcontainer.plumbing.messages, .server); no root, no container."""

import dataclasses
import errno
import json
import os
import selectors
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libcontainer.plumbing import messages, statedir, statefile
from libcontainer.plumbing.server import MonitorServer
from libcontainer.spec import Config, ContainerNotRunning, Process, ProcessNotFound, SystemFailure

CGROUP_V2 = {"version": 2, "parent": "libcontainer", "name": "c1", "procs_files": ["/sys/fs/cgroup/x/cgroup.procs"],
             "root": "/sys/fs/cgroup", "made": []}


def _state(**changes) -> statefile.ContainerState:
    config = Config(rootfs="/", process=Process(args=["true"])).to_dict()
    state = statefile.ContainerState(id="c1", config=config, incarnation="ab" * 16,
                                     created=1700000000.5, init_pid=100, init_start=5, monitor_pid=99,
                                     monitor_start=4, cgroup=CGROUP_V2)
    return dataclasses.replace(state, **changes)


positive = st.integers(min_value=1, max_value=2**31)
states = st.builds(
    statefile.ContainerState,
    id=st.from_regex(r"[A-Za-z0-9_]{1,64}", fullmatch=True),
    config=st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=8), st.integers(), st.booleans()),
                           max_size=4),
    incarnation=st.text(min_size=1, max_size=32),
    created=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    init_pid=st.none() | positive, init_start=st.none() | positive,
    monitor_pid=st.none() | positive, monitor_start=st.none() | positive,
    cgroup=st.none() | st.just(CGROUP_V2), runtime=st.none() | st.sampled_from(["runc", "crun"]),
    creating=st.booleans())


@settings(max_examples=200, deadline=None)
@given(states)
def test_state_json_round_trip(state):
    assert statefile.ContainerState.from_json(state.to_json(), state.id) == state


def test_save_and_load_through_a_file(tmp_path):
    path = str(tmp_path / "state.json")
    statefile.save(path, _state())
    assert statefile.load(path, "c1", statefile.STARTED + ("cgroup",)) == _state()
    assert os.listdir(tmp_path) == ["state.json"]  # written by rename: no temporary file left
    assert json.loads((tmp_path / "state.json").read_text())["version"] == statefile.FORMAT_VERSION


def test_corrupt_state_is_state_corrupt_a_system_failure(tmp_path):
    good = json.loads(_state().to_json())
    cases = {
        "truncated": _state().to_json()[:40],
        "[]": "[]",
        "no monitor_pid": json.dumps(dict(good, monitor_pid=None)),
        "init_pid as text": json.dumps(dict(good, init_pid="100")),
        "init_pid a bool": json.dumps(dict(good, init_pid=True)),
        "negative pid": json.dumps(dict(good, monitor_pid=-1)),
        "another id": json.dumps(dict(good, id="c2")),
        "cgroup escape": json.dumps(dict(good, cgroup=dict(CGROUP_V2, parent="../../x"))),
        "no config": json.dumps({k: v for k, v in good.items() if k != "config"}),
    }
    expected_field = {"no monitor_pid": "monitor_pid", "init_pid as text": "init_pid", "init_pid a bool": "init_pid",
                      "negative pid": "monitor_pid", "another id": "'id'", "cgroup escape": "cgroup",
                      "no config": "config"}
    for name, text in cases.items():
        path = tmp_path / "state.json"
        path.write_text(text)
        with pytest.raises(statefile.StateCorrupt) as info:
            statefile.load(str(path), "c1", statefile.STARTED + ("cgroup",))
        assert isinstance(info.value, SystemFailure), name
        assert str(path) in str(info.value), name
        assert expected_field.get(name, "") in str(info.value), (name, str(info.value))


def test_an_older_format_version_is_refused_naming_the_version():
    old = json.loads(_state().to_json())
    del old["version"]  # what the library wrote before the field existed
    with pytest.raises(statefile.StateCorrupt, match=r"'version' is None.*version 1"):
        statefile.ContainerState.from_json(json.dumps(old))
    with pytest.raises(statefile.StateCorrupt, match="'version' is 0"):
        statefile.ContainerState.from_json(json.dumps(dict(old, version=0)))


def test_a_creating_state_needs_no_started_fields_and_unknown_fields_are_dropped():
    creating = _state(init_pid=None, init_start=None, monitor_pid=None, monitor_start=None, creating=True)
    data = dict(json.loads(creating.to_json()), added_by_a_later_version=1)
    assert statefile.ContainerState.from_json(json.dumps(data), "c1", statefile.STARTED) == creating
    with pytest.raises(statefile.StateCorrupt, match="init_pid"):
        statefile.ContainerState.from_json(dataclasses.replace(creating, creating=False).to_json(), "c1",
                                           statefile.STARTED)


def test_incarnation_is_read_leniently(tmp_path):
    path = str(tmp_path / "state.json")
    with pytest.raises(FileNotFoundError):
        statefile.incarnation(path)
    for junk in ("[]", "{", '{"incarnation": 3}'):
        (tmp_path / "state.json").write_text(junk)
        assert statefile.incarnation(path) is None
    statefile.save(path, _state())
    assert statefile.incarnation(path) == "ab" * 16


# -- messages ------------------------------------------------------------------------------------

MESSAGES = [messages.ExecRequest({"args": ["true"]}, "inc"), messages.RunRequest(["runc", "exec"], "/p"),
            messages.WaitRequest(7), messages.PidReply(7), messages.StatusReply(137),
            messages.ErrorReply("ProcessNotFound", "pid 7"), messages.ErrorReply(messages.COMMAND_FAILED, "x", rc=2)]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_messages_encode_and_decode(message):
    line = messages.encode(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    if hasattr(message, "op"):
        assert messages.decode_request(line) == message
    else:
        assert messages.decode_reply(json.loads(line)) == message


def test_a_request_that_is_none_is_a_value_error():
    for line in (b'{"op": "fork-bomb"}\n', b"[1]\n", b'{"op": "wait", "pid": "7"}\n', b'{"op": "wait"}\n'):
        with pytest.raises(ValueError):
            messages.decode_request(line)
    assert messages.decode_reply({}) is None


def test_error_replies_raise_the_error_they_name():
    assert isinstance(messages.ErrorReply("ContainerNotRunning").exception(), ContainerNotRunning)
    assert isinstance(messages.ErrorReply("ProcessNotFound").exception(), ProcessNotFound)
    failure = messages.ErrorReply("SystemError", "boom", errno=errno.EIO).exception()
    assert isinstance(failure, SystemFailure) and failure.errno == errno.EIO
    assert type(messages.ErrorReply(messages.COMMAND_FAILED, rc=1).exception()) is SystemFailure


def test_a_request_carries_its_fds_by_scm_rights():
    client, server = socket.socketpair()
    r, w = os.pipe()
    with client, server:
        messages.send_msg(client, messages.ExecRequest({"args": ["x" * 100000]}), [r, w, w])
        line, fds = messages.read_request(server)
        try:
            assert messages.decode_request(line).process["args"][0] == "x" * 100000
            assert len(fds) == 3
            os.write(fds[1], b"through the passed fd")
            assert os.read(r, 100) == b"through the passed fd"
        finally:
            for fd in fds + [r, w]:
                os.close(fd)


class _Server(MonitorServer):
    def __init__(self):
        self.children, self.waiters, self.statuses, self.init_pid = {41}, {}, {40: 3}, 41
        self.sel = selectors.DefaultSelector()


def _ask(server: MonitorServer, request):
    client, conn = socket.socketpair()
    with client:
        messages.send_msg(client, request)
        server.handle(conn)
        client.settimeout(0)
        try:
            return messages.recv_reply(client)
        except BlockingIOError:
            return "held"


def test_the_request_loop_answers_waits_and_refuses_unknown_requests(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkdir(statedir.EXITS)
    server = _Server()
    assert _ask(server, messages.WaitRequest(40)) == messages.StatusReply(3)
    assert _ask(server, messages.WaitRequest(41)) == "held" and list(server.waiters) == [41]
    assert _ask(server, messages.WaitRequest(42)).error == "ProcessNotFound"
    reply = _ask(server, messages.ExecRequest({"args": ["true"]}))
    assert reply.error == "SystemError" and "unknown op 'exec'" in reply.message
    statedir.write_exit(".", 42, 1)
    assert _ask(server, messages.WaitRequest(42)) == messages.StatusReply(1)  # from exits/<pid>


def test_write_atomic_unlink_first_replaces_the_file_and_leaves_no_temporary(tmp_path):
    """statedir.write_atomic(unlink_first=True), as create writes the committed state.json over the
    creating one: the new content in place, no temporary file left, also when there was no file."""
    from libcontainer.plumbing import statedir
    path = tmp_path / "state.json"
    statedir.write_atomic(str(path), "old")
    old_inode = path.stat().st_ino
    statedir.write_atomic(str(path), "new", unlink_first=True)
    assert path.read_text() == "new"
    assert path.stat().st_ino != old_inode  # a new file, renamed into place
    statedir.write_atomic(str(tmp_path / "absent.json"), "x", unlink_first=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["absent.json", "state.json"]


def test_write_atomic_writes_all_of_a_long_or_non_ascii_text_with_the_umask_mode(tmp_path):
    """statedir.write_atomic writes through os.open/os.write (no text file object): every byte of a
    1 MiB text and of non-ASCII text (UTF-8), the file's mode 0666 less the umask, as open(path, "w")
    made it; a shorter text over a longer file leaves none of the old bytes."""
    from libcontainer.plumbing import statedir
    path = tmp_path / "f.json"
    long_text = "x" * (1 << 20) + "end"
    statedir.write_atomic(str(path), long_text)
    assert path.read_text() == long_text
    statedir.write_atomic(str(path), "é→✓")
    assert path.read_bytes() == "é→✓".encode()
    old = os.umask(0o027)
    try:
        statedir.write_atomic(str(tmp_path / "g"), "y")
    finally:
        os.umask(old)
    assert (tmp_path / "g").stat().st_mode & 0o777 == 0o640
