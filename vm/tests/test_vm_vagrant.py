"""The Vagrant backend's choices that need no VM: what it shares with the guest, when it builds its box again."""

from __future__ import annotations

import os
import sys

import pytest

from libcontainer.vm import matrix
from libcontainer.vm import vagrant as vagrant_backend


def _venv(tmp_path, interpreter: str) -> str:
    """A .venv/bin/python symlink to ``interpreter`` (as python -m venv makes it)."""
    bindir = tmp_path / ".venv" / "bin"
    bindir.mkdir(parents=True)
    os.symlink(interpreter, bindir / "python")
    return str(bindir / "python")


def test_a_distribution_python_is_not_shared(tmp_path, monkeypatch):
    """A .venv on /usr/bin/python3: the box's own python3 runs it; /usr over the guest's /usr broke vagrant up."""
    monkeypatch.setattr(sys, "base_prefix", "/usr")
    python = _venv(tmp_path, "/usr/bin/python3")
    assert vagrant_backend.python_share(python) is None
    be = vagrant_backend.VagrantBackend(project=str(tmp_path), cache=str(tmp_path / "cache"), python=python)
    assert be.sync_folders() == str(tmp_path)


def test_a_self_built_python_is_shared_at_its_prefix(tmp_path, monkeypatch):
    """A pyenv-style interpreter (its own prefix, not the box's): that prefix is shared beside the project."""
    prefix = tmp_path / "pyenv" / "versions" / "3.11.7"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "python3.11").write_text("")
    os.symlink("python3.11", prefix / "bin" / "python3")
    monkeypatch.setattr(sys, "base_prefix", str(prefix))
    python = _venv(tmp_path, str(prefix / "bin" / "python3"))
    assert vagrant_backend.python_share(python) == str(prefix)
    be = vagrant_backend.VagrantBackend(project=str(tmp_path), cache=str(tmp_path / "cache"), python=python)
    assert be.sync_folders() == f"{tmp_path}:{prefix}"
    monkeypatch.setattr(sys, "base_prefix", "/usr")  # run from another interpreter: the link's own prefix
    assert vagrant_backend.python_share(python) == str(prefix)


def test_the_box_has_python3():
    with open(os.path.join(os.path.dirname(vagrant_backend.__file__), "box.sh")) as f:
        include = next(line for line in f if "--include=" in line)
    assert "python3," in include.split("--include=")[1] + ","


class _Box:
    def __init__(self, name):
        self.name = name


class _Vagrant:
    def __init__(self, boxes):
        self.boxes, self.added = boxes, []

    def box_list(self):
        return [_Box(b) for b in self.boxes]

    def box_add(self, name, path, provider, force):
        self.added.append((name, path))


class _Built(Exception):
    pass


@pytest.mark.parametrize("stamp", ["current", "other", None])
def test_a_box_from_another_box_sh_is_built_again(tmp_path, monkeypatch, stamp):
    be = vagrant_backend.VagrantBackend(project=str(tmp_path), cache=str(tmp_path / "cache"))
    vm = matrix.VMSpec(name="t-v2", package="linux-image-test", cgroup="v2", cmdline="", timeout_s=30,
                       box="libcontainer/t")
    fake = _Vagrant(["libcontainer/t"])
    monkeypatch.setattr(be, "_wrapper", lambda: None)
    monkeypatch.setattr(be, "libvirtd", lambda action: None)
    monkeypatch.setattr(be, "_vagrant", lambda vm, *a, **k: fake)

    def build(*args, **kwargs):
        raise _Built()
    monkeypatch.setattr(vagrant_backend.kernel_mod, "fetch", build)
    os.makedirs(be.box_dir(vm))
    box_file = os.path.join(be.box_dir(vm), "t.box")
    open(box_file, "w").close()
    if stamp:
        with open(os.path.join(be.box_dir(vm), "box.sh.sha256"), "w") as f:
            f.write((vagrant_backend.box_recipe_digest() if stamp == "current" else "0" * 64) + "\n")
    if stamp == "current":
        be.prepare(vm)  # the box vagrant has was built by this box.sh: nothing to do
        assert fake.added == [] and os.path.exists(box_file)
    else:
        with pytest.raises(_Built):  # built again from the kernel .deb
            be.prepare(vm)
        assert not os.path.exists(box_file)
