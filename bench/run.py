"""Benchmarks: the reference beside runc and crun, all through the same Factory interface.

One command (as root, after ``./ci/setup.sh`` and ``.venv/bin/pip install -e '.[bench]'``)::

    .venv/bin/python bench/run.py [--runs 50] [--scale 50,100,200] [--runtimes reference,runc,crun] [--out reports/bench]

Latency, ``--runs`` times each (median and spread: interquartile range, min, max):

* ``lifecycle``: ``create`` a container whose init is ``true``, ``wait()``, ``destroy()``;
* ``exec``: ``start_process(true)`` into a running container, then ``wait_process`` to its exit;
* ``pause_resume``: ``pause()`` then ``resume()``;
* ``stats``: ``stats()`` (crun: NotSupported, shown as n/a).

Scale, for each N of ``--scale``: N idle containers (``sleep``) alive at once:
time to create them all, memory per container, time to destroy them all.
Memory is PSS (``/proc/PID/smaps_rollup`` via psutil's ``memory_full_info().pss``)
summed over every host process kept per container, in two parts: the
container's own processes (its cgroup's pids: init) and the keeper process
outside the container (the reference's monitor; for runc and crun, which
keep none themselves, the adapter's monitor, reported apart because it is
not part of the runtime).

Then, in the same run (issue 15): the reference beside the peers' bare command lines
(bench/bare.py, ``--bare-runs``) and the PSS per idle container of the reference's monitor beside
podman's conmon (bench/memory.py, ``--memory-n``; says so when podman is absent).

Writes ``OUT/bench.json``, ``OUT/bench.md`` (tables) and ``OUT/bench.png``
(plot), and prints last the ratios: (a) through the interface, reference/crun and
reference/runc; (b) against the bare command lines, with the issue's targets, met or not; the
load average (``uptime``) at the start and end of each part.
Benchmarks are not tests: CI does not run them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import psutil

import bare  # noqa: E402  (bench/ is the script's directory)
import memory  # noqa: E402

from libcontainer.conformance import leaks
from libcontainer.conformance.rootfs import build_busybox_rootfs
from libcontainer.conformance.runtimes import resolve
from libcontainer.spec import Config, NotSupported, Process

OPS = ("lifecycle", "exec", "pause_resume", "stats")


def summary(samples: list[float]) -> dict:
    """Median and spread of ``samples`` (seconds) in milliseconds."""
    if not samples:
        return {"n": 0}
    ms = sorted(s * 1000 for s in samples)
    q = statistics.quantiles(ms, n=4) if len(ms) >= 2 else [ms[0]] * 3
    return {"n": len(ms), "median_ms": statistics.median(ms), "q1_ms": q[0], "q3_ms": q[2],
            "min_ms": ms[0], "max_ms": ms[-1]}


class Bench:
    def __init__(self, runtime: str, rootfs: str, workdir: str):
        self.runtime = runtime
        self.root = os.path.join(workdir, f"root-{runtime}")
        self.parent = f"libcontainer/bench-{os.getpid()}-{runtime}"
        self.factory = resolve(runtime)(self.root)
        self.rootfs = rootfs
        self.n = 0

    def config(self, args: list[str]) -> Config:
        return Config(rootfs=self.rootfs, process=Process(args=args), hostname="bench", cgroup_parent=self.parent)

    def next_id(self) -> str:
        self.n += 1
        return f"b{self.n}"

    # -- latency ---------------------------------------------------------
    def lifecycle(self, runs: int) -> list[float]:
        out = []
        cfg = self.config(["true"])
        for _ in range(runs):
            t = time.perf_counter()
            c = self.factory.create(self.next_id(), cfg)
            status = c.wait()
            c.destroy()
            out.append(time.perf_counter() - t)
            assert status == 0, status
        return out

    def on_running(self, runs: int, op) -> list[float] | None:
        c = self.factory.create(self.next_id(), self.config(["sleep", "86400"]))
        try:
            out = []
            for _ in range(runs):
                t = time.perf_counter()
                op(c)
                out.append(time.perf_counter() - t)
            return out
        except NotSupported:
            return None
        finally:
            c.destroy()

    @staticmethod
    def exec_true(c) -> None:
        pid = c.start_process(Process(args=["true"]))
        assert c.wait_process(pid) == 0

    @staticmethod
    def pause_resume(c) -> None:
        c.pause()
        c.resume()

    # -- scale -----------------------------------------------------------
    def scale(self, n: int) -> dict:
        cfg = self.config(["sleep", "86400"])
        containers = []
        t = time.perf_counter()
        try:
            for _ in range(n):
                containers.append(self.factory.create(self.next_id(), cfg))
            start_all = time.perf_counter() - t
            inside, keeper = self.pss(containers)
        finally:
            t = time.perf_counter()
            for c in containers:
                c.destroy()
            destroy_all = time.perf_counter() - t
        return {"n": n, "start_all_s": start_all, "destroy_all_s": destroy_all,
                "pss_container_kib": inside / n / 1024, "pss_keeper_kib": keeper / n / 1024,
                "start_each_ms": start_all / n * 1000, "destroy_each_ms": destroy_all / n * 1000}

    def pss(self, containers) -> tuple[int, int]:
        """Summed PSS in bytes of (the containers' own processes, their keeper processes)."""
        inside = keeper = 0
        for c in containers:
            for pid in c.processes():
                inside += _pss(pid)
            monitor = getattr(c, "_state", {}).get("monitor_pid")
            if monitor:
                keeper += _pss(monitor)
        return inside, keeper

    def cleanup(self) -> None:
        for name in os.listdir(self.root) if os.path.isdir(self.root) else []:
            try:
                self.factory.load(name).destroy()
            except Exception:  # noqa: BLE001 - best effort after a failed run
                pass
        leaks.clean(self.root, self.parent)
        for top in leaks.cgroup_dirs(self.parent):
            try:
                os.rmdir(top)
            except OSError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


def _pss(pid: int) -> int:
    try:
        return psutil.Process(pid).memory_full_info().pss
    except psutil.Error:
        return 0


def run(args) -> dict:
    workdir = tempfile.mkdtemp(prefix="lc-bench-")
    rootfs = build_busybox_rootfs(os.path.join(workdir, "rootfs"))
    results = {"host": {"kernel": platform.release(), "cpus": os.cpu_count(), "python": platform.python_version(),
                        "loadavg_start": os.getloadavg()[0]},
               "runs": args.runs, "latency": {}, "scale": {}}
    benches = {rt: Bench(rt, rootfs, workdir) for rt in args.runtimes}
    try:
        # latency: interleave runtimes per operation, so a noisy neighbour hurts all alike
        for op in OPS:
            for rt, b in benches.items():
                print(f"[{rt}] {op} x{args.runs}", file=sys.stderr, flush=True)
                if op == "lifecycle":
                    samples = b.lifecycle(args.runs)
                elif op == "exec":
                    samples = b.on_running(args.runs, Bench.exec_true)
                elif op == "pause_resume":
                    samples = b.on_running(args.runs, Bench.pause_resume)
                else:
                    samples = b.on_running(args.runs, lambda c: c.stats())
                results["latency"].setdefault(rt, {})[op] = summary(samples) if samples is not None \
                    else {"n": 0, "not_supported": True}
        for n in args.scale:
            for rt, b in benches.items():
                print(f"[{rt}] scale N={n}", file=sys.stderr, flush=True)
                results["scale"].setdefault(rt, []).append(b.scale(n))
    finally:
        for b in benches.values():
            b.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    results["host"]["loadavg_end"] = os.getloadavg()[0]
    return results


# -- output --------------------------------------------------------------------

def _cell(s: dict) -> str:
    if s.get("not_supported"):
        return "n/a (NotSupported)"
    if not s.get("n"):
        return "-"
    return f"{s['median_ms']:.2f} ({s['q1_ms']:.2f}-{s['q3_ms']:.2f})"


def markdown(results: dict) -> str:
    rts = list(results["latency"])
    h = results["host"]
    lines = [f"# Benchmarks: reference, runc, crun", "",
             f"Linux {h['kernel']}, {h['cpus']} CPUs, Python {h['python']}, load average {h['loadavg_start']:.1f} "
             f"at start and {h['loadavg_end']:.1f} at end; {results['runs']} runs each; "
             "all through the same `libcontainer.spec.Factory` interface (runc and crun through the adapter "
             "`libcontainer.conformance.oci`).", "",
             "## Latency (ms): median (interquartile range)", "",
             "| operation | " + " | ".join(rts) + " |", "|---|" + "---|" * len(rts)]
    for op in OPS:
        lines.append(f"| {op} | " + " | ".join(_cell(results["latency"][rt].get(op, {})) for rt in rts) + " |")
    lines += ["", "Spread (min-max, ms):", "",
              "| operation | " + " | ".join(rts) + " |", "|---|" + "---|" * len(rts)]
    for op in OPS:
        row = []
        for rt in rts:
            s = results["latency"][rt].get(op, {})
            row.append(f"{s['min_ms']:.2f}-{s['max_ms']:.2f}" if s.get("n") else "-")
        lines.append(f"| {op} | " + " | ".join(row) + " |")
    if results["scale"]:
        lines += ["", "## Scale: N idle containers", "",
                  "| runtime | N | start all (s) | per container (ms) | destroy all (s) | PSS container (KiB) "
                  "| PSS keeper (KiB) | PSS total (KiB) |", "|---|---|---|---|---|---|---|---|"]
        for rt, rows in results["scale"].items():
            for r in rows:
                lines.append(f"| {rt} | {r['n']} | {r['start_all_s']:.2f} | {r['start_each_ms']:.1f} | "
                             f"{r['destroy_all_s']:.2f} | {r['pss_container_kib']:.0f} | {r['pss_keeper_kib']:.0f} | "
                             f"{r['pss_container_kib'] + r['pss_keeper_kib']:.0f} |")
        lines += ["", "PSS keeper: the reference's monitor; for runc and crun the adapter's monitor "
                  "(runc and crun themselves keep no process per container)."]
    if results.get("bare"):
        lines += ["", bare.markdown(results["bare"])]
    if results.get("memory"):
        lines += ["", memory.markdown(results["memory"])]
    lines += ["", "## Ratios", "", "(a) through the interface (runc and crun through the adapter):", "",
              *[f"- {r}" for r in ratios(results)]]
    if results.get("bare"):
        lines += ["", "(b) against the bare command lines, issue 15 targets:", "",
                  *[f"- {name}: {'n/a' if v is None else f'{v:.2f}'} (bound {bound}): {verdict}"
                    for name, v, bound, verdict in bare.verdicts(results["bare"])]]
    lines += ["", f"Load: {results['uptime_start']} at start; {results['uptime_end']} at end."]
    return "\n".join(lines) + "\n"


def ratios(results: dict) -> list[str]:
    out = []
    lat = results["latency"]
    if "reference" not in lat:
        return out
    for peer in ("crun", "runc"):
        if peer not in lat:
            continue
        parts = []
        for op in OPS:
            a, b = lat["reference"].get(op, {}), lat[peer].get(op, {})
            if a.get("n") and b.get("n"):
                parts.append(f"{op} {a['median_ms'] / b['median_ms']:.2f}")
            else:
                parts.append(f"{op} n/a")
        for ref_row, peer_row in zip(results["scale"].get("reference", []), results["scale"].get(peer, [])):
            parts.append(f"start-all N={ref_row['n']} {ref_row['start_all_s'] / peer_row['start_all_s']:.2f}")
            parts.append(f"destroy-all N={ref_row['n']} {ref_row['destroy_all_s'] / peer_row['destroy_all_s']:.2f}")
        out.append(f"reference/{peer}: " + ", ".join(parts))
    return out


def plot(results: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rts = list(results["latency"])
    scale = results["scale"]
    ncols = 3 if scale else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6 * ncols, 4.5), squeeze=False)
    ax = axes[0][0]
    width = 0.8 / len(rts)
    for i, rt in enumerate(rts):
        med, lo, hi = [], [], []
        for op in OPS:
            s = results["latency"][rt].get(op, {})
            m = s.get("median_ms", 0.0) if s.get("n") else 0.0
            med.append(m)
            lo.append(m - s["q1_ms"] if s.get("n") else 0)
            hi.append(s["q3_ms"] - m if s.get("n") else 0)
        xs = [j + i * width for j in range(len(OPS))]
        ax.bar(xs, med, width, yerr=[lo, hi], capsize=3, label=rt)
    ax.set_xticks([j + width * (len(rts) - 1) / 2 for j in range(len(OPS))], OPS)
    ax.set_yscale("log")
    ax.set_ylabel("ms (median, IQR bars; log)")
    ax.set_title(f"latency, {results['runs']} runs")
    ax.legend()
    if scale:
        for rt, rows in scale.items():
            ns = [r["n"] for r in rows]
            axes[0][1].plot(ns, [r["start_all_s"] for r in rows], "o-", label=f"{rt} start all")
            axes[0][1].plot(ns, [r["destroy_all_s"] for r in rows], "x--", label=f"{rt} destroy all")
            axes[0][2].plot(ns, [(r["pss_container_kib"] + r["pss_keeper_kib"]) / 1024 for r in rows], "o-",
                            label=f"{rt} total")
            axes[0][2].plot(ns, [r["pss_container_kib"] / 1024 for r in rows], "x--", label=f"{rt} container only")
        axes[0][1].set_xlabel("N idle containers")
        axes[0][1].set_ylabel("s")
        axes[0][1].set_title("start / destroy all")
        axes[0][1].legend(fontsize=7)
        axes[0][2].set_xlabel("N idle containers")
        axes[0][2].set_ylabel("MiB PSS per container")
        axes[0][2].set_title("memory per container")
        axes[0][2].axhline(2.0, color="grey", lw=0.8, ls=":")
        axes[0][2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=50, help="samples per latency measurement (default 50)")
    p.add_argument("--scale", default="50,100,200", help="comma-separated N for the scale test ('' to skip)")
    p.add_argument("--runtimes", default="reference,runc,crun")
    p.add_argument("--bare-runs", type=int, default=30, help="rounds against the bare CLIs (0 to skip)")
    p.add_argument("--memory-n", type=int, default=20, help="idle containers for reference vs conmon (0 to skip)")
    p.add_argument("--out", default="reports/bench")
    args = p.parse_args(argv)
    args.scale = [int(n) for n in args.scale.split(",") if n.strip()]
    args.runtimes = [r for r in args.runtimes.split(",") if r]
    if os.geteuid() != 0:
        print("benchmarks create containers: run as root", file=sys.stderr)
        return 2
    uptime = _uptime()
    results = run(args)
    if args.bare_runs:
        print(f"bare command lines x{args.bare_runs}", file=sys.stderr, flush=True)
        results["bare"] = bare.measure(args.bare_runs)
    if args.memory_n:
        print(f"memory per idle container, N={args.memory_n}", file=sys.stderr, flush=True)
        results["memory"] = memory.measure(args.memory_n)
    results["uptime_start"], results["uptime_end"] = uptime, _uptime()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "bench.json"), "w") as f:
        json.dump(results, f, indent=1)
    md = markdown(results)
    with open(os.path.join(args.out, "bench.md"), "w") as f:
        f.write(md)
    plot(results, os.path.join(args.out, "bench.png"))
    print(f"wrote {args.out}/bench.md, bench.json, bench.png")
    print(md)
    return 0


def _uptime() -> str:
    """``uptime``'s line (the load averages over 1, 5, 15 minutes)."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
