"""The guest's initramfs: Debian's static busybox, the kernel's virtio/9p/overlay modules and ``init.sh``.

The archive is a gzip'd cpio (``newc``, Documentation/driver-api/early-userspace/buffer-format.rst),
written here without external tools. Modules come from the unpacked Debian
kernel (:mod:`libcontainer.vm.kernel`), decompressed (busybox ``insmod``
takes plain ``.ko``) and ordered by their ``depends=`` modinfo field; modules
the kernel has built in (``modules.builtin``) are skipped.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import stat

from .kernel import Kernel

BUSYBOX = "/bin/busybox"
#: what the guest needs before its root is mounted: virtio PCI transport, 9p over virtio, overlayfs; and veth,
#: which the guest cannot autoload (no /lib/modules there) and the network clause (LC-CFG-NET-01) needs
WANTED = ("virtio_pci", "9pnet_virtio", "9p", "overlay", "veth")
INIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "init.sh")


def _modinfo(data: bytes) -> dict[str, str]:
    info: dict[str, str] = {}
    for part in data.split(b"\0"):
        for key in (b"depends=", b"name="):
            if part.startswith(key) and key.decode()[:-1] not in info:
                info[key.decode()[:-1]] = part[len(key):].decode(errors="replace")
    return info


def _read_module(path: str) -> bytes:
    if path.endswith(".xz"):
        return lzma.decompress(open(path, "rb").read())
    if path.endswith(".zst"):
        import subprocess
        return subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    return open(path, "rb").read()


def module_index(kernel: Kernel) -> dict[str, str]:
    """Module name (``-`` as ``_``) -> its file under the kernel's ``lib/modules/<release>``."""
    index = {}
    for dirpath, _, files in os.walk(os.path.join(kernel.modules, "kernel")):
        for f in files:
            if ".ko" in f:
                index[f.split(".ko")[0].replace("-", "_")] = os.path.join(dirpath, f)
    return index


def builtin(kernel: Kernel) -> set[str]:
    try:
        with open(os.path.join(kernel.modules, "modules.builtin")) as f:
            return {os.path.basename(line.strip()).split(".ko")[0].replace("-", "_") for line in f}
    except FileNotFoundError:
        return set()


def resolve_modules(kernel: Kernel, wanted=WANTED) -> list[tuple[str, bytes]]:
    """``[(name, plain .ko bytes)]`` for ``wanted`` and their dependencies, dependencies first.

    Raises LookupError for a wanted module that is neither a file nor built in.
    """
    index, inside = module_index(kernel), builtin(kernel)
    done: dict[str, bytes] = {}

    def visit(name: str, trail: tuple[str, ...]) -> None:
        name = name.replace("-", "_")
        if name in done or name in inside or name in trail:
            return
        if name not in index:
            raise LookupError(f"kernel {kernel.release} has no module {name} (needed by {' <- '.join(trail) or 'init'})")
        data = _read_module(index[name])
        for dep in filter(None, _modinfo(data).get("depends", "").split(",")):
            visit(dep, trail + (name,))
        done[name] = data

    for w in wanted:
        visit(w, ())
    return list(done.items())


class _Cpio:
    """A newc cpio writer (what the kernel unpacks as initramfs)."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1

    def _entry(self, name: str, mode: int, data: bytes = b"", nlink: int = 1) -> None:
        name_b = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name_b), 0))
        self.ino += 1
        self.buf.write(hdr.encode() + name_b)
        self.buf.write(b"\0" * (-(110 + len(name_b)) % 4))
        self.buf.write(data)
        self.buf.write(b"\0" * (-len(data) % 4))

    def dir(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755, nlink=2)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def node(self, name: str, mode: int, major: int, minor: int) -> None:
        name_b = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            self.ino, mode, 0, 0, 1, 0, 0, 0, 0, major, minor, len(name_b), 0))
        self.ino += 1
        self.buf.write(hdr.encode() + name_b + b"\0" * (-(110 + len(name_b)) % 4))

    def close(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return self.buf.getvalue()


def build_bytes(kernel: Kernel, busybox: str = BUSYBOX, init: str = INIT) -> bytes:
    """The gzip'd cpio archive for ``kernel`` (deterministic for the same inputs)."""
    mods = resolve_modules(kernel)
    a = _Cpio()
    for d in ("bin", "dev", "proc", "sys", "newroot", "mod", "ovl"):
        a.dir(d)
    a.node("dev/console", stat.S_IFCHR | 0o600, 5, 1)
    a.node("dev/null", stat.S_IFCHR | 0o666, 1, 3)
    a.file("bin/busybox", open(busybox, "rb").read(), 0o755)
    for applet in ("sh", "mount", "mkdir", "insmod", "cat", "echo", "switch_root", "poweroff", "sleep",
                   "hostname", "ls", "grep", "mountpoint", "umount"):
        a.symlink(f"bin/{applet}", "busybox")
    for name, data in mods:
        a.file(f"mod/{name}.ko", data)
    a.file("modules", "".join(f"{name}\n" for name, _ in mods).encode())
    a.file("init", open(init, "rb").read(), 0o755)
    return gzip.compress(a.close(), compresslevel=6, mtime=0)


def build(kernel: Kernel, cache: str, busybox: str = BUSYBOX) -> str:
    """Write the initramfs for ``kernel`` into ``cache`` (once per content) and return its path."""
    data = build_bytes(kernel, busybox)
    digest = hashlib.sha256(data).hexdigest()[:12]
    path = os.path.join(cache, "initramfs", f"{kernel.release}-{digest}.cpio.gz")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        part = f"{path}.part{os.getpid()}"
        with open(part, "wb") as f:
            f.write(data)
        os.rename(part, path)
    return path
