"""Namespaces: each optional, user namespaces with uid/gid maps, cgroup namespace, joining by path."""

from __future__ import annotations

import dataclasses
import os

import psutil
import pytest

from libcontainer.spec import ConfigInvalid, IDMap, Process
from libcontainer.spec.tests.helpers import exec_probe, run_init

HOST_ROOT = 100000


def _userns(config, **kw):
    return dataclasses.replace(config, namespaces=config.namespaces + ["user"],
                               uid_mappings=[IDMap(0, HOST_ROOT, 65536)],
                               gid_mappings=[IDMap(0, HOST_ROOT, 65536)], **kw)


def _init(factory, config, script, cid="ns"):
    c, out, status = run_init(factory, cid, config, script)
    c.destroy()
    return out, status


def _userns_works() -> bool:
    try:
        with open("/proc/sys/user/max_user_namespaces") as f:
            return int(f.read()) > 0
    except OSError:
        return False


needs_userns = pytest.mark.skipif(not _userns_works(), reason="user namespaces disabled on this host")


@needs_userns
def test_user_namespace_root_is_an_unprivileged_host_uid(factory, config):
    c = factory.create("u", _userns(config))
    try:
        init = psutil.Process(c.init_pid)
        assert init.uids().real == HOST_ROOT and init.gids().real == HOST_ROOT  # from outside
        assert os.readlink(f"/proc/{c.init_pid}/ns/user") != os.readlink("/proc/self/ns/user")
        with open(f"/proc/{c.init_pid}/uid_map") as f:
            assert f.read().split() == ["0", str(HOST_ROOT), "65536"]
        _pid, out, status = exec_probe(c, "id -u; id -g; cat /proc/self/uid_map; hostname; ls /proc | grep -c '^[0-9]'")
        assert status == 0
        lines = out.split("\n")
        assert lines[0:2] == ["0", "0"]  # root inside
        assert lines[2].split() == ["0", str(HOST_ROOT), "65536"]
        assert lines[3] == "spec"
    finally:
        c.destroy()


@needs_userns
def test_user_namespace_root_cannot_write_host_owned_files(factory, config):
    out, status = _init(factory, _userns(config),
                        "touch /etc/probe 2>/dev/null && echo wrote || echo refused; touch /tmp/x && echo tmp-ok;"
                        " cat /dev/null && echo devnull-ok; probe fds; rm -f /tmp/x")
    assert status == 0
    lines = out.split("\n")
    assert lines[0] == "refused" and lines[1] == "tmp-ok" and lines[2] == "devnull-ok"
    assert sorted(line.split(" -> ")[0] for line in lines[3:] if " -> " in line) == ["0", "1", "2"]


@needs_userns
def test_user_namespace_exit_status_and_processes(factory, config):
    c, out, status = run_init(factory, "ue", _userns(config), "echo $$; exit 7")
    try:
        assert out.strip() == "1" and status == 7
    finally:
        c.destroy()


def test_user_namespace_without_maps_is_config_invalid(factory, config):
    with pytest.raises(ConfigInvalid, match="uid_mappings"):
        factory.create("x", dataclasses.replace(config, namespaces=config.namespaces + ["user"]))


def test_cgroup_namespace_hides_the_host_cgroup_path(factory, config):
    out, status = _init(factory, dataclasses.replace(config, namespaces=config.namespaces + ["cgroup"]),
                        "cat /proc/self/cgroup")
    assert status == 0
    paths = {line.split(":", 2)[2] for line in out.strip().splitlines()}
    assert paths == {"/"}, out


def test_without_cgroup_namespace_the_host_path_shows(factory, config, cgroup_parent):
    out, _ = _init(factory, config, "cat /proc/self/cgroup")
    assert cgroup_parent in out


@pytest.mark.parametrize("ns", ["uts", "ipc", "net", "pid"])
def test_each_namespace_is_optional(factory, config, ns):
    namespaces = [n for n in config.namespaces if n != ns]
    cfg = dataclasses.replace(config, namespaces=namespaces, hostname=None if ns == "uts" else config.hostname)
    c = factory.create("opt", cfg)
    try:
        assert os.readlink(f"/proc/{c.init_pid}/ns/{ns}") == os.readlink(f"/proc/self/ns/{ns}")
        for other in namespaces:
            if other != "mnt":
                assert os.readlink(f"/proc/{c.init_pid}/ns/{other}") != os.readlink(f"/proc/self/ns/{other}")
    finally:
        c.destroy()


def test_join_existing_namespaces_by_path(factory, config):
    first = factory.create("first", config)
    try:
        paths = {ns: f"/proc/{first.init_pid}/ns/{ns}" for ns in ("net", "uts", "ipc", "pid")}
        second = factory.create("second", dataclasses.replace(config, namespace_paths=paths, hostname=None))
        try:
            for ns in paths:
                assert os.readlink(f"/proc/{second.init_pid}/ns/{ns}") == os.readlink(paths[ns]), ns
            assert os.readlink(f"/proc/{second.init_pid}/ns/mnt") != os.readlink(f"/proc/{first.init_pid}/ns/mnt")
            _pid, out, _ = exec_probe(second, "hostname; ls /proc | grep -c '^[0-9]'")
            assert out.split()[0] == "spec"  # the first container's hostname
            assert int(out.split()[1]) >= 3  # sees the first container's init, its own init and itself
        finally:
            second.destroy()
    finally:
        first.destroy()


def test_namespace_path_must_be_listed(factory, config):
    cfg = dataclasses.replace(config, namespaces=["mnt", "pid"], hostname=None,
                              namespace_paths={"net": "/proc/self/ns/net"})
    with pytest.raises(ConfigInvalid, match="namespace_paths.net"):
        factory.create("x", cfg)


def test_init_is_pid_1_and_started_process_joins_its_pid_namespace(container):
    pid, out, status = exec_probe(container, "echo $$; cat /proc/1/cmdline | tr '\\0' ' '")
    assert status == 0
    inner, cmdline = out.split("\n", 1)
    assert int(inner) != pid and cmdline.strip() == "sleep 86400"
    assert psutil.Process(container.init_pid).cmdline() == ["sleep", "86400"]


@needs_userns
def test_user_namespace_with_unreachable_rootfs_is_config_invalid(factory, config, tmp_path):
    hidden = tmp_path / "hidden"  # pytest's tmp_path lies under a 0700 directory
    (hidden / "rootfs").mkdir(parents=True)
    with pytest.raises(ConfigInvalid, match="rootfs"):
        factory.create("x", _userns(dataclasses.replace(config, rootfs=str(hidden / "rootfs"))))


def test_started_process_joins_the_cgroup_namespace(factory, config):
    c = factory.create("cgns", dataclasses.replace(config, namespaces=config.namespaces + ["cgroup"]))
    try:
        _pid, out, status = exec_probe(c, "cat /proc/self/cgroup")
        assert status == 0
        assert {line.split(":", 2)[2] for line in out.strip().splitlines()} == {"/"}
    finally:
        c.destroy()


@needs_userns
def test_user_namespace_devices_are_bind_mounted_host_nodes(factory, config):
    """mknod(2) is not allowed in a user namespace: /dev's nodes are the host's, bind-mounted."""
    from libcontainer.spec import Device
    cfg = _userns(config, devices=[Device(path="/dev/net/tun", type="c", major=10, minor=200)])
    if not os.path.exists("/dev/net/tun"):
        pytest.skip("no /dev/net/tun on this host to bind")
    c = factory.create("udev", cfg)
    try:
        with open(f"/proc/{c.init_pid}/mountinfo") as f:
            points = {line.split()[4] for line in f}
        assert {"/dev/null", "/dev/zero", "/dev/net/tun"} <= points
        _pid, out, status = exec_probe(c, "stat -c '%t %T' /dev/net/tun /dev/null; head -c 3 /dev/zero | wc -c")
        assert out.split() == ["a", "c8", "1", "3", "3"]
    finally:
        c.destroy()
