"""What a fork costs an interpreter, by what it has imported (issue 15, run 7 in RESULTS.md).

As root or not: ``.venv-deb/bin/python bench/forkcost.py MODE [--rounds 200] [--freeze]``, one MODE
per process (a module once imported stays): ``bare`` (nothing more than the interpreter's start-up),
``heap`` (bare plus 40,000 small dicts, about the supervisor's RSS: does size alone cost?),
``full`` (what a caller of the factory has: reference factory, container, supervisor, conformance,
psutil), or ``mod:NAME[,NAME...]`` (those modules imported). ``--freeze``: ``gc.freeze()`` first.
Per round: ``fork()``; the child writes one byte to a close-on-exec pipe as its first statement and
exec's ``/bin/true``; the parent times the return of ``fork`` in itself, the byte (the child's first
statement, after CPython's at-fork handlers) and the pipe's EOF (the exec). Prints the RSS, the page
tables' size (``VmPTE``, proc(5)), the module count and the three medians in ms. Run the modes in
turn, several times, to see past the load of a shared host.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import statistics
import sys
import time

FULL = ("libcontainer.reference.factory", "libcontainer.reference.container", "libcontainer.reference.supervisor",
        "libcontainer.conformance", "psutil")


def load(mode: str) -> list:
    """Import what ``mode`` names; return what must stay referenced (the ``heap`` mode's objects)."""
    if mode == "heap":
        return [{"k": str(i)} for i in range(40000)]
    names = FULL if mode == "full" else mode[4:].split(",") if mode.startswith("mod:") else ()
    if mode not in ("bare", "full") and not mode.startswith("mod:"):
        raise SystemExit(f"unknown mode {mode!r}")
    for name in names:
        importlib.import_module(name)
    return []


def measure(rounds: int) -> dict[str, float]:
    """Median ms of: fork's return in the parent, the child's first statement, its exec."""
    parent, first, execd = [], [], []
    for _ in range(rounds):
        r, w = os.pipe2(os.O_CLOEXEC)
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            try:
                os.write(w, b"x")
                os.execv("/bin/true", ["true"])
            finally:
                os._exit(127)
        parent.append(time.perf_counter() - t0)
        os.close(w)
        os.read(r, 1)
        first.append(time.perf_counter() - t0)
        os.read(r, 1)  # EOF: the exec closed the child's end
        execd.append(time.perf_counter() - t0)
        os.close(r)
        os.waitpid(pid, 0)
    return {name: statistics.median(v) * 1e3 for name, v in
            (("fork in parent", parent), ("fork to first statement", first), ("fork to exec", execd))}


def status() -> str:
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmPTE"):
                fields[key] = value.strip()
    return f"RSS {fields.get('VmRSS')}, PTE {fields.get('VmPTE')}, {len(sys.modules)} modules"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode")
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--freeze", action="store_true")
    args = p.parse_args()
    keep = load(args.mode)
    if args.freeze:
        gc.freeze()
    times = measure(args.rounds)
    print(f"{args.mode}{' +freeze' if args.freeze else ''}: {status()}; "
          + ", ".join(f"{k} {v:.3f}" for k, v in times.items()) + f" ms; load {os.getloadavg()[0]:.2f}")
    del keep


if __name__ == "__main__":
    main()
