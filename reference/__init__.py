"""The reference Linux implementation of :mod:`libcontainer.spec`.

Use :class:`LinuxFactory`::

    factory = LinuxFactory("/run/libcontainer")
    container = factory.create("web", config)   # RUNNING

What a container made from the default :class:`~libcontainer.spec.Config` gets:

* namespaces mnt, pid, uts, ipc, net (user and cgroup on request, with
  uid/gid maps; any of them joined by path instead of made);
* pivot_root into the rootfs with private propagation; /proc; /sys
  read-only; a tmpfs /dev with null, zero, full, random, urandom, tty,
  ptmx and devpts; /dev/shm; /dev/mqueue; masked paths (/proc/kcore,
  /proc/keys, /proc/timer_list, ... read as empty) and read-only paths
  (/proc/sys, /proc/sysrq-trigger, ...);
* runc's default capability set (14 capabilities; no CAP_SYS_ADMIN), a
  seccomp filter (libseccomp) that fails keyctl, add_key, kexec_load,
  mount, unshare, setns, ptrace, bpf, ... and clone with namespace flags
  with EPERM, umask 022;
* only fds 0, 1 and 2; a cwd inside the rootfs; processes that join the
  container are non-dumpable until they exec, so /proc/<pid>/exe of the
  host's Python cannot be reached from the container (CVE-2019-5736);
* loopback up; a veth pair to the host on request (``Config.network``).

One supervisor process per factory root (:mod:`.supervisor`) is the parent
and child subreaper of every container process of that root and writes their
exit statuses to the state directories. ``bench/hotpath.py`` (outside the package) times create +
wait + destroy of /bin/true beside ``runc run``.

The names below are imported on first use (PEP 562), so a supervisor started
as ``python -I -m libcontainer.reference.supervisor`` does not import the
factory and container modules.
"""

__all__ = ["LinuxFactory", "LinuxContainer", "DEFAULT_ROOT"]


def __getattr__(name):
    if name == "LinuxContainer":
        from .container import LinuxContainer
        return LinuxContainer
    if name in ("LinuxFactory", "DEFAULT_ROOT"):
        from . import factory
        return getattr(factory, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
