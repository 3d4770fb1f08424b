"""Root filesystems for the suite's fixtures: :mod:`libcontainer.busybox` (the public helper), by the names
the plugin, the preflight and the tests use (they look up ``find_busybox`` here, so a test can replace it).

``python -m libcontainer.conformance.rootfs DIR`` builds one from the command line.
"""

import sys

from libcontainer.busybox import BUSYBOX, DIRS, build_busybox_rootfs, find_busybox  # noqa: F401

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m libcontainer.conformance.rootfs DIR")
    print(build_busybox_rootfs(sys.argv[1]))
