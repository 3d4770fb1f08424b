"""Config semantics, namespaces: what the kernel shows inside a container made with each namespace field
(SPEC.md, "Config semantics: the container", LC-CFG-NS-*). Every probe runs in the container's init and
prints what it sees; the host side is read by the test itself."""

from __future__ import annotations

import ctypes
import dataclasses
import os

import pytest

from libcontainer.spec import ConfigInvalid, ContainerDestroyed, IDMap

from .helpers import run_init

# kernel namespaces a config may leave out (mnt is required: pivot_root needs it)
OPTIONAL = ("pid", "uts", "ipc", "net", "user", "cgroup")
USER_MAPS = {"uid_mappings": [IDMap(0, 100000, 65536)], "gid_mappings": [IDMap(0, 200000, 65536)]}


@pytest.fixture(scope="module")
def userns_rootfs(rootfs):
    """A busybox rootfs whose every parent directory the mapped root (an unprivileged host uid) can search:
    pytest's own temporary directories are private to root (0700)."""
    import shutil
    import tempfile

    from libcontainer.conformance.rootfs import build_busybox_rootfs
    top = tempfile.mkdtemp(prefix="lc-userns-rootfs-", dir="/tmp")
    os.chmod(top, 0o755)
    try:
        yield build_busybox_rootfs(os.path.join(top, "rootfs"))
    finally:
        shutil.rmtree(top, ignore_errors=True)


def with_namespaces(config, names, **extra):
    """``config`` with exactly ``names`` (plus mnt) as namespaces; user gets mappings, no uts drops the hostname."""
    names = ["mnt"] + [n for n in names if n != "mnt"]
    fields = dict(namespaces=names, **extra)
    if "user" in names:
        fields = {**USER_MAPS, **fields}
    if "uts" not in names:
        fields["hostname"] = None
    return dataclasses.replace(config, **fields)


def host_ns(name: str) -> str:
    return os.readlink(f"/proc/self/ns/{name}")


@pytest.mark.clause("LC-CFG-NS-01")
@pytest.mark.parametrize("state", ["on", "off"])
@pytest.mark.parametrize("name", OPTIONAL)
def test_each_namespace_is_new_when_listed_and_the_hosts_when_not(factory, config, name, state, request):
    names = [n for n in ("pid", "uts", "ipc", "net") if n != name] + ([name] if state == "on" else [])
    cfg = with_namespaces(config, names)
    if "user" in names:
        cfg = dataclasses.replace(cfg, rootfs=request.getfixturevalue("userns_rootfs"))
    c, out, status = run_init(factory, f"ns-{name}-{state}", cfg, f"readlink /proc/self/ns/{name}")
    try:
        assert status == 0, out
        inside = out.strip()
        assert inside.startswith(f"{name}:["), f"not a namespace link: {out!r}"
        if state == "on":
            assert inside != host_ns(name), f"{name} is listed in namespaces but the container shares the host's"
        else:
            assert inside == host_ns(name), f"{name} is not listed, yet the container has a new one ({inside})"
    finally:
        c.destroy()


@pytest.mark.clause("LC-CFG-NS-01")
def test_mnt_namespace_is_always_new(factory, config):
    c, out, status = run_init(factory, "ns-mnt", config, "readlink /proc/self/ns/mnt")
    try:
        assert status == 0, out
        assert out.strip().startswith("mnt:[") and out.strip() != host_ns("mnt")
    finally:
        c.destroy()


@pytest.mark.clause("LC-CFG-NS-02")
def test_new_net_namespace_has_only_loopback_and_it_is_up(factory, config):
    assert "net" in config.namespaces
    c, out, status = run_init(factory, "ns-net", config,
                              "tail -n +3 /proc/net/dev | cut -d: -f1; echo flags $(cat /sys/class/net/lo/flags)")
    try:
        assert status == 0, out
        lines = out.split("\n")
        names = {line.strip() for line in lines if line.strip() and not line.startswith("flags")}
        assert names == {"lo"}, f"a new net namespace has only lo, saw {names}"
        flags = int(lines[-2].split()[1], 16)
        assert flags & 0x1, "lo must be up (IFF_UP)"
    finally:
        c.destroy()


class _Shm:
    """A SysV shared memory segment of the creator (shmget(2) IPC_PRIVATE), removed on exit (IPC_RMID)."""

    def __enter__(self) -> int:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.id = self.libc.shmget(0, 4096, 0o1000 | 0o600)  # IPC_PRIVATE, IPC_CREAT
        if self.id < 0:
            pytest.skip(f"shmget failed: {os.strerror(ctypes.get_errno())}")
        return self.id

    def __exit__(self, *exc):
        self.libc.shmctl(self.id, 0, None)  # IPC_RMID


def _shm_ids(text: str) -> set[int]:
    return {int(line.split()[1]) for line in text.splitlines()[1:] if len(line.split()) > 1}


@pytest.mark.clause("LC-CFG-NS-03")
@pytest.mark.parametrize("state", ["on", "off"])
def test_ipc_namespace_hides_the_hosts_sysv_objects(factory, config, state):
    names = ["pid", "uts", "net"] + (["ipc"] if state == "on" else [])
    with _Shm() as shmid:
        with open("/proc/sysvipc/shm") as f:
            assert shmid in _shm_ids(f.read())
        c, out, status = run_init(factory, f"ipc-{state}", with_namespaces(config, names), "cat /proc/sysvipc/shm")
        try:
            assert status == 0, out
            seen = shmid in _shm_ids(out)
            assert seen == (state == "off"), (f"the host's segment {shmid} must be "
                                              f"{'hidden' if state == 'on' else 'visible'}: {out!r}")
        finally:
            c.destroy()


@pytest.mark.clause("LC-CFG-NS-04")
def test_user_namespace_maps_are_the_configs(factory, config, userns_rootfs):
    cfg = with_namespaces(config, ["pid", "uts", "ipc", "net", "user"], rootfs=userns_rootfs,
                          uid_mappings=[IDMap(0, 100000, 1000), IDMap(1000, 301000, 10)],
                          gid_mappings=[IDMap(0, 200000, 65536)])
    c, out, status = run_init(factory, "userns", cfg, "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map")
    try:
        assert status == 0, out
        uid, gid = out.split("--")
        assert [tuple(map(int, line.split())) for line in uid.strip().splitlines()] == [(0, 100000, 1000),
                                                                                       (1000, 301000, 10)]
        assert [tuple(map(int, line.split())) for line in gid.strip().splitlines()] == [(0, 200000, 65536)]
    finally:
        c.destroy()


@pytest.mark.clause("LC-CFG-NS-05")
@pytest.mark.parametrize("state", ["on", "off"])
def test_cgroup_namespace_roots_proc_self_cgroup(factory, config, state):
    names = ["pid", "uts", "ipc", "net"] + (["cgroup"] if state == "on" else [])
    c, out, status = run_init(factory, f"cgns-{state}", with_namespaces(config, names), "cat /proc/self/cgroup")
    try:
        assert status == 0, out
        paths = [line.split(":", 2)[2] for line in out.strip().splitlines()]
        assert paths, out
        if state == "on":
            assert all(p == "/" for p in paths), f"every hierarchy is rooted at the container's cgroup: {out!r}"
        else:
            assert any(f"/{config.cgroup_parent}/" in p for p in paths), \
                f"the container's cgroup is under cgroup_parent {config.cgroup_parent!r}: {out!r}"
    finally:
        c.destroy()


@pytest.mark.clause("LC-CFG-NS-06")
@pytest.mark.parametrize("name", ["net", "ipc", "uts"])
def test_namespace_path_is_joined(factory, config, name):
    owner = factory.create("ns-owner", config)
    try:
        path = f"/proc/{owner.processes()[0]}/ns/{name}"
        want = os.readlink(path)
        cfg = dataclasses.replace(config, namespace_paths={name: path})
        if name == "uts":
            cfg = dataclasses.replace(cfg, hostname=None)
        c, out, status = run_init(factory, f"ns-join-{name}", cfg, f"readlink /proc/self/ns/{name}")
        try:
            assert status == 0, out
            assert out.strip() == want, f"namespace_paths[{name!r}] names {want}, the container is in {out.strip()}"
        finally:
            c.destroy()
    finally:
        owner.destroy()


@pytest.mark.clause("LC-CFG-NS-07")
@pytest.mark.parametrize("name,wrong", [("net", "uts"), ("ipc", "net"), ("uts", "file")])
def test_namespace_path_of_another_type_is_config_invalid(factory, config, name, wrong, tmp_path):
    if wrong == "file":
        path = str(tmp_path / "not-a-namespace")
        open(path, "w").close()
    else:
        path = f"/proc/self/ns/{wrong}"
    cfg = dataclasses.replace(config, namespace_paths={name: path}, hostname=None)
    with pytest.raises(ConfigInvalid, match=f"namespace_paths.{name}"):
        factory.create("ns-wrong", cfg)
    with pytest.raises(ContainerDestroyed):
        factory.load("ns-wrong")
