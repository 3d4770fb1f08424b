"""Memory kept per idle container: the reference's supervisor beside podman's conmon (issue 15, deliver 1).

As root: ``.venv/bin/python bench/memory.py [-n 20] [--out reports/bench]``. Both start ``n`` idle
containers (busybox ``sleep``) on the same rootfs and read PSS (``/proc/PID/smaps_rollup``, psutil's
``memory_full_info().pss``) while all are alive:

* reference: ``LinuxFactory.create``; the keeper is the one supervisor of the factory root
  (``monitor_pid`` of each ``state.json``: the same process for all), its PSS divided by N, in
  both start modes: forked from this process (``fork``, the default: pages shared with this
  process count half) and a fresh ``python -I`` (``exec``: nothing shared with the caller, what
  it costs once the caller has exited); its USS (private pages) is given too;
* podman (when installed): ``podman --runtime runc run -d`` of an image imported from the rootfs
  (host-facts.md: crun, podman's default, fails on this hybrid host); the keeper is ``conmon``
  (``podman inspect``'s ``ConmonPid``), summed and divided the same way. When podman is absent
  it says so and measures nothing for it.

Afterwards it removes the podman containers and image it made and the ``libpod_parent`` cgroups
podman left, when they are empty and did not exist before.
"""

from __future__ import annotations

import argparse
import gc
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import psutil

import housekeeping  # noqa: E402  (bench/ is the script's directory)
from housekeeping import CGROUP_ROOT  # noqa: E402


def pss(pid: int) -> int:
    """PSS of ``pid`` in bytes; 0 when it is gone."""
    try:
        return psutil.Process(pid).memory_full_info().pss
    except psutil.Error:
        return 0


def private_dirty(pid: int) -> dict[str, int]:
    """Private_Dirty KiB of ``pid`` per mapping (file basename, ``[heap]``, ``[stack]``, ``[anon]``),
    from /proc/PID/smaps (proc(5)): the pages this process copied for itself."""
    out: dict[str, int] = {}
    name = "[anon]"
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                parts = line.split()
                if parts and "-" in parts[0] and not parts[0].endswith(":"):
                    name = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
                elif parts and parts[0] == "Private_Dirty:":
                    out[name] = out.get(name, 0) + int(parts[1])
    except OSError:
        return {}
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def monitor_pid(factory, container_id: str) -> int:
    """The monitor pid recorded in the container's ``state.json``."""
    with open(os.path.join(factory.state_dir(container_id), "state.json")) as f:
        return json.load(f)["monitor_pid"]


def reference_idle(n: int, rootfs: str, work: str, parent: str, mode: str = "fork") -> dict:
    """Start ``n`` idle reference containers, measure, destroy: PSS per container (KiB) of the
    supervisor(s) (each distinct keeper once) and of the containers' own processes, the supervisor's
    USS, with the times to start and destroy all (s). ``mode``: the supervisor's start mode."""
    from libcontainer.reference import LinuxFactory
    from libcontainer.spec import Config, Process

    factory = LinuxFactory(os.path.join(work, f"ref-{n}-{mode}"), monitor=mode)
    cfg = Config(rootfs=rootfs, process=Process(args=["sleep", "86400"]), cgroup_parent=parent, readonly_rootfs=True)
    containers = []
    out = {"n": n, "mode": mode}
    t = time.perf_counter()
    try:
        for i in range(n):
            containers.append(factory.create(f"idle{i}", cfg))
        out["start_all_s"] = time.perf_counter() - t
        gc.collect()
        keepers = sorted({monitor_pid(factory, c.id) for c in containers})
        out["keepers"] = len(keepers)
        out["monitor_pss_kib"] = sum(pss(pid) for pid in keepers) / n / 1024
        out["supervisor_pss_kib"] = sum(pss(pid) for pid in keepers) / 1024
        out["supervisor_uss_kib"] = sum(psutil.Process(pid).memory_full_info().uss for pid in keepers) / 1024
        out["container_pss_kib"] = sum(pss(pid) for c in containers for pid in c.processes()) / n / 1024
        out["monitor_pids"] = keepers
        out["monitor_private_dirty_kib"] = private_dirty(keepers[0])
        out["caller_fds"] = len(os.listdir("/proc/self/fd"))  # while all are alive
    finally:
        t = time.perf_counter()
        for c in containers:
            c.destroy()
        out["destroy_all_s"] = time.perf_counter() - t
    return out


def _libpod_cgroups() -> set[str]:
    return set(glob.glob(os.path.join(CGROUP_ROOT, "*", "libpod_parent")))


def conmon_idle(n: int, rootfs: str, work: str) -> dict:
    """Start ``n`` idle podman containers (runtime runc), measure conmon's PSS per container (KiB),
    remove them. {"absent": reason} when podman is not installed."""
    podman = shutil.which("podman")
    if podman is None:
        return {"absent": "podman is not installed (apt-get install -y podman): conmon not measured"}
    tag = f"localhost/lc-bench:{os.getpid()}"
    names = [f"lc-bench-{os.getpid()}-{i}" for i in range(n)]
    before = _libpod_cgroups()
    tar = os.path.join(work, "rootfs.tar")
    subprocess.run(["tar", "-C", rootfs, "-cf", tar, "."], check=True)
    subprocess.run([podman, "import", tar, tag], check=True, stdout=subprocess.DEVNULL)
    out = {"n": n, "version": subprocess.run([podman, "--version"], capture_output=True, text=True).stdout.strip()}
    try:
        t = time.perf_counter()
        for name in names:
            subprocess.run([podman, "--runtime", shutil.which("runc"), "run", "-d", "--network", "none",
                            "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096", "--name", name, tag,
                            "sleep", "86400"], check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        out["start_all_s"] = time.perf_counter() - t
        pids = [int(subprocess.run([podman, "inspect", "--format", "{{.State.ConmonPid}}", name], check=True,
                                   capture_output=True, text=True).stdout) for name in names]
        out["conmon_pss_kib"] = sum(pss(pid) for pid in pids) / n / 1024
        out["conmon_rss_kib"] = sum(psutil.Process(pid).memory_info().rss for pid in pids) / n / 1024
    finally:
        subprocess.run([podman, "rm", "-f", "-t", "0", *names], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([podman, "rmi", "-f", tag], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for top in _libpod_cgroups() - before:
            housekeeping.rmdir_empty(top, wait=10.0)
        out["libpod_parent_left"] = sorted(p for p in _libpod_cgroups() - before if os.path.exists(p))
    return out


def measure(n: int) -> dict:
    from libcontainer.conformance.rootfs import build_busybox_rootfs

    work = tempfile.mkdtemp(prefix="lc-mem-")
    parent = f"libcontainer/mem-{os.getpid()}"
    load = [os.getloadavg()]
    try:
        rootfs = build_busybox_rootfs(os.path.join(work, "rootfs"))
        ref = reference_idle(n, rootfs, work, parent)
        ref.pop("monitor_pids")
        exec_mode = reference_idle(n, rootfs, work, parent, mode="exec")
        exec_mode.pop("monitor_pids")
        podman = conmon_idle(n, rootfs, work)
    finally:
        housekeeping.remove_cgroup_parent(parent)
        shutil.rmtree(work, ignore_errors=True)
    load.append(os.getloadavg())
    return {"reference": ref, "reference_exec": exec_mode, "podman": podman, "load": load}


def markdown(mem: dict) -> str:
    ref, pod = mem["reference"], mem["podman"]
    lines = [f"## Memory per idle container (N={ref['n']}, PSS KiB; load {mem['load'][0][0]:.2f} before, "
             f"{mem['load'][1][0]:.2f} after)", "",
             f"- reference, one supervisor forked from the caller ({ref['keepers']} process for {ref['n']}): "
             f"{ref['monitor_pss_kib']:.0f} KiB per container (supervisor PSS {ref['supervisor_pss_kib']:.0f}, "
             f"USS {ref['supervisor_uss_kib']:.0f} KiB; the container's own `sleep`: {ref['container_pss_kib']:.0f} KiB)",
             f"- reference, the supervisor a fresh `python -I` (exec mode): "
             f"{mem['reference_exec']['monitor_pss_kib']:.0f} KiB per container (supervisor PSS "
             f"{mem['reference_exec']['supervisor_pss_kib']:.0f} KiB)",
             "- where the supervisor's private (copied) pages are, Private_Dirty KiB: " + ", ".join(
                 f"{k} {v}" for k, v in list(ref["monitor_private_dirty_kib"].items())[:5])]
    if "absent" in pod:
        lines.append(f"- conmon: not measured: {pod['absent']}")
    else:
        ratio = max(ref["monitor_pss_kib"], mem["reference_exec"]["monitor_pss_kib"]) / pod["conmon_pss_kib"]
        lines += [f"- conmon ({pod['version']}, runtime runc): {pod['conmon_pss_kib']:.0f} KiB PSS "
                  f"({pod['conmon_rss_kib']:.0f} KiB RSS) per container",
                  f"- target: keeper PSS per container (the larger of both modes) <= conmon's: {ratio:.2f}x, "
                  f"{'met' if ratio <= 1 else 'NOT met'}"]
        if pod["libpod_parent_left"]:
            lines.append(f"- podman's libpod_parent cgroups left (not empty): {pod['libpod_parent_left']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=20, help="idle containers of each (default 20)")
    p.add_argument("--out", default="reports/bench")
    args = p.parse_args(argv)
    if not housekeeping.require_root():
        return 2
    mem = measure(args.n)
    housekeeping.save(args.out, "memory.json", mem)
    print(markdown(mem))
    return 0


if __name__ == "__main__":
    sys.exit(main())
