"""A container's kernel parameters: ``Config.sysctl`` written to /proc/sys (sysctl(8), proc(5)).

Runs in the container's init after it has its namespaces and before
pivot_root: a key under /proc/sys/net, /proc/sys/kernel/{shm*,msg*,sem},
/proc/sys/fs/mqueue or kernel.{hostname,domainname} acts on the namespace
of the writing process, so the host's /proc is the right place to write.
Which keys are allowed is decided by :func:`libcontainer.spec.config.validate`
(namespaced keys only, runc's rule).
"""

from __future__ import annotations

import os


def sysctl_path(key: str) -> str:
    """``net.ipv4.ip_forward`` -> ``/proc/sys/net/ipv4/ip_forward``."""
    return "/proc/sys/" + key.replace(".", "/")


def apply(sysctl: dict[str, str]) -> None:
    """Write each value; FileNotFoundError names a key the kernel does not have, OSError another failure."""
    for key, value in sysctl.items():
        path = sysctl_path(key)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise FileNotFoundError(2, f"sysctl.{key}: the kernel has no {path}") from None
        try:
            os.write(fd, value.encode())
        except OSError as e:
            raise OSError(e.errno, f"sysctl.{key}: writing {value!r} to {path}: {e.strerror}") from None
        finally:
            os.close(fd)
