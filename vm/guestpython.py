"""The interpreter a qemu guest runs the suite with: Debian's optimised ``python3.X`` over the project's packages.

The project's ``.venv`` may be built on an interpreter compiled without
profile-guided and link-time optimisation and with a shared ``libpython``
(pyenv's default build: ``--enable-shared``, no ``--enable-optimizations``).
Under qemu's software emulation every instruction counts: Debian's own
``/usr/bin/python3.X`` (PGO + LTO, libpython linked in) ran the reference's
Python-bound work (``dataclasses.asdict`` of a Config) 1.7-2x faster on this
host (vm/README.md). A guest sees the host's root over 9p, so it can run that
binary; :func:`make` builds a virtual environment (PEP 405: ``pyvenv.cfg``
beside ``bin/``) whose ``bin/python`` is that binary and whose
``site-packages`` is the project's ``.venv``'s, so the same packages, the
same editable project and the host-compiled bytecode (one magic number per
minor version, see ``importlib.util.MAGIC_NUMBER``) are used.

Only for the same ``X.Y`` (C extensions and bytecode are built per minor
version); otherwise, or with ``LCVM_GUEST_PYTHON=venv``, the guest runs the
``.venv``'s own interpreter. ``LCVM_GUEST_PYTHON=/path/python3.X`` names
another binary.
"""

from __future__ import annotations

import os
import subprocess

#: where the guest's environment is made, relative to the project (ignored by git)
DIRNAME = ".venv-guest"


def version_of(python: str) -> tuple[str, str] | None:
    """(``X.Y``, ``X.Y.Z``) of the interpreter ``python``, or None if it does not run."""
    try:
        out = subprocess.run([python, "-c", "import sys; v = sys.version_info; print(f'{v[0]}.{v[1]} {v[0]}.{v[1]}.{v[2]}')"],
                             capture_output=True, text=True, timeout=60, check=True).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return (out[0], out[1]) if len(out) == 2 else None


def site_packages(venv_python: str, minor: str) -> str:
    """The ``site-packages`` folder of the virtual environment whose interpreter is ``venv_python``."""
    prefix = os.path.dirname(os.path.dirname(os.path.abspath(venv_python)))
    return os.path.join(prefix, "lib", f"python{minor}", "site-packages")


def make(venv_python: str, project: str, system: str | None = None) -> str:
    """The interpreter path for the guests: ``PROJECT/.venv-guest/bin/python`` (made or refreshed here) when the
    distribution's ``python3.X`` (``system``, default ``/usr/bin/python3.X`` of ``venv_python``'s minor version)
    exists and has that minor version; else ``venv_python`` itself."""
    choice = os.environ.get("LCVM_GUEST_PYTHON", "")
    if choice == "venv":
        return venv_python
    have = version_of(venv_python)
    if have is None:
        return venv_python
    minor = have[0]
    system = system or choice or f"/usr/bin/python{minor}"
    other = version_of(system) if os.path.exists(system) else None
    packages = site_packages(venv_python, minor)
    if other is None or other[0] != minor or not os.path.isdir(packages):
        return venv_python
    root = os.path.join(os.path.abspath(project), DIRNAME)
    libdir = os.path.join(root, "lib", f"python{minor}")
    os.makedirs(os.path.join(root, "bin"), exist_ok=True)
    os.makedirs(libdir, exist_ok=True)
    _link(system, os.path.join(root, "bin", "python"))
    _link(packages, os.path.join(libdir, "site-packages"))
    cfg = (f"home = {os.path.dirname(system)}\ninclude-system-site-packages = false\nversion = {other[1]}\n"
           f"executable = {system}\n")
    with open(os.path.join(root, "pyvenv.cfg.part"), "w") as f:
        f.write(cfg)
    os.replace(os.path.join(root, "pyvenv.cfg.part"), os.path.join(root, "pyvenv.cfg"))
    return os.path.join(root, "bin", "python")


def _link(target: str, path: str) -> None:
    if os.path.islink(path) and os.readlink(path) == target:
        return
    tmp = path + ".part"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, path)
