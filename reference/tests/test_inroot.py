"""inroot: paths resolved with a directory as the root, with openat2(2) and with the fallback walk."""

from __future__ import annotations

import errno
import os

import pytest

from libcontainer.reference import inroot
from libcontainer.plumbing import linux


@pytest.fixture(params=["openat2", "walk"])
def mode(request):
    linux.force_no_openat2(request.param == "walk")
    yield request.param
    linux.force_no_openat2(False)


@pytest.fixture
def tree(tmp_path):
    """(root fd, root path, outside path): a root with hostile links, and a dir beside it."""
    root, out = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    out.mkdir()
    (root / "d").mkdir()
    (root / "d" / "f").write_text("inside")
    os.symlink(str(out), root / "abs")            # absolute, to a host dir
    os.symlink("../../../../../../" + str(out), root / "d" / "rel")  # climbs out
    os.symlink("/l2", root / "l1")
    os.symlink("l1", root / "l2")                 # a loop
    os.symlink("/d", root / "tod")
    os.symlink("/nowhere/deeper", root / "dangling")
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    yield fd, str(root), str(out)
    os.close(fd)
    assert os.listdir(out) == [], "something was made outside the root"


def _where(fd: int) -> str:
    return os.readlink(inroot.fd_path(fd))


@pytest.mark.parametrize("path, want", [
    ("/d/f", "d/f"), ("tod/f", "d/f"), ("/tod/../d/f", "d/f"), ("/../../d/f", "d/f"), ("/", ""),
])
def test_resolve_stays_inside(mode, tree, path, want):
    fd, root, _out = tree
    got = inroot.resolve(fd, path)
    try:
        assert _where(got) == os.path.join(root, want).rstrip("/")
    finally:
        os.close(got)


@pytest.mark.parametrize("path", ["/abs/x", "/d/rel/x", "/dangling/x/y"])
def test_ensure_creates_inside_what_links_point_at(mode, tree, path):
    fd, root, out = tree
    got = inroot.ensure(fd, path)
    try:
        where = _where(got)
        assert where.startswith(root + "/") and os.path.isdir(where), where
    finally:
        os.close(got)


def test_ensure_file_through_link(mode, tree):
    fd, root, out = tree
    got = inroot.ensure(fd, "/abs/newfile", "file")
    try:
        assert _where(got) == os.path.join(root, out.lstrip("/"), "newfile")
    finally:
        os.close(got)


def test_loop_is_eloop(mode, tree):
    fd, _root, _out = tree
    with pytest.raises(OSError) as e:
        inroot.ensure(fd, "/l1/x")
    assert e.value.errno == errno.ELOOP


def test_file_as_directory_is_enotdir(mode, tree):
    fd, _root, _out = tree
    with pytest.raises(OSError) as e:
        inroot.resolve(fd, "/d/f/x")
    assert e.value.errno == errno.ENOTDIR
