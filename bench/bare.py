"""The reference beside the peers' bare command lines (issue 15, deliver 2 and 4), in one run.

As root (``.venv/bin/python bench/bare.py [--runs 30] [--out reports/bench]``), or called by
``bench/run.py``. Per round, in turn (so all see the same load):

* reference (``LinuxFactory`` directly): ``create`` of ``true`` + ``wait`` + ``destroy``;
  ``start_process(true)`` + ``wait_process`` into a running container; ``pause`` + ``resume``; ``stats``;
* ``runc run`` of ``/bin/true`` in a ``runc spec`` bundle; ``runc exec ID true``, ``runc pause`` +
  ``runc resume``, ``runc events --stats ID`` on a container started with ``runc run -d`` (``sleep``);
* crun, the same, each command inside the hybrid-host wrapper of host-facts.md (``unshare -m`` +
  an empty file bound over ``/sys/fs/cgroup/unified/cgroup.controllers``); the wrapper alone
  (``wrapper true``) is timed in the same rounds and its median subtracted, once per wrapped command
  (crun 1.8.1 has no ``events``: its stats are n/a).

Every number is a median in milliseconds. :func:`verdicts` sets the issue's targets beside the
measured ratios and says met or not. Leaves nothing behind: the containers are deleted, the cgroups
under ``libcontainer/bare-<pid>`` removed, the temporary dirs too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import housekeeping  # noqa: E402  (bench/ is the script's directory)

UNIFIED_CONTROLLERS = "/sys/fs/cgroup/unified/cgroup.controllers"
OPS = ("lifecycle", "exec", "pause_resume", "stats")
# issue 15 deliver 2: (name, what it compares, reference op, peer key, factor, or None for an absolute bound in ms)
TARGETS = (
    ("lifecycle <= 0.7x crun run (minus wrapper)", "lifecycle", "crun net lifecycle", 0.7),
    ("lifecycle <= 0.4x runc run", "lifecycle", "runc lifecycle", 0.4),
    ("start_process to exit <= crun exec (minus wrapper)", "exec", "crun net exec", 1.0),
    ("pause+resume ~0.6 ms (<= 0.6)", "pause_resume", None, 0.6),
    ("stats ~0.5 ms (<= 0.5)", "stats", None, 0.5),
)


def bundle(top: str, name: str, rootfs: str, args: list[str], cgroups_path: str) -> str:
    bundle = os.path.join(top, name)
    os.makedirs(bundle)
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    with open(os.path.join(bundle, "config.json")) as f:
        spec = json.load(f)
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    spec["root"] = {"path": rootfs, "readonly": True}
    spec["linux"]["cgroupsPath"] = cgroups_path
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    return bundle


def crun_wrapper(top: str) -> list[str]:
    """The command prefix that runs crun 1.8 on this hybrid host (host-facts.md): a private mount
    namespace where an empty file (made under ``top``) covers cgroup2's ``cgroup.controllers``."""
    empty = os.path.join(top, "empty")
    open(empty, "w").close()
    return ["unshare", "-m", "--propagation", "private", "sh", "-c",
            f"[ -e {UNIFIED_CONTROLLERS} ] && mount --bind {empty} {UNIFIED_CONTROLLERS}; exec \"$@\"", "sh"]


class Peers:
    """The peers' command lines on two bundles (``true`` and ``sleep``) under ``top``."""

    def __init__(self, top: str, rootfs: str, parent: str):
        self.top = top
        self.runc, self.crun = shutil.which("runc"), shutil.which("crun")
        self.true_bundle = bundle(top, "true", rootfs, ["/bin/true"], f"/{parent}/run")
        self.sleep_bundle = bundle(top, "sleep", rootfs, ["/bin/sleep", "86400"], f"/{parent}/long")
        self.wrap = crun_wrapper(top)
        self.n = 0
        self.long: dict[str, str] = {}

    def cmd(self, runtime: str, *args: str) -> list[str]:
        binary = self.runc if runtime == "runc" else self.crun
        line = [binary, "--root", os.path.join(self.top, f"{runtime}-root"), *args]
        return self.wrap + line if runtime == "crun" else line

    @staticmethod
    def timed(cmd: list[str]) -> float:
        t = time.perf_counter()
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
        return time.perf_counter() - t

    def start_long(self, runtime: str) -> None:
        cid = f"long-{runtime}"
        subprocess.run(self.cmd(runtime, "run", "-d", "--bundle", self.sleep_bundle, cid), stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        self.long[runtime] = cid

    def round(self, runtime: str) -> dict[str, float]:
        self.n += 1
        out = {"lifecycle": self.timed(self.cmd(runtime, "run", "--bundle", self.true_bundle, f"r{self.n}"))}
        cid = self.long[runtime]
        out["exec"] = self.timed(self.cmd(runtime, "exec", cid, "/bin/true"))
        out["pause_resume"] = self.timed(self.cmd(runtime, "pause", cid)) + self.timed(self.cmd(runtime, "resume", cid))
        if runtime == "runc":
            out["stats"] = self.timed(self.cmd(runtime, "events", "--stats", cid))
        return out

    def wrapper(self) -> float:
        return self.timed(self.wrap + ["true"])

    def close(self) -> None:
        for runtime, cid in self.long.items():
            subprocess.run(self.cmd(runtime, "delete", "-f", cid), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Reference:
    """The reference's four operations, through ``LinuxFactory`` directly."""

    def __init__(self, top: str, rootfs: str, parent: str):
        from libcontainer.reference import LinuxFactory
        from libcontainer.spec import Config, Process
        self.process = Process
        self.factory = LinuxFactory(os.path.join(top, "ref-root"))
        self.true = Config(rootfs=rootfs, process=Process(args=["true"]), cgroup_parent=parent, readonly_rootfs=True)
        self.long = self.factory.create("long", Config(rootfs=rootfs, process=Process(args=["sleep", "86400"]),
                                                       cgroup_parent=parent, readonly_rootfs=True))
        self.n = 0

    def round(self) -> dict[str, float]:
        self.n += 1
        t = time.perf_counter()
        c = self.factory.create(f"r{self.n}", self.true)
        status = c.wait()
        c.destroy()
        out = {"lifecycle": time.perf_counter() - t}
        assert status == 0, status
        t = time.perf_counter()
        pid = self.long.start_process(self.process(args=["true"]))
        assert self.long.wait_process(pid) == 0
        out["exec"] = time.perf_counter() - t
        t = time.perf_counter()
        self.long.pause()
        self.long.resume()
        out["pause_resume"] = time.perf_counter() - t
        t = time.perf_counter()
        self.long.stats()
        out["stats"] = time.perf_counter() - t
        return out

    def close(self) -> None:
        self.long.destroy()


def _median_ms(values: list[float]) -> float | None:
    return statistics.median(values) * 1000 if values else None


def measure(runs: int, rootfs: str | None = None) -> dict:
    """Medians (ms) of ``runs`` interleaved rounds: {"reference": {op}, "runc": {op}, "crun": {op},
    "wrapper": ms, "crun net": {op}, "load": [1-min load average before, after]}."""
    from libcontainer.conformance.rootfs import build_busybox_rootfs

    top = tempfile.mkdtemp(prefix="lc-bare-")
    parent = f"libcontainer/bare-{os.getpid()}"
    samples: dict[str, dict[str, list[float]]] = {"reference": {}, "runc": {}, "crun": {}}
    wrapper: list[float] = []
    load = [os.getloadavg()[0]]
    ref = peers = None
    try:
        rootfs = rootfs or build_busybox_rootfs(os.path.join(top, "rootfs"))
        ref = Reference(top, rootfs, parent)
        peers = Peers(top, rootfs, parent)
        runtimes = [rt for rt in ("runc", "crun") if getattr(peers, rt)]
        for rt in runtimes:
            peers.start_long(rt)
        for _ in range(runs):
            for rt, got in [("reference", ref.round())] + [(rt, peers.round(rt)) for rt in runtimes]:
                for op, value in got.items():
                    samples[rt].setdefault(op, []).append(value)
            if "crun" in runtimes:
                wrapper.append(peers.wrapper())
    finally:
        housekeeping.end_run(parent, top, peers and peers.close, ref and ref.close)
    load.append(os.getloadavg()[0])
    out = {rt: {op: _median_ms(v) for op, v in ops.items()} for rt, ops in samples.items()}
    out["wrapper"] = _median_ms(wrapper)
    if out["wrapper"] is not None:
        wrapped = {"lifecycle": 1, "exec": 1, "pause_resume": 2}  # wrapper runs per operation
        out["crun net"] = {op: out["crun"][op] - k * out["wrapper"] for op, k in wrapped.items() if op in out["crun"]}
    out["load"] = load
    out["runs"] = runs
    return out


def verdicts(bare: dict) -> list[tuple[str, float | None, float | None, str]]:
    """(target, measured ratio or ms, the bound, "met"/"NOT met"/"n/a") per target of issue 15."""
    rows = []
    for name, op, peer, bound in TARGETS:
        mine = bare["reference"].get(op)
        if peer is None:
            value = mine
        else:
            group, _, peer_op = peer.rpartition(" ")
            theirs = bare.get(group, {}).get(peer_op)
            value = mine / theirs if mine is not None and theirs else None
        verdict = "n/a" if value is None else ("met" if value <= bound else "NOT met")
        rows.append((name, value, bound, verdict))
    return rows


def markdown(bare: dict) -> str:
    def cell(v):
        return "n/a" if v is None else f"{v:.2f}"
    lines = [f"## Against the peers' bare command lines ({bare['runs']} interleaved rounds, median ms, "
             f"load average {bare['load'][0]:.2f} before, {bare['load'][1]:.2f} after)", "",
             "| operation | reference | runc | crun (in wrapper) | crun net of wrapper |", "|---|---|---|---|---|"]
    for op in OPS:
        lines.append(f"| {op} | {cell(bare['reference'].get(op))} | {cell(bare['runc'].get(op))} | "
                     f"{cell(bare['crun'].get(op))} | {cell(bare.get('crun net', {}).get(op))} |")
    lines += ["", f"The crun wrapper alone (`unshare -m` + bind mount + exec true): {cell(bare['wrapper'])} ms, "
              "subtracted once per wrapped command (twice for pause + resume). crun 1.8.1 has no `events`: "
              "its stats are n/a.", "", "### Issue 15 targets (bare command lines)", "",
              "| target | measured | bound | verdict |", "|---|---|---|---|"]
    for name, value, bound, verdict in verdicts(bare):
        lines.append(f"| {name} | {cell(value)} | {bound} | {verdict} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--out", default="reports/bench")
    args = p.parse_args(argv)
    if not housekeeping.require_root():
        return 2
    bare = measure(args.runs)
    housekeeping.save(args.out, "bare.json", bare)
    print(markdown(bare))
    return 0


if __name__ == "__main__":
    sys.exit(main())
