"""Config semantics, the filesystem: rootfs, readonly_rootfs, mounts, masked and read-only paths, rootfs
propagation (SPEC.md LC-CFG-FS-*). Probes run in the container's init; mount facts come from its
/proc/self/mountinfo (proc(5))."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess

import pytest

from libcontainer.spec import Config, ConfigInvalid, ContainerDestroyed, Mount

from .helpers import run_init

EROFS_TEXT = os.strerror(30)  # "Read-only file system", as sh and touch print it


def mountinfo_line(text: str, mount_point: str) -> list[str]:
    """The last /proc/self/mountinfo line of ``mount_point`` (the one on top), split into fields."""
    found = [line.split() for line in text.splitlines() if len(line.split()) > 4 and line.split()[4] == mount_point]
    assert found, f"{mount_point} is not a mount point:\n{text}"
    return found[-1]


@pytest.mark.clause("LC-CFG-FS-01")
def test_rootfs_is_the_containers_root(factory, config):
    st = os.stat(os.path.join(config.rootfs, "bin", "busybox"))
    c, out, status = run_init(factory, "rootfs", config, "stat -c '%d %i' /bin/busybox; ls /")
    try:
        assert status == 0, out
        lines = out.split("\n")
        assert int(lines[0].split()[1]) == st.st_ino, "/bin/busybox in the container is the rootfs's"
        assert set(lines[1:-1]) <= set(os.listdir(config.rootfs)) | {"proc", "sys", "dev"}, lines
    finally:
        c.destroy()


@pytest.mark.clause("LC-CFG-FS-02")
@pytest.mark.parametrize("readonly", [True, False])
def test_readonly_rootfs_makes_writes_fail_with_erofs(factory, config, readonly):
    name = f"lc-cfg-fs-02-{os.getpid()}"
    script = f"echo x > /{name} && echo wrote; rm -f /{name}; grep -E '^[^ ]+ [^ ]+ [^ ]+ [^ ]+ / ' /proc/self/mountinfo"
    c, out, status = run_init(factory, f"ro-{readonly}", dataclasses.replace(config, readonly_rootfs=readonly),
                              "exec 2>&1; " + script)
    try:
        root = mountinfo_line(out, "/")
        if readonly:
            assert "wrote" not in out and EROFS_TEXT in out, f"a write to / must fail with EROFS: {out!r}"
            assert "ro" in root[5].split(","), f"/ must be mounted ro: {root}"
        else:
            assert "wrote" in out, f"a writable rootfs takes a write: {out!r}"
            assert "rw" in root[5].split(",")
        assert not os.path.exists(os.path.join(config.rootfs, name))
    finally:
        c.destroy()


@pytest.mark.clause("LC-CFG-FS-03")
def test_bind_mounts_rw_and_ro(factory, config, tmp_path):
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    (rw / "hello").write_text("from the host\n")
    (ro / "hello").write_text("read only\n")
    cfg = dataclasses.replace(config, mounts=[Mount(destination="/data", type="bind", source=str(rw),
                                                    options=["rbind"]),
                                              Mount(destination="/opt/ro", type="bind", source=str(ro),
                                                    options=["rbind", "ro"])])
    script = ("cat /data/hello; echo made > /data/new; cat /opt/ro/hello; echo x > /opt/ro/new 2>&1 || true; "
              "cat /proc/self/mountinfo")
    c, out, status = run_init(factory, "bind", cfg, "exec 2>&1; " + script)
    try:
        assert status == 0, out
        assert "from the host" in out and "read only" in out, out
        assert (rw / "new").read_text() == "made\n", "a write in the container reaches the bound host directory"
        assert not (ro / "new").exists() and EROFS_TEXT in out, f"the ro bind refuses writes with EROFS: {out!r}"
        assert "ro" in mountinfo_line(out, "/opt/ro")[5].split(",")
        assert "rw" in mountinfo_line(out, "/data")[5].split(",")
    finally:
        c.destroy()


@pytest.mark.clause("LC-CFG-FS-03")
def test_bind_mount_flags_show_on_the_mount(factory, config, tmp_path):
    """The flags of a bind mount's options are the mount's (a bind takes them only by a remount: mount(2)
    MS_BIND | MS_REMOUNT); a runtime that keeps only `ro` of a bind's options fails here."""
    src = tmp_path / "flags"
    src.mkdir()
    cfg = dataclasses.replace(config, mounts=[Mount(destination="/flags", type="bind", source=str(src),
                                                    options=["rbind", "nosuid", "nodev", "noexec"])])
    c, out, status = run_init(factory, "bindflags", cfg, "cat /proc/self/mountinfo")
    try:
        assert status == 0, out
        assert {"nosuid", "nodev", "noexec"} <= set(mountinfo_line(out, "/flags")[5].split(",")), out
    finally:
        c.destroy()


@pytest.mark.clause("LC-CFG-FS-04")
def test_tmpfs_mount_with_its_options(factory, config):
    cfg = dataclasses.replace(config, mounts=[Mount(destination="/scratch", type="tmpfs", source="tmpfs",
                                                    options=["nosuid", "nodev", "noexec", "mode=1770",
                                                             "size=1m"])])
    c, out, status = run_init(factory, "tmpfs", cfg, "stat -c %a /scratch; cat /proc/self/mountinfo")
    try:
        assert status == 0, out
        assert out.split("\n")[0] == "1770", "mode=1770 gives the tmpfs root that mode"
        line = mountinfo_line(out, "/scratch")
        sep = line.index("-")
        assert line[sep + 1] == "tmpfs"
        assert {"nosuid", "nodev", "noexec"} <= set(line[5].split(","))
        supers = line[sep + 3].split(",")
        assert "size=1024k" in supers and "mode=1770" in supers, supers
    finally:
        c.destroy()


@pytest.mark.clause("LC-CFG-FS-05")
@pytest.mark.parametrize("masked", [True, False])
def test_masked_paths_read_empty(factory, config, masked):
    paths = ["/proc/timer_list", "/proc/sysvipc", "/proc/no-such-path"]
    cfg = dataclasses.replace(config, masked_paths=paths if masked else [])
    c, out, status = run_init(factory, f"mask-{masked}", cfg,
                              "wc -c < /proc/timer_list; ls /proc/sysvipc | wc -l")
    try:
        assert status == 0, out
        size, entries = (int(v) for v in out.split())
        if masked:
            assert (size, entries) == (0, 0), "a masked file reads empty, a masked directory lists nothing"
        else:
            assert size > 0 and entries > 0, "without masking the kernel's content shows"
    finally:
        c.destroy()


@pytest.mark.clause("LC-CFG-FS-06")
@pytest.mark.parametrize("readonly", [True, False])
def test_readonly_paths_refuse_writes(factory, config, readonly):
    cfg = dataclasses.replace(config, readonly_paths=["/proc/sys", "/proc/no-such-path"] if readonly else [])
    c, out, status = run_init(factory, f"rop-{readonly}", cfg,
                              "exec 2>&1; echo lc-test > /proc/sys/kernel/domainname; cat /proc/sys/kernel/domainname")
    try:
        assert status == 0, out
        if readonly:
            assert EROFS_TEXT in out and "lc-test" not in out, f"/proc/sys is read-only: {out!r}"
        else:
            assert out.strip().endswith("lc-test"), f"without it the uts domainname can be written: {out!r}"
        assert "lc-test" not in open("/proc/sys/kernel/domainname").read()
    finally:
        c.destroy()


@pytest.fixture
def shared_rootfs(rootfs, tmp_path):
    """A copy of the busybox rootfs on a tmpfs made shared (mount --make-shared), and a directory in it
    on which the host mounts after the container started; everything is unmounted afterwards."""
    from libcontainer.conformance.rootfs import build_busybox_rootfs
    path = tmp_path / "shared-root"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "lc-prop", str(path)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(path)], check=True)
        build_busybox_rootfs(str(path))
        (path / "probe").mkdir()
        yield str(path)
    finally:
        subprocess.run(["umount", "-R", "-l", str(path)], check=False)


def _wait_line(fd: int) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 1)
        if not chunk:
            break
        data += chunk
    return data.decode()


@pytest.mark.clause("LC-CFG-FS-07")
@pytest.mark.parametrize("prop", ["shared", "slave", "private", "unbindable"])
def test_rootfs_propagation(factory, config, shared_rootfs, prop, tmp_path):
    cfg = dataclasses.replace(config, rootfs=shared_rootfs, rootfs_propagation=prop)
    # init reports its / mount, then waits (on a fifo) until the host mounted on /probe, then lists /probe
    fifo = os.path.join(shared_rootfs, "go")
    os.mkfifo(fifo)
    r, w = os.pipe()
    try:
        proc = dataclasses.replace(cfg.process, stdout=w, args=[
            "sh", "-c", "grep -E '^[^ ]+ [^ ]+ [^ ]+ [^ ]+ / ' /proc/self/mountinfo | tail -n 1; read x < /go; "
            "ls /probe"])
        c = factory.create(f"prop-{prop}", dataclasses.replace(cfg, process=proc))
    finally:
        os.close(w)
    try:
        root = _wait_line(r).split()
        assert len(root) > 6, root
        tags = root[6:root.index("-")]
        subprocess.run(["mount", "-t", "tmpfs", "lc-prop-probe", os.path.join(shared_rootfs, "probe")], check=True)
        subprocess.run(["touch", os.path.join(shared_rootfs, "probe", "from-host")], check=True)
        with open(fifo, "w") as f:
            f.write("go\n")
        rest = b""
        while chunk := os.read(r, 4096):
            rest += chunk
        assert c.wait() == 0
        seen = "from-host" in rest.decode()
        kinds = {t.split(":")[0] for t in tags}
        if prop == "shared":
            assert "shared" in kinds, f"/ must be shared: {tags}"
            assert seen, "a shared / receives the host's new mounts"
        elif prop == "slave":
            assert "master" in kinds and "shared" not in kinds, f"/ must be a slave: {tags}"
            assert seen, "a slave / receives the host's new mounts"
        elif prop == "private":
            assert not kinds & {"shared", "master", "unbindable"}, f"/ must be private: {tags}"
            assert not seen, "a private / does not receive the host's mounts"
        else:
            assert "unbindable" in kinds, f"/ must be unbindable: {tags}"
    finally:
        os.close(r)
        c.destroy()


@pytest.mark.clause("LC-CFG-FS-08")
@pytest.mark.parametrize("value", ["rshared-ish", "", 1, "PRIVATE"])
def test_bad_rootfs_propagation_is_config_invalid(factory, config, value):
    with pytest.raises(ConfigInvalid, match="rootfs_propagation"):
        factory.create("bad-prop", dataclasses.replace(config, rootfs_propagation=value))
    with pytest.raises(ContainerDestroyed):
        factory.load("bad-prop")


def test_from_oci_maps_rootfs_propagation_and_sysctl(tmp_path, rootfs):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    spec = {"ociVersion": "1.0.2", "root": {"path": rootfs}, "process": {"args": ["sh"], "cwd": "/"},
            "linux": {"namespaces": [{"type": "mount"}, {"type": "network"}, {"type": "ipc"}],
                      "rootfsPropagation": "slave",
                      "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "65536"}}}
    (bundle / "config.json").write_text(json.dumps(spec))
    cfg = Config.from_oci(str(bundle))
    assert cfg.rootfs_propagation == "slave"
    assert cfg.sysctl == {"net.ipv4.ip_forward": "1", "kernel.shmmax": "65536"}
    spec["linux"]["sysctl"] = {"net.ipv4.ip_forward": 1}
    (bundle / "config.json").write_text(json.dumps(spec))
    with pytest.raises(ConfigInvalid, match=r"linux\.sysctl\.net\.ipv4\.ip_forward"):
        Config.from_oci(str(bundle))
    spec["linux"]["sysctl"] = {"kernel.pid_max": "100"}
    (bundle / "config.json").write_text(json.dumps(spec))
    with pytest.raises(ConfigInvalid, match=r"sysctl\.kernel\.pid_max"):
        Config.from_oci(str(bundle))
