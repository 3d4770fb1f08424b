"""Where a create's wall-clock time goes, by phase, in all three processes (caller, supervisor, init).

As root: ``.venv/bin/python bench/phases.py [--runs 30] [--exec]``: lifecycles (create ``true``,
wait, destroy) or, with ``--exec``, ``start_process(true)`` + ``wait_process`` in a running
container; a container running throughout keeps the supervisor between rounds, as in the bench
(bench/bare.py). py-spy (bench/profile.py) samples the
init before its exec only now and then: it lives a few milliseconds. Here, in this process only,
the reference's public functions on the create path are wrapped (the files in reference/ are not
changed): each wrapper appends ``enter``/``exit`` events with ``time.perf_counter()`` (one clock,
CLOCK_MONOTONIC, in every process) to a file opened O_APPEND. The supervisor is forked from this
process (once, at the first create) and the init from it, so they run the wrappers too. ``finish`` (the init's last
step, which exec's) and ``run_init`` never return: their entries mark the init's start and the end
of its set-up. Prints the median ms per round of each phase. The wrappers add a few
microseconds per call (fstat, write); the numbers are for shares, not absolute speed.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import os
import shutil
import statistics
import sys
import tempfile
import time

import housekeeping  # noqa: E402  (bench/ is the script's directory)

# (module, attribute): functions on the create path; classes as "Class.method"; a module is
# libcontainer.reference.<name>, or libcontainer.<name> for a "plumbing." name
WRAPPED = [
    ("factory", "LinuxFactory.create"), ("container", "LinuxContainer.wait"), ("container", "LinuxContainer.destroy"),
    ("plumbing.statedir", "write_json"), ("plumbing.statedir", "make_dir"), ("plumbing.statedir", "sweep_new_dirs"),
    ("plumbing.statedir", "rmtree"),
    ("cleanup", "kill_cgroup"), ("plumbing.linux", "process_start_time"),
    ("cgroups.v1", "CgroupV1.create"), ("supervisor", "run_forked"), ("plumbing.linux", "close_fds_except"),
    ("plumbing.linux", "unshare"), ("supervision", "Supervision.create"), ("supervisor", "Supervisor.create"),
    ("monitor_startup", "MonitorStartup.start_init"), ("monitor_startup", "MonitorStartup.spawn"),
    ("monitor_startup", "committed"),
    ("process", "run_init"), ("process", "join_cgroup"), ("process", "init_namespaces"), ("process", "finish"),
    ("rootfs", "setup"), ("rootfs", "make_dev"), ("rootfs", "mount_config"), ("rootfs", "pivot"),
    ("rootfs", "mask_path"), ("rootfs", "readonly_path"), ("rootfs", "make_cwd"),
    ("process", "wait_cgroup"), ("process", "CgroupMove.move"), ("process", "single_threaded"), ("monitor_startup", "MonitorStartup.__init__"),
    ("kept", "Kept.listen"), ("plumbing.statefile", "save"), ("supervision", "drop"),
    ("cgroups.driver", "CgroupDriver.destroy"), ("plumbing.statedir", "remove_state_dir"),
    # start_process (with --exec)
    ("container", "LinuxContainer.start_process"), ("container", "LinuxContainer.wait_process"),
    ("kept", "Kept.exec"), ("process", "run_exec"),
]


def install(log_path: str) -> None:
    """Wrap every function of WRAPPED wherever the reference binds it (module globals, classes)."""
    import importlib

    def full(name: str) -> str:
        return f"libcontainer.{name}" if name.startswith("plumbing.") else f"libcontainer.reference.{name}"

    modules = {name: importlib.import_module(full(name)) for name, _ in WRAPPED}
    modules.update({m: sys.modules[m] for m in list(sys.modules)
                    if m.startswith(("libcontainer.reference.", "libcontainer.plumbing."))})
    inode = os.stat(log_path).st_ino if os.path.exists(log_path) else None
    cache: dict[int, int] = {}  # pid -> fd of the log: the init cannot open it by path after pivot_root

    def event(line: str) -> None:
        pid = os.getpid()
        fd = cache.get(pid)
        try:
            if fd is None or os.fstat(fd).st_ino != inode:
                raise OSError  # not opened in this process yet, or closed (the supervisor closes inherited fds)
        except OSError:
            try:
                fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            except OSError:
                return  # not reachable from here (after pivot_root, before an open): the event is lost
            cache[pid] = fd
        os.write(fd, line.encode())

    def wrap(func, label):
        def wrapper(*args, **kwargs):
            event(f"E {os.getpid()} {label} {time.perf_counter()}\n")
            try:
                return func(*args, **kwargs)
            finally:
                event(f"X {os.getpid()} {label} {time.perf_counter()}\n")
        wrapper.__wrapped__ = func
        return wrapper

    for mod_name, attr in WRAPPED:
        owner = modules[mod_name]
        if "." in attr:
            cls_name, meth = attr.split(".")
            cls = getattr(owner, cls_name)
            setattr(cls, meth, wrap(getattr(cls, meth), attr))
            continue
        original = getattr(owner, attr)
        wrapped = wrap(original, attr)
        for module in modules.values():
            for name, value in list(vars(module).items()):
                if value is original:
                    setattr(module, name, wrapped)


# derived intervals: (name, (kind, label) of its start, (kind, label) of the first event after it that ends it)
INTERVALS = [
    ("create entry to the request's (caller's work before it: cgroup, state.json) [caller]",
     ("E", "LinuxFactory.create"), ("E", "Supervision.create")),
    ("request to the supervisor's start_init entry (the hand-off, it reads state.json) [caller+supervisor]",
     ("E", "Supervision.create"), ("E", "MonitorStartup.start_init")),
    ("spawn entry to run_init entry (the supervisor forks the init) [supervisor+init]",
     ("E", "MonitorStartup.spawn"), ("E", "run_init")),
    ("finish entry to spawn exit (init: capabilities, seccomp, exec; the supervisor sees the exec) [init+supervisor]",
     ("E", "finish"), ("X", "MonitorStartup.spawn")),
    ("spawn exit to create exit (init's report to the caller, state.json, commit) [supervisor+caller]",
     ("X", "MonitorStartup.spawn"), ("X", "LinuxFactory.create")),
    ("start_process entry to Kept.exec entry (the caller's checks, the hand-off) [caller+supervisor]",
     ("E", "LinuxContainer.start_process"), ("E", "Kept.exec")),
    ("Kept.exec entry to run_exec entry (the supervisor forks) [supervisor+child]",
     ("E", "Kept.exec"), ("E", "run_exec")),
    ("finish entry to Kept.exec exit (the child's last steps and exec; the supervisor sees it) [child+supervisor]",
     ("E", "finish"), ("X", "Kept.exec")),
    ("Kept.exec exit to start_process exit (the reply) [supervisor+caller]",
     ("X", "Kept.exec"), ("X", "LinuxContainer.start_process")),
]


def durations(log_path: str) -> dict[str, list[float]]:
    """ms per call of each label; for run_init, the time from its entry to finish's entry (the init's
    set-up before exec); the INTERVALS."""
    out: dict[str, list[float]] = collections.defaultdict(list)
    events = [line.split() for line in open(log_path)]
    for name, start, end in INTERVALS:
        begun = None
        for kind, _pid, label, t in events:
            if (kind, label) == start:
                begun = float(t)
            elif (kind, label) == end and begun is not None:
                out[name].append((float(t) - begun) * 1000)
                begun = None
    kinds = {pid: "caller" for kind, pid, label, _t in events if label in ("LinuxFactory.create", "LinuxContainer.start_process")}
    kinds.update({pid: "supervisor" for kind, pid, label, _t in events if label in ("run_forked", "Supervisor.create", "Kept.exec")})
    stacks: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    init_start: dict[str, float] = {}
    for kind, pid, label, t in events:
        t = float(t)
        if kind == "E":
            stacks[(pid, label)].append(t)
            if label in ("run_init", "run_exec"):
                init_start[pid] = (t, label)
            elif label == "finish" and pid in init_start:
                begun, first = init_start.pop(pid)
                out[f"child's set-up ({first} to finish) [child]"].append((t - begun) * 1000)
        elif stacks[(pid, label)]:
            out[f"{label} [{kinds.get(pid, 'child')}]"].append((t - stacks[(pid, label)].pop()) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--exec", action="store_true",
                   help="time start_process(true) + wait_process in a running container instead of lifecycles")
    args = p.parse_args(argv)
    if not housekeeping.require_root():
        return 2
    from libcontainer.conformance.rootfs import build_busybox_rootfs
    from libcontainer.reference import LinuxFactory
    from libcontainer.spec import Config, Process

    work = tempfile.mkdtemp(prefix="lc-phases-")
    parent = f"libcontainer/phases-{os.getpid()}"
    log_path = os.path.join(work, "events")
    load = [os.getloadavg()[0]]
    try:
        rootfs = build_busybox_rootfs(os.path.join(work, "rootfs"))
        factory = LinuxFactory(os.path.join(work, "root"))
        cfg = Config(rootfs=rootfs, process=Process(args=["true"]), cgroup_parent=parent)
        open(log_path, "w").close()
        install(log_path)  # before the supervisor is forked (by the first create), so it runs the wrappers
        # a running container keeps the supervisor alive between rounds, as in bench/bare.py
        long = factory.create("long", dataclasses.replace(cfg, process=Process(args=["sleep", "86400"])))
        c = factory.create("warm", cfg)  # imports and first-use costs out of the way
        c.wait()
        c.destroy()
        long.wait_process(long.start_process(Process(args=["true"])))
        os.truncate(log_path, 0)  # O_APPEND writers go on at the start
        for i in range(args.runs):
            if args.exec:
                long.wait_process(long.start_process(Process(args=["true"])))
                continue
            c = factory.create(f"p{i}", cfg)
            c.wait()
            c.destroy()
        got = durations(log_path)
        long.destroy()
    finally:
        housekeeping.remove_cgroup_parent(parent)
        shutil.rmtree(work, ignore_errors=True)
    load.append(os.getloadavg()[0])
    print(f"{args.runs} {'start_process' if args.exec else 'lifecycle'}s; load {load[0]:.2f} before, {load[1]:.2f} after; ms per lifecycle "
          "(calls per round x median ms per call)")
    print("| phase [process] | calls per round | median ms per call | ms per round |")
    print("|---|---|---|---|")
    rows = []
    for label, values in got.items():
        if label.startswith("run_forked"):
            continue  # returns when the supervisor ends: its entry only serves the intervals
        per = len(values) / args.runs
        med = statistics.median(values)
        rows.append((per * med, label, per, med))
    for total, label, per, med in sorted(rows, reverse=True):
        print(f"| {label} | {per:.1f} | {med:.2f} | {total:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
