"""Scale: N idle reference containers alive at once, N = 50 ... 1000 (issue 15, deliver 3).

As root: ``.venv/bin/python bench/scale.py [--n 50,100,200,500,1000] [--out reports/bench]``.

For each N: the time to create N containers whose init is busybox ``sleep``, the PSS per
container (the root's one supervisor, divided by N, and the container's own processes,
bench/memory.py), the time to destroy them all;
then a check that nothing is left (no supervisor process whose cwd is under this run's
factory roots, no cgroup directory under this run's ``libcontainer/scale-<pid>`` parent, no state
directory). A least-squares line over N gives the slope per container of each cost (seconds per
container to start and to destroy, MiB PSS per container), plotted against N
(``OUT/scale.png``). The soft RLIMIT_NOFILE is raised to its hard limit first (the supervisor,
which inherits it, holds a socket per container). A failing N is recorded with where and why, and the
larger N are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import traceback

import housekeeping  # noqa: E402  (bench/ is the script's directory)
from housekeeping import leftovers  # noqa: E402
from memory import reference_idle  # noqa: E402


def slope(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares (slope, intercept) of ys against xs."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    return k, my - k * mx


def run(ns: list[int]) -> dict:
    from libcontainer.conformance.rootfs import build_busybox_rootfs

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = tempfile.mkdtemp(prefix="lc-scale-")
    parent = f"libcontainer/scale-{os.getpid()}"
    out = {"rlimit_nofile": [hard, hard], "pid_max": int(open("/proc/sys/kernel/pid_max").read()), "rows": []}
    try:
        rootfs = build_busybox_rootfs(os.path.join(work, "rootfs"))
        for n in ns:
            row = {"n": n, "load_before": os.getloadavg()}
            print(f"scale N={n} (load {row['load_before'][0]:.2f})", file=sys.stderr, flush=True)
            try:
                got = reference_idle(n, rootfs, work, parent)
                got.pop("monitor_pids")
                row.update(got)
            except Exception as e:  # noqa: BLE001 - a failing N is a finding, recorded
                row["error"] = f"{type(e).__name__}: {e}"
                row["where"] = traceback.format_exc(limit=-4)
            row["load_after"] = os.getloadavg()
            row["left"] = leftovers(work, parent)
            row["fds_after"] = len(os.listdir("/proc/self/fd"))
            out["rows"].append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "where"}), file=sys.stderr, flush=True)
            if "error" in row:
                break
    finally:
        housekeeping.remove_cgroup_parent(parent, wait=10.0)
        out["left_at_end"] = leftovers(work, parent)
        shutil.rmtree(work, ignore_errors=True)
    ok = [r for r in out["rows"] if "error" not in r]
    if len(ok) >= 2:
        ns_ok = [r["n"] for r in ok]
        out["slopes"] = {
            "start_s_per_container": slope(ns_ok, [r["start_all_s"] for r in ok])[0],
            "destroy_s_per_container": slope(ns_ok, [r["destroy_all_s"] for r in ok])[0],
            "pss_mib_per_container": slope(ns_ok, [(r["monitor_pss_kib"] + r["container_pss_kib"]) * r["n"] / 1024
                                                   for r in ok])[0],
        }
    return out


def plot(result: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in result["rows"] if "error" not in r]
    ns = [r["n"] for r in ok]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    series = [(axes[0], "start all", [r["start_all_s"] for r in ok], "o", 1000, "ms"),
              (axes[0], "destroy all", [r["destroy_all_s"] for r in ok], "x", 1000, "ms"),
              (axes[1], "PSS of all containers",
               [(r["monitor_pss_kib"] + r["container_pss_kib"]) * r["n"] / 1024 for r in ok], "o", 1, "MiB")]
    for ax, label, ys, mark, scale, unit in series:
        k, b = slope(ns, ys)
        ax.plot(ns, ys, mark, label=label)
        ax.plot(ns, [k * x + b for x in ns], "-", lw=0.8, label=f"{label} fit: {k * scale:.2f} {unit} per container")
    axes[0].set_ylabel("s")
    axes[1].set_ylabel("MiB")
    axes[0].set_title("time against N (reference)")
    axes[1].set_title("memory against N (supervisor share + container PSS)")
    for ax in axes:
        ax.set_xlabel("N idle containers alive at once")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def markdown(result: dict) -> str:
    lines = ["## Scale: N idle reference containers (busybox `sleep`)", "",
             "| N | load before / after | start all (s) | ms each | destroy all (s) | PSS supervisor per container (KiB) "
             "| PSS container (KiB) | left behind |", "|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        left = ", ".join(f"{len(v)} {k}" for k, v in r["left"].items() if v) or "nothing"
        if "error" in r:
            lines.append(f"| {r['n']} | {r['load_before'][0]:.2f} / {r['load_after'][0]:.2f} | FAILED: "
                         f"{r['error']} | | | | | {left} |")
            continue
        lines.append(f"| {r['n']} | {r['load_before'][0]:.2f} / {r['load_after'][0]:.2f} | {r['start_all_s']:.1f} | "
                     f"{r['start_all_s'] / r['n'] * 1000:.1f} | {r['destroy_all_s']:.1f} | "
                     f"{r['monitor_pss_kib']:.0f} | {r['container_pss_kib']:.0f} | {left} |")
    s = result.get("slopes")
    if s:
        lines += ["", f"Least-squares slopes over N: start {s['start_s_per_container'] * 1000:.1f} ms per container, "
                  f"destroy {s['destroy_s_per_container'] * 1000:.1f} ms per container, "
                  f"PSS {s['pss_mib_per_container']:.2f} MiB per container."]
    lines.append(f"Left at the end: {result['left_at_end']}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", default="50,100,200,500,1000")
    p.add_argument("--out", default="reports/bench")
    args = p.parse_args(argv)
    if not housekeeping.require_root():
        return 2
    result = run([int(n) for n in args.n.split(",") if n])
    housekeeping.save(args.out, "scale.json", result)
    if sum("error" not in r for r in result["rows"]) >= 2:
        plot(result, os.path.join(args.out, "scale.png"))
    print(markdown(result))
    return 0 if not any(result["left_at_end"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
