"""Prototype measurement of the memory design options for the monitor (issue 15, deliver 1 and 4;
the option chosen, one supervisor per factory root, is now the reference: bench/memory.py measures it).

As root or not: ``.venv/bin/python bench/forkmem.py [-n 100] [--out reports/bench]``. Nothing here
changes the reference; each option is imitated with the reference's own monitor imports, and
measured by PSS and USS (psutil ``memory_full_info``) of N idle monitor-like processes:

* ``caller``: forked from a caller that has imported what a user of the factory has
  (``libcontainer.reference`` with its factory and container, ``libcontainer.conformance``, psutil),
  as ``LinuxFactory(monitor="fork")`` forked a monitor per container before the supervisor; ``caller+freeze``: the same with ``gc.freeze()``
  in the caller just before each fork (and ``gc.unfreeze()`` after);
* ``zygote``: forked from a small pre-started ``python -I`` that imported only
  ``libcontainer.reference.kept`` (the modules the per-container monitor ran, which the supervisor now runs); ``zygote+freeze``: the same after
  ``gc.freeze()`` in the zygote; the zygote's own PSS is shared out over the N (its cost per container);
* ``supervisor``: one process (the same imports) serving N containers: per container a listening
  unix socket, a pidfd of a ``sleep`` child it is the subreaper of, a dict entry; its PSS / N,
  and its marginal cost (PSS at N minus PSS at 1, over N - 1).

Each monitor-like child does what an idle monitor does once started: a selector on a listening
unix socket, a JSON round trip of a config, ``gc.collect()`` (a long-lived monitor's collector runs
eventually; that is what writes to inherited objects unless they are frozen; the row ``caller, no
gc.collect`` leaves it out), then blocks on a
pipe whose other end its parent holds: the parent exits or closes it, the children see EOF and
exit. Nothing is killed by name; the supervisor's ``sleep`` children are killed by pid, by it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import subprocess
import sys
import tempfile

HERE = os.path.abspath(__file__)
CONFIG = {"rootfs": "/r", "process": {"args": ["sleep", "86400"], "env": [f"K{i}=v{i}" for i in range(20)]},
          "hostname": "bench", "namespaces": ["mount", "uts", "ipc", "pid", "net"]}


def monitor_like(hold_fd: int, ready_fd: int, sock_dir: str, index: int, collect: bool = True) -> None:
    """The idle monitor imitation in a forked child; returns never."""
    import selectors
    try:
        sel = selectors.DefaultSelector()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(os.path.join(sock_dir, f"m{index}.sock"))
        listener.listen(8)
        sel.register(listener, selectors.EVENT_READ)
        state = json.loads(json.dumps({"config": CONFIG, "index": index}))
        if collect:
            gc.collect()
        os.write(ready_fd, b"r")
        os.close(ready_fd)
        while os.read(hold_fd, 1):
            pass
        del state
    finally:
        os._exit(0)


def fork_children(n: int, sock_dir: str, freeze: bool, collect: bool = True) -> tuple[list[int], int]:
    """Fork ``n`` monitor-like children; return, once each reported its start-up done, (their pids,
    the write end that keeps them)."""
    r, w = os.pipe()
    ready_r, ready_w = os.pipe()
    pids = []
    for i in range(n):
        if freeze:
            gc.freeze()
        pid = os.fork()
        if pid == 0:
            os.close(w)
            os.close(ready_r)
            monitor_like(r, ready_w, sock_dir, i, collect)
        if freeze:
            gc.unfreeze()
        pids.append(pid)
    os.close(r)
    os.close(ready_w)
    got = 0
    while got < n:
        chunk = os.read(ready_r, n)
        if not chunk:
            raise RuntimeError(f"{n - got} monitor-like children died before reporting")
        got += len(chunk)
    os.close(ready_r)
    return pids, w


def zygote(n: int, freeze: bool) -> None:
    """The pre-started process: import the monitor's modules, maybe freeze, fork n children, report
    their pids on stdout, keep them until stdin closes."""
    import libcontainer.reference.kept  # noqa: F401 - what a monitor ran (its modules, now the supervisor's)
    sock_dir = tempfile.mkdtemp(prefix="lc-zyg-")
    if freeze:
        gc.freeze()
    pids, w = fork_children(n, sock_dir, freeze=False)
    print(json.dumps(pids), flush=True)
    sys.stdin.read()
    os.close(w)
    for pid in pids:
        os.waitpid(pid, 0)
    subprocess.run(["rm", "-rf", sock_dir], check=False)


def supervisor(n: int) -> None:
    """One process serving n containers (see the module doc); reports on stdout, ends on stdin's EOF."""
    import selectors
    import libcontainer.reference.kept  # noqa: F401
    from libcontainer.plumbing import linux
    linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
    sock_dir = tempfile.mkdtemp(prefix="lc-sup-")
    sel = selectors.DefaultSelector()
    containers = {}
    for i in range(n):
        child = subprocess.Popen(["sleep", "86400"], stdin=subprocess.DEVNULL)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(os.path.join(sock_dir, f"c{i}.sock"))
        listener.listen(8)
        pidfd = os.pidfd_open(child.pid)
        sel.register(listener, selectors.EVENT_READ, ("request", i))
        sel.register(pidfd, selectors.EVENT_READ, ("exit", i))
        containers[i] = {"state": json.loads(json.dumps({"config": CONFIG, "index": i})), "init": child,
                         "sock": listener, "pidfd": pidfd}
        if i == 0:
            gc.collect()
            print(json.dumps({"pid": os.getpid(), "at": 1}), flush=True)
            sys.stdin.readline()  # the measurer read PSS at N=1
    gc.collect()
    print(json.dumps({"pid": os.getpid(), "at": n}), flush=True)
    sys.stdin.read()
    for c in containers.values():
        c["init"].kill()  # our own children, by pid
        c["init"].wait()
    subprocess.run(["rm", "-rf", sock_dir], check=False)


def _mem(pid: int) -> tuple[int, int]:
    import psutil
    info = psutil.Process(pid).memory_full_info()
    return info.pss, info.uss


def _per(pids: list[int], n: int, extra: list[int] = ()) -> dict:
    mems = [_mem(p) for p in pids]
    extra_pss = sum(_mem(p)[0] for p in extra)
    return {"n": n, "pss_kib": (sum(m[0] for m in mems) + extra_pss) / n / 1024,
            "uss_kib": sum(m[1] for m in mems) / n / 1024, "parent_share_kib": extra_pss / n / 1024}


def measure(n: int) -> dict:
    import psutil  # noqa: F401 - a caller of the factory has these loaded
    import libcontainer.conformance.leaks  # noqa: F401
    from libcontainer.reference import LinuxFactory  # noqa: F401
    from libcontainer.reference import container, factory  # noqa: F401
    out = {"load": [os.getloadavg()]}
    sock_dir = tempfile.mkdtemp(prefix="lc-fork-")
    try:
        for name, freeze, collect in (("caller, no gc.collect", False, False), ("caller", False, True),
                                      ("caller+freeze", True, True)):
            os.makedirs(os.path.join(sock_dir, name))
            pids, w = fork_children(n, os.path.join(sock_dir, name), freeze, collect)
            out[name] = _per(pids, n)
            os.close(w)
            for pid in pids:
                os.waitpid(pid, 0)
        for name, flag in (("zygote", "--zygote"), ("zygote+freeze", "--zygote-freeze")):
            proc = subprocess.Popen([sys.executable, "-I", HERE, flag, "-n", str(n)], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
            pids = json.loads(proc.stdout.readline())
            out[name] = _per(pids, n, extra=[proc.pid])
            proc.stdin.close()
            proc.wait()
        proc = subprocess.Popen([sys.executable, "-I", HERE, "--supervisor", "-n", str(n)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        first = json.loads(proc.stdout.readline())
        at_one = _mem(first["pid"])[0]
        proc.stdin.write("\n")
        proc.stdin.flush()
        json.loads(proc.stdout.readline())
        at_n = _mem(first["pid"])[0]
        out["supervisor"] = {"n": n, "pss_kib": at_n / n / 1024, "pss_at_1_kib": at_one / 1024,
                             "marginal_kib": (at_n - at_one) / (n - 1) / 1024}
        proc.stdin.close()
        proc.wait()
    finally:
        subprocess.run(["rm", "-rf", sock_dir], check=False)
    out["load"].append(os.getloadavg())
    return out


def markdown(res: dict) -> str:
    lines = [f"## Monitor memory design options (prototype, N={res['caller']['n']} each; load "
             f"{res['load'][0][0]:.2f} before, {res['load'][1][0]:.2f} after)", "",
             "| option | PSS per container (KiB) | USS per container (KiB) | of which the parent's share |",
             "|---|---|---|---|"]
    for name in ("caller, no gc.collect", "caller", "caller+freeze", "zygote", "zygote+freeze"):
        r = res[name]
        lines.append(f"| {name} | {r['pss_kib']:.0f} | {r['uss_kib']:.0f} | {r['parent_share_kib']:.0f} |")
    s = res["supervisor"]
    lines.append(f"| supervisor (one process for all) | {s['pss_kib']:.0f} | marginal {s['marginal_kib']:.0f} "
                 f"| at N=1: {s['pss_at_1_kib']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=100)
    p.add_argument("--out", default="reports/bench")
    p.add_argument("--zygote", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--zygote-freeze", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--supervisor", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.zygote or args.zygote_freeze:
        zygote(args.n, freeze=args.zygote_freeze)
        return 0
    if args.supervisor:
        supervisor(args.n)
        return 0
    res = measure(args.n)
    import housekeeping  # bench/ is the script's directory; not needed by the zygote
    housekeeping.save(args.out, "forkmem.json", res)
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
