"""The guests' interpreter (vm/guestpython.py) and the qemu backend's CPU-time reading; nothing is booted."""

import os
import subprocess
import sys

from libcontainer.vm import guestpython, qemu


def test_the_guest_environment_runs_another_binary_over_the_venvs_packages(tmp_path):
    system = os.path.realpath(sys.executable)  # the interpreter under .venv: the same minor version
    python = guestpython.make(sys.executable, str(tmp_path), system=system)
    root = tmp_path / guestpython.DIRNAME
    assert python == str(root / "bin" / "python")
    assert os.readlink(python) == system
    out = subprocess.run([python, "-c", "import sys, libcontainer; print(sys.prefix); print(libcontainer.__file__)"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == str(root), "pyvenv.cfg beside bin/ makes it a virtual environment"
    assert out[1].endswith(os.path.join("libcontainer", "__init__.py")), "the .venv's editable project is found"
    assert guestpython.make(sys.executable, str(tmp_path), system=system) == python, "made again in place"


def test_another_minor_version_or_the_opt_out_keeps_the_venvs_interpreter(tmp_path, monkeypatch):
    other = tmp_path / "python9.99"
    other.write_text("#!/bin/sh\necho 9.99 9.99.0\n")
    other.chmod(0o755)
    assert guestpython.make(sys.executable, str(tmp_path), system=str(other)) == sys.executable
    assert guestpython.make(sys.executable, str(tmp_path), system=str(tmp_path / "missing")) == sys.executable
    monkeypatch.setenv("LCVM_GUEST_PYTHON", "venv")
    assert guestpython.make(sys.executable, str(tmp_path), system=os.path.realpath(sys.executable)) == sys.executable
    assert not (tmp_path / guestpython.DIRNAME).exists()


def test_qemu_cpu_seconds_of_a_process_and_of_one_that_is_gone():
    before = qemu.cpu_seconds(os.getpid(), -1.0)
    sum(range(3_000_000))
    assert qemu.cpu_seconds(os.getpid(), -1.0) >= before >= 0
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert qemu.cpu_seconds(proc.pid, 7.5) == 7.5
