"""Hostile images: symlinks in the rootfs never lead the runtime outside it (SPEC.md LC-HOST-01, 02).

Each test copies the session's busybox rootfs into a tmp dir of its own,
plants symlinks that point at another tmp dir of its own (``host``, the
stand-in for a host directory), and checks that tree before and after: the
runtime may create or mount only inside the rootfs. Nothing here races:
every link is in place before create (or placed by an earlier mount).
"""

from __future__ import annotations

import dataclasses
import os
import shutil

import pytest

from libcontainer.spec import ConfigInvalid, Device, Mount, SystemFailure

from .helpers import run_init


def _snapshot(path) -> list[tuple[str, int, int]]:
    out = []
    for dirpath, dirs, files in os.walk(path):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out.append((os.path.relpath(p, path), st.st_mode, st.st_size))
    return sorted(out)


def _mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path)]


@pytest.fixture
def image(tmp_path, rootfs):
    """(rootfs copy, host dir, check): a private rootfs, a host stand-in, and ``check()`` which each test
    calls at its end: it fails the test if the host dir changed or a mount is left under either.
    Afterwards the host dir is put back as it was, so a runtime that failed leaves nothing either."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "keep").write_text("host file\n")
    img = tmp_path / "img"
    shutil.copytree(rootfs, img, symlinks=True)
    before = _snapshot(host)

    def check():
        assert _snapshot(host) == before, "the runtime created or changed something outside the rootfs"
        assert (host / "keep").read_text() == "host file\n"
        assert _mounts_under(str(tmp_path)) == []

    yield str(img), str(host), check
    for name in os.listdir(host):
        if name != "keep":
            path = host / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()


def _cfg(config, img, **kw):
    return dataclasses.replace(config, rootfs=img, **kw)


def _tmpfs(dest: str) -> Mount:
    return Mount(destination=dest, type="tmpfs", source="tmpfs", options=["nosuid", "nodev", "mode=755"])


MOUNTED = 'grep -q " $(readlink -f {d}) tmpfs " /proc/mounts && echo mounted'


@pytest.mark.clause("LC-HOST-01")
def test_absolute_symlink_to_host_dir_mount_lands_inside(factory, config, image):
    """The issue's case 1: ``evil -> /some/host/dir``, a tmpfs at ``/evil/newdir``."""
    img, host, check = image
    os.symlink(host, os.path.join(img, "evil"))
    cfg = _cfg(config, img, mounts=[_tmpfs("/evil/newdir")])
    c, out, code = run_init(factory, "hostile-abs", cfg,
                            MOUNTED.format(d="/evil/newdir") + "; touch /evil/newdir/f")
    try:
        assert code == 0 and out.strip() == "mounted", (code, out)
        assert not os.path.exists(os.path.join(host, "newdir"))
        # the link's target, taken with the rootfs as /, is where the directory was made
        assert os.path.isdir(os.path.join(img, host.lstrip("/"), "newdir"))
    finally:
        c.destroy()
    check()


@pytest.mark.clause("LC-HOST-01")
def test_relative_symlink_climbing_out_is_stopped_at_the_root(factory, config, image):
    img, host, check = image
    os.makedirs(os.path.join(img, "a", "b"))
    os.symlink("../../../../../../../../.." + host, os.path.join(img, "a", "b", "up"))
    cfg = _cfg(config, img, mounts=[_tmpfs("/a/b/up/newdir")])
    c, out, code = run_init(factory, "hostile-rel", cfg, MOUNTED.format(d="/a/b/up/newdir"))
    try:
        assert code == 0 and out.strip() == "mounted", (code, out)
        assert not os.path.exists(os.path.join(host, "newdir"))
    finally:
        c.destroy()
    check()


@pytest.mark.clause("LC-HOST-01")
def test_bind_file_through_symlink_lands_inside(factory, config, image, tmp_path):
    img, host, check = image
    src = tmp_path / "src.txt"
    src.write_text("payload\n")
    os.symlink(host, os.path.join(img, "evil"))
    cfg = _cfg(config, img, mounts=[Mount(destination="/evil/file", type="bind", source=str(src),
                                          options=["bind", "ro"])])
    c, out, code = run_init(factory, "hostile-file", cfg, "cat /evil/file")
    try:
        assert code == 0 and out == "payload\n", (code, out)
        assert not os.path.exists(os.path.join(host, "file"))
    finally:
        c.destroy()
    check()


@pytest.mark.clause("LC-HOST-01")
def test_symlink_placed_by_an_earlier_mount_is_resolved_inside(factory, config, image, tmp_path):
    """CVE-2021-30465's shape without the race: the first mount brings a link, the second goes through it."""
    img, host, check = image
    carrier = tmp_path / "carrier"
    carrier.mkdir()
    os.symlink(host, carrier / "link")
    cfg = _cfg(config, img, mounts=[Mount(destination="/mnt", type="bind", source=str(carrier), options=["bind"]),
                                    _tmpfs("/mnt/link/newdir")])
    try:
        c, out, code = run_init(factory, "hostile-swap", cfg, MOUNTED.format(d="/mnt/link/newdir"))
    except (ConfigInvalid, SystemFailure):
        pass  # refusing is allowed: the destination is through a link the runtime did not make
    else:
        c.destroy()
        assert code == 0 and out.strip() == "mounted", (code, out)
    assert sorted(os.listdir(carrier)) == ["link"], "created through the bind-mounted carrier"
    assert not os.path.exists(os.path.join(host, "newdir"))
    check()


@pytest.mark.clause("LC-HOST-01")
@pytest.mark.parametrize("link", ["loop", "proc"])
def test_symlink_loop_or_magic_link_fails_cleanly(factory, config, image, link):
    """A loop (``l1 -> l2 -> l1``) or a /proc magic link (``/proc/self/root`` + host path) in a
    destination: a documented error or a mount inside; never a host path."""
    img, host, check = image
    if link == "loop":
        os.symlink("/l2", os.path.join(img, "l1"))
        os.symlink("l1", os.path.join(img, "l2"))
        dest = "/l1/newdir"
    else:
        os.symlink("/proc/self/root" + host, os.path.join(img, "evil"))
        dest = "/evil/newdir"
    cfg = _cfg(config, img, mounts=[_tmpfs(dest)])
    try:
        c, out, code = run_init(factory, f"hostile-{link}", cfg, MOUNTED.format(d=dest))
    except (ConfigInvalid, SystemFailure) as e:
        assert str(e)
    else:
        c.destroy()
        assert link != "loop", "a symlink loop in the destination was mounted somewhere"
    assert not os.path.exists(os.path.join(host, "newdir"))
    check()


@pytest.mark.clause("LC-HOST-02")
def test_dev_as_symlink_to_host_dir(factory, config, image):
    """The image's /dev is ``dev -> /host/dir``: the runtime's /dev (tmpfs, nodes, devpts) is inside."""
    img, host, check = image
    shutil.rmtree(os.path.join(img, "dev"))
    os.symlink(host, os.path.join(img, "dev"))
    c, out, code = run_init(factory, "hostile-dev", _cfg(config, img),
                            "test -c /dev/null && echo ok > /dev/null && echo ok")
    try:
        assert code == 0 and out.strip() == "ok", (code, out)
    finally:
        c.destroy()
    assert os.listdir(host) == ["keep"]
    check()


@pytest.mark.clause("LC-HOST-02")
def test_device_node_through_symlink_lands_inside(factory, config, image):
    """A config device where the image's /dev is a link to a host directory: the node is made inside."""
    img, host, check = image
    shutil.rmtree(os.path.join(img, "dev"))
    os.symlink(host, os.path.join(img, "dev"))
    cfg = _cfg(config, img, devices=[Device(path="/dev/mynull", type="c", major=1, minor=3)])
    c, out, code = run_init(factory, "hostile-node", cfg, "test -c /dev/mynull && echo ok")
    try:
        assert code == 0 and out.strip() == "ok", (code, out)
    finally:
        c.destroy()
    assert not os.path.exists(os.path.join(host, "mynull"))
    check()


@pytest.mark.clause("LC-HOST-02")
def test_masked_and_readonly_paths_through_symlinks(factory, config, image):
    """Masked and read-only paths that pass through links resolve as the container sees them."""
    img, host, check = image
    inner = os.path.join(img, host.lstrip("/"))
    os.makedirs(inner)
    with open(os.path.join(inner, "secret"), "w") as f:
        f.write("secret\n")
    os.makedirs(os.path.join(inner, "data"))
    os.symlink(host, os.path.join(img, "evil"))
    cfg = _cfg(config, img, masked_paths=["/evil/secret"], readonly_paths=["/evil/data"])
    c, out, code = run_init(factory, "hostile-mask", cfg,
                            "cat /evil/secret; touch /evil/data/x 2>/dev/null || echo ro")
    try:
        assert code == 0 and out == "ro\n", (code, out)
    finally:
        c.destroy()
    assert not os.path.exists(os.path.join(inner, "data", "x"))
    check()


@pytest.mark.clause("LC-HOST-02")
def test_proc_as_symlink_keeps_masked_paths_masked(factory, config, image):
    """CVE-2019-19921's shape: the image's /proc is a link. proc is mounted inside the rootfs, and the
    default masked and read-only paths still hold there (/proc/kcore unreadable, /proc/sys read-only)."""
    img, host, check = image
    shutil.rmtree(os.path.join(img, "proc"))
    os.symlink(host, os.path.join(img, "proc"))
    try:
        c, out, code = run_init(factory, "hostile-proc", _cfg(config, img),
                                "test -r /proc/self/status && echo status; "
                                "[ -s /proc/kcore ] || echo kcore-masked; "
                                "echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null || echo sys-ro")
    except (ConfigInvalid, SystemFailure):
        pass  # refusing a /proc that is not a directory is allowed (runc 1.0+ does)
    else:
        c.destroy()
        assert code == 0 and out.split() == ["status", "kcore-masked", "sys-ro"], (code, out)
    check()
