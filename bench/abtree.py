"""Two source trees of the reference (before and after a change) beside the peers' bare command lines.

As root: ``.venv/bin/python bench/abtree.py BEFORE_TREE [AFTER_TREE] [--runs 30]``, where a tree is a
checkout of this repository (``git archive main | tar -x -C /tmp/before``); AFTER_TREE defaults to
this one; ``--before-python``/``--after-python`` run a tree's server under another venv's interpreter
(one tree under two interpreters: ``abtree.py . . --before-python .venv/bin/python --after-python
.venv-deb/bin/python``). Each tree's reference runs in a server process of its own (this script with ``--serve``,
its ``libcontainer`` imported from that tree), kept for the whole run; per round, in turn: one
round of :class:`bare.Reference` in each tree (lifecycle of ``true``, ``start_process(true)`` to its
exit, pause + resume, stats), then the peers' command lines (:class:`bare.Peers`: ``runc run``,
``runc exec``, ...; crun inside its hybrid-host wrapper, the wrapper timed alone and subtracted).
So every runtime sees the same load, and the before/after comparison is paired round by round.
Prints medians (ms), the after/before ratios (of the medians, and the median of the ratios of each
round's pair), the issue 15 targets for both trees (:func:`bare.verdicts`)
and the load average; ``--out`` also writes the raw samples as JSON. Leaves nothing behind.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import housekeeping  # noqa: E402  (bench/ is the script's directory)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def use_tree(tree: str) -> None:
    """Import ``libcontainer`` from ``tree``: the editable install's finder maps each package to a
    folder of this repository; point those folders into ``tree`` instead (before any import)."""
    import importlib
    for name in list(sys.modules):
        if name.startswith("__editable__") and name.endswith("_finder"):
            finder = sys.modules[name]
            break
    else:
        finder = next(importlib.import_module(n[:-4]) for n in os.listdir(os.path.dirname(os.__file__) + "/site-packages")
                      if n.startswith("__editable___libcontainer") and n.endswith("_finder.py"))
    finder.MAPPING.update({k: v.replace(REPO, tree, 1) for k, v in finder.MAPPING.items()})


def serve(tree: str, top: str, rootfs: str, parent: str) -> int:
    """A tree's server: one :class:`bare.Reference` round per line read on stdin, its times as a JSON line."""
    use_tree(tree)
    import bare
    import libcontainer.reference
    assert libcontainer.reference.__file__.startswith(tree), libcontainer.reference.__file__
    ref = bare.Reference(top, rootfs, parent)
    try:
        for line in sys.stdin:
            if line.strip() != "round":
                break
            print(json.dumps(ref.round()), flush=True)
    finally:
        ref.close()
    return 0


class Server:
    def __init__(self, tree: str, top: str, rootfs: str, parent: str, python: str = sys.executable):
        self.proc = subprocess.Popen([python, __file__, "--serve", tree, top, rootfs, parent],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def round(self) -> dict[str, float]:
        self.proc.stdin.write("round\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"a tree's server ended (exit {self.proc.wait()})")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def measure(trees: dict[str, str], runs: int, pythons: dict[str, str] | None = None) -> dict:
    import bare
    from libcontainer.conformance.rootfs import build_busybox_rootfs
    top = tempfile.mkdtemp(prefix="lc-ab-")
    parent = f"libcontainer/ab-{os.getpid()}"
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in (*trees, "runc", "crun", "wrapper")}
    load = [os.getloadavg()[0]]
    servers: dict[str, Server] = {}
    peers = None
    try:
        rootfs = build_busybox_rootfs(os.path.join(top, "rootfs"))
        for name, tree in trees.items():
            os.makedirs(os.path.join(top, name))
            servers[name] = Server(tree, os.path.join(top, name), rootfs, f"{parent}/{name}",
                                   (pythons or {}).get(name) or sys.executable)
        peers = bare.Peers(top, rootfs, f"{parent}/peers")
        runtimes = [rt for rt in ("runc", "crun") if getattr(peers, rt)]
        for rt in runtimes:
            peers.start_long(rt)
        for i in range(runs):
            order = list(servers.items()) if i % 2 == 0 else list(servers.items())[::-1]
            got = [(name, server.round()) for name, server in order] + [(rt, peers.round(rt)) for rt in runtimes]
            if "crun" in runtimes:
                got.append(("wrapper", {"alone": peers.wrapper()}))
            for name, ops in got:
                for op, value in ops.items():
                    samples[name].setdefault(op, []).append(value * 1000)
    finally:
        housekeeping.end_run(parent, top, *(server.close for server in servers.values()), peers and peers.close)
    load.append(os.getloadavg()[0])
    return {"samples": samples, "load": load, "runs": runs, "trees": trees, "pythons": pythons or {}}


def summary(result: dict) -> str:
    import bare
    s = result["samples"]
    med = {name: {op: statistics.median(v) for op, v in ops.items()} for name, ops in s.items() if ops}
    wrapper = med.get("wrapper", {}).get("alone")
    trees = list(result["trees"])
    pythons = ", ".join(f"{t}: {p}" for t, p in result.get("pythons", {}).items() if p)
    lines = [f"{result['runs']} rounds; 1-minute load {result['load'][0]:.2f} before, {result['load'][1]:.2f} after"
             + (f"; interpreters {pythons}" if pythons else ""),
             "", "| operation | " + " | ".join(trees) + " | runc | crun net | " + "/".join(trees[::-1]) + " |",
             "|---|" + "---|" * (len(trees) + 3)]
    wrapped = {"lifecycle": 1, "exec": 1, "pause_resume": 2}
    for op in bare.OPS:
        crun = med.get("crun", {}).get(op)
        net = crun - wrapped[op] * wrapper if crun is not None and wrapper is not None and op in wrapped else None
        cells = [med[t].get(op) for t in trees] + [med.get("runc", {}).get(op), net]
        ratio = cells[1] / cells[0] if len(trees) == 2 else None
        lines.append(f"| {op} | " + " | ".join("n/a" if c is None else f"{c:.2f}" for c in cells)
                     + f" | {'' if ratio is None else f'{ratio:.2f}'} |")
    if len(trees) == 2:
        paired = {op: statistics.median(a / b for a, b in zip(s[trees[1]][op], s[trees[0]][op]))
                  for op in bare.OPS if op in s[trees[1]] and op in s[trees[0]]}
        lines += ["", f"{trees[1]}/{trees[0]} paired round by round (median of the ratios): "
                  + ", ".join(f"{op} {r:.2f}" for op, r in paired.items())]
    lines.append("")
    for t in trees:
        bare_like = {"reference": med[t], "runc": med.get("runc", {}),
                     "crun net": {op: med["crun"][op] - k * wrapper for op, k in wrapped.items()
                                  if "crun" in med and wrapper is not None and op in med["crun"]}}
        for name, measured, target, verdict in bare.verdicts(bare_like):
            lines.append(f"{t}: {name}: measured {'n/a' if measured is None else f'{measured:.2f}'} -> {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--serve":
        return serve(*argv[1:5])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("before")
    p.add_argument("after", nargs="?", default=REPO)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--out", help="write the raw samples (ms) here as JSON")
    p.add_argument("--before-python", help="the interpreter of BEFORE_TREE's server (default: this one's); a venv's "
                   "python with this project installed editable (its finder is pointed at the tree)")
    p.add_argument("--after-python", help="the same for AFTER_TREE: one tree under two interpreters, paired")
    args = p.parse_args(argv)
    if not housekeeping.require_root():
        return 2
    result = measure({"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}, args.runs,
                     {"before": args.before_python, "after": args.after_python})
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f)
    print(summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
