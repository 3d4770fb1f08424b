"""Merge run folders (a local run's, or each shard's) into one matrix: ``python -m libcontainer.vm merge``.

Every :func:`libcontainer.vm.runner.run_matrix` writes ``OUT/shard.json``: the clause reports it produced
(paths relative to OUT), the per-VM summary and the cells of the matrix it covered. :func:`merge_dirs` reads
those of any number of folders (a local run is one folder; a sharded CI run downloads one per shard) and
writes ``matrix.json`` and ``matrix.md`` (:mod:`libcontainer.conformance.report`: clause x runtime x kernel
x cgroup mode), a cell table appended to ``matrix.md`` (each kernel and cgroup mode with what ran there,
failed, or cannot boot, and why) and ``vm/summary.json``. A local run and its shards merged give the same
matrix.json (vm/tests checks it).
"""

from __future__ import annotations

import json
import os

from libcontainer.conformance import report

from . import matrix

MANIFEST = "shard.json"


def cell_rows(vms, runtimes: list[str], host_runtimes: list[str]) -> list[dict]:
    """The cells a run covers: one per VM of the matrix (booted or not) and the host, with their runtimes."""
    rows = [{"name": "host", "package": "-", "cgroup": "host's", "runtimes": list(host_runtimes),
             "cannot_boot": ""}] if host_runtimes else []
    for vm in vms:
        labels = runtimes.get(vm.name, []) if isinstance(runtimes, dict) else runtimes
        names = [matrix.split_part(label)[0] for label in labels]  # the parts of a runtime's suite: one runtime
        rows.append({"name": vm.name, "package": vm.package, "cgroup": vm.cgroup,
                     "runtimes": sorted(set(names), key=names.index), "cannot_boot": vm.cannot_boot})
    return rows


def write_manifest(out: str, reports: list[str], summary: dict, cells: list[dict], shard: str = "") -> None:
    data = {"shard": shard, "reports": [os.path.relpath(p, out) for p in reports], "summary": summary,
            "cells": cells}
    with open(os.path.join(out, MANIFEST), "w") as f:
        json.dump(data, f, indent=1)


def _cell_table(cells: dict[str, dict], summary: dict[str, dict]) -> str:
    lines = ["", "## Cells: kernel x cgroup mode", "",
             "| cell | kernel package | cgroup | runtimes | status |", "|---|---|---|---|---|"]
    for name, c in cells.items():
        runs = [s for s in summary.values() if s.get("vm") == name]
        errors = [s["error"] for s in runs if s.get("error")]
        if c["cannot_boot"]:
            status = f"cannot boot: {c['cannot_boot']}"
        elif name == "host":
            status = "ran on the host"
        elif not runs:
            status = "not run"
        elif errors:
            status = f"FAILED: {errors[0]}"
        else:
            worst = max((s.get("status") or 0) for s in runs)
            total = sum(s.get("timings", {}).get("total", 0) for s in runs)
            status = f"suite status {worst}, {total:.0f} s" + (f" in {len(runs)} boots" if len(runs) > 1 else "")
        lines.append(f"| {name} | {c['package']} | {c['cgroup']} | {', '.join(c['runtimes']) or '-'} | {status} |")
    return "\n".join(lines) + "\n"


def merge_dirs(dirs: list[str], out: str, extra_reports: list[str] = ()) -> tuple[int, list[dict]]:
    """Merge the run folders ``dirs`` (each with a ``shard.json``) and ``extra_reports`` (clause report paths)
    into ``out``. Returns (status, merged records): status 1 when a folder or report is missing or unreadable,
    or a VM failed or its suite did, else 0."""
    rc, records, summary, cells = 0, [], {}, {}
    paths = list(extra_reports)
    for d in dirs:
        try:
            with open(os.path.join(d, MANIFEST)) as f:
                man = json.load(f)
        except (OSError, ValueError) as e:  # absent, not a folder, unreadable, not JSON
            print(f"[merge] {d}: no readable {MANIFEST}: {e}", flush=True)
            rc = 1
            continue
        paths += [os.path.join(d, p) for p in man["reports"]]
        for name, s in man["summary"].items():
            key = name if name not in summary else f"{name} ({man.get('shard') or d})"
            summary[key] = {**s, "vm": name}
            if s.get("error") or s.get("status") != 0:
                rc = 1
        for c in man["cells"]:
            have = cells.setdefault(c["name"], {**c, "runtimes": []})
            have["runtimes"] = sorted(set(have["runtimes"]) | set(c["runtimes"]))
    for path in paths:
        try:
            with open(path) as f:
                records.extend(json.load(f))
        except (OSError, ValueError) as e:
            print(f"[merge] cannot read {path}: {e}", flush=True)
            rc = 1
    os.makedirs(os.path.join(out, "vm"), exist_ok=True)
    report.write(os.path.join(out, "matrix.json"), records)
    with open(os.path.join(out, "matrix.md"), "a") as f:
        f.write(_cell_table(cells, summary))
    if dirs != [out]:
        with open(os.path.join(out, "vm", "summary.json"), "w") as f:
            json.dump(summary, f, indent=1)
    merged = report.merge(records)
    return rc, merged
