"""A root filesystem for containers, built from Debian's busybox-static: the public helper of examples.

Real binaries from the host's package (``apt-get install busybox-static``),
nothing downloaded. :func:`build_busybox_rootfs` makes one in a directory;
``python -m libcontainer.busybox DIR`` does it from the command line. The
test suite's ``lc_rootfs`` fixture uses the same function.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

BUSYBOX = "/bin/busybox"
DIRS = ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "home", "var/tmp", "run")


def find_busybox() -> str | None:
    """Path of a statically linked busybox (Debian's busybox-static), or None."""
    for path in (BUSYBOX, shutil.which("busybox") or ""):
        if path and os.path.exists(path):
            with open(path, "rb") as f:
                head = f.read(4096)
            if head.startswith(b"\x7fELF") and b"ld-linux" not in head:  # no PT_INTERP: static
                return path
    return None


def build_busybox_rootfs(target: str, busybox: str | None = None) -> str:
    """Make a busybox root filesystem in ``target`` (created if missing); return its absolute path.

    Every applet is a symlink to ``/bin/busybox``; /etc has passwd, group
    and hostname. Raises FileNotFoundError when no static busybox exists.
    """
    busybox = busybox or find_busybox()
    if busybox is None:
        raise FileNotFoundError("no static busybox: apt-get install busybox-static")
    target = os.path.abspath(target)
    os.makedirs(target, exist_ok=True)
    os.chmod(target, 0o755)  # a container process of a non-root uid must be able to enter /
    for d in DIRS:
        os.makedirs(os.path.join(target, d), exist_ok=True)
    os.chmod(os.path.join(target, "tmp"), 0o1777)
    shutil.copy2(busybox, os.path.join(target, "bin", "busybox"))
    applets = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        link = os.path.join(target, applet)
        if applet == "bin/busybox" or os.path.lexists(link):
            continue
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink("/bin/busybox", link)
    files = {
        "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        "etc/group": "root:x:0:\nnogroup:x:65534:\n",
        "etc/hostname": "container\n",
    }
    for name, text in files.items():
        with open(os.path.join(target, name), "w") as f:
            f.write(text)
    return target


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m libcontainer.busybox DIR")
    print(build_busybox_rootfs(sys.argv[1]))
