"""Debian kernels for the matrix: downloaded with ``apt-get download``, unpacked with ``dpkg-deb -x``.

Nothing is installed on the host. A kernel is named by its Debian package
(``linux-image-amd64``, a metapackage, resolves to the image it depends on,
e.g. ``linux-image-6.1.0-57-amd64``). Unpacked trees live in the cache
directory (``/var/cache/libcontainer-vm`` for root, shared by every clone, else ``vm/.cache/``;
``LCVM_CACHE`` overrides it).
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import subprocess

CACHE = os.environ.get("LCVM_CACHE") or os.path.join(os.path.dirname(os.path.abspath(__file__)), ".cache")
#: kernels and initramfs of the qemu backend: shared by every clone on this host (they do not change between
#: runs; a clean clone boots without downloading them again); LCVM_CACHE overrides it as it does CACHE
SHARED_CACHE = os.environ.get("LCVM_CACHE") or ("/var/cache/libcontainer-vm" if os.geteuid() == 0 else CACHE)


@dataclasses.dataclass(frozen=True)
class Kernel:
    """An unpacked Debian kernel: ``vmlinuz`` (bzImage path), ``modules`` (``lib/modules/<release>``), ``release``."""

    package: str
    vmlinuz: str
    modules: str
    release: str
    config: str


def resolve_package(package: str) -> str:
    """The concrete ``linux-image-<release>`` package a metapackage depends on (``package`` itself if concrete).

    Reads ``apt-cache depends``; raises RuntimeError when apt knows no such package.
    """
    out = subprocess.run(["apt-cache", "depends", package], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        m = re.match(r"\s*Depends:\s*(linux-image-\S+)", line)
        if m and not m.group(1).startswith("<"):
            return resolve_package(m.group(1))
    if out.returncode != 0 or not out.stdout.strip():
        raise RuntimeError(f"apt knows no package {package!r} (run apt-get update?): {out.stderr.strip()}")
    return package


def fetch(package: str, cache: str = CACHE) -> Kernel:
    """Download and unpack ``package`` into ``cache`` (once) and return its Kernel.

    Raises RuntimeError if apt-get download or dpkg-deb fails or the package holds no vmlinuz.
    """
    concrete = resolve_package(package)
    tree = os.path.join(cache, "kernels", concrete)
    if not glob.glob(os.path.join(tree, "boot", "vmlinuz-*")):
        debs = os.path.join(cache, "debs")
        os.makedirs(debs, exist_ok=True)
        found = glob.glob(os.path.join(debs, f"{concrete}_*.deb"))
        if not found:
            r = subprocess.run(["apt-get", "download", "-q", concrete], cwd=debs, capture_output=True, text=True)
            found = glob.glob(os.path.join(debs, f"{concrete}_*.deb"))
            if r.returncode != 0 or not found:
                raise RuntimeError(f"apt-get download {concrete} failed: {r.stderr.strip()}")
        tmp = f"{tree}.part{os.getpid()}"  # another clone may unpack the same kernel at the same time
        subprocess.run(["rm", "-rf", tmp], check=True)
        os.makedirs(tmp)
        r = subprocess.run(["dpkg-deb", "-x", found[0], tmp], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"dpkg-deb -x {found[0]} failed: {r.stderr.strip()}")
        if not glob.glob(os.path.join(tree, "boot", "vmlinuz-*")):
            subprocess.run(["rm", "-rf", tree], check=True)  # a partial tree of an interrupted unpack
        try:
            os.rename(tmp, tree)
        except OSError:  # another process got there first: use its tree
            subprocess.run(["rm", "-rf", tmp], check=True)
    return load(package, tree)


def load(package: str, tree: str) -> Kernel:
    """The Kernel of an unpacked tree (``boot/vmlinuz-R``, ``lib/modules/R``)."""
    images = sorted(glob.glob(os.path.join(tree, "boot", "vmlinuz-*")))
    if not images:
        raise RuntimeError(f"no boot/vmlinuz-* in {tree}")
    release = os.path.basename(images[0])[len("vmlinuz-"):]
    modules = os.path.join(tree, "lib", "modules", release)
    return Kernel(package=package, vmlinuz=images[0], modules=modules, release=release,
                  config=os.path.join(tree, "boot", f"config-{release}"))


def config_has(kernel: Kernel, option: str) -> str | None:
    """The value (``y``/``m``/string) of ``CONFIG_<option>`` in the kernel's config, None if unset."""
    prefix = f"CONFIG_{option}="
    with open(kernel.config) as f:
        for line in f:
            if line.startswith(prefix):
                return line[len(prefix):].strip()
    return None
