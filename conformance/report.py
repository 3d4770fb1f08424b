"""The clause-by-implementation matrix: records, runs, merging, Markdown (and HTML, :mod:`.htmlreport`).

A report file (``--clause-report PATH.json``) is a JSON list of records, one
per clause of one run::

    {clause, title, runtime, kernel, cgroup, outcome, tests,
     by_outcome: {outcome: [node ids]}, messages: {node id: first line},
     run: {runtime, runtime_version, suite_version, spec_version, kernel, cgroup,
           exitstatus, collected, ran, outcome_counts}}

``outcome`` is the clause's outcome (:mod:`.outcomes`: passed only when every
test of the clause passed). ``run`` is the header of the pytest run that made
the record; a run whose ``exitstatus`` is not 0 (or that crashed:
:func:`crashed_run`) never reads green: its column is marked in the Markdown
and the HTML, whatever its clauses say. ``python -m
libcontainer.conformance.report OUT.json IN.json...`` merges the reports of
several runs (runtimes, VMs) into one, with the Markdown and the HTML beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import sys

from .outcomes import CRASHED, OUTCOMES, combine

_CLAUSE_RE = re.compile(r"\*\*(LC-[A-Z0-9]+(?:-[A-Z]+[0-9]*)*-\d+)\*\*\s*[:.—-]?\s*(.*)")


def spec_path() -> str:
    import libcontainer.spec
    return os.path.join(os.path.dirname(libcontainer.spec.__file__), "SPEC.md")


def clause_titles(path: str | None = None) -> dict[str, str]:
    """Clause ID -> title (its first sentence), read from SPEC.md."""
    titles: dict[str, str] = {}
    try:
        with open(path or spec_path()) as f:
            for line in f:
                m = _CLAUSE_RE.search(line)
                if m and m.group(1) not in titles:
                    titles[m.group(1)] = m.group(2).split(". ")[0].strip().rstrip(".")
    except FileNotFoundError:
        pass
    return titles


def cgroup_mode() -> str:
    """v2 (pure unified), hybrid (v1 controllers plus a cgroup2 mount), v1, or none (no cgroup mount)."""
    types = {}
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3 and fields[2] in ("cgroup", "cgroup2"):
                types.setdefault(fields[2], fields[1])
    if not types:
        return "none"
    if "cgroup" not in types:
        return "v2"
    return "hybrid" if "cgroup2" in types else "v1"


def kernel() -> str:
    return platform.release()


def suite_version() -> str:
    """The installed ``libcontainer`` distribution's version (the suite's)."""
    try:
        from importlib.metadata import version
        return version("libcontainer")
    except Exception:  # noqa: BLE001 - not installed (run from a source tree)
        return "unknown"


def spec_version(path: str | None = None) -> str:
    """SPEC.md's version: ``sha256:`` and the first 12 hex digits of its text (it carries no number)."""
    try:
        with open(path or spec_path(), "rb") as f:
            return "sha256:" + hashlib.sha256(f.read()).hexdigest()[:12]
    except FileNotFoundError:
        return "missing"


def run_header(runtime: str, runtime_version: str, exitstatus: int | None, collected: int, ran: int,
               counts: dict | None = None) -> dict:
    """The header of one run, carried in each of its records (``run``)."""
    return {"runtime": runtime, "runtime_version": runtime_version, "suite_version": suite_version(),
            "spec_version": spec_version(), "kernel": kernel(), "cgroup": cgroup_mode(),
            "exitstatus": exitstatus, "collected": collected, "ran": ran, "outcome_counts": counts or {}}


def crashed_run(runtime: str, kernel_label: str, cgroup: str, status, error: str) -> list[dict]:
    """The record of a run that left no clause report (a VM that crashed, a killed run): its column shows it."""
    run = {"runtime": runtime, "runtime_version": "unknown", "suite_version": suite_version(),
           "spec_version": spec_version(), "kernel": kernel_label, "cgroup": cgroup,
           "exitstatus": status, "collected": 0, "ran": 0, "error": error}
    return [{"clause": "", "title": "", "runtime": runtime, "kernel": kernel_label, "cgroup": cgroup,
             "outcome": CRASHED, "tests": [], "by_outcome": {}, "messages": {}, "run": run}]


def empty_run(run: dict) -> list[dict]:
    """The record of a run that judged no clause (nothing collected, or only unmarked tests)."""
    return [{"clause": "", "title": "", "runtime": run["runtime"], "kernel": run["kernel"], "cgroup": run["cgroup"],
             "outcome": "skipped", "tests": [], "by_outcome": {}, "messages": {}, "run": run}]


def version_label(run: dict) -> str:
    """``runc 1.1.5`` style: the runtime's name and probed version, the name once."""
    name, version = str(run.get("runtime")), str(run.get("runtime_version", "?"))
    return version if version.startswith(name) else f"{name} {version}"


def run_ok(run: dict | None) -> bool:
    """True for a run that finished with exit status 0 (a record without a header is from an older report)."""
    return run is None or (run.get("exitstatus") == 0 and not run.get("error"))


def column(r: dict) -> tuple[str, str, str]:
    return (r["runtime"], r["kernel"], r["cgroup"])


def merge(records: list[dict]) -> list[dict]:
    """One record per (clause, runtime, kernel, cgroup), outcomes combined (worst first), tests united.

    The run headers of a column are carried into every record of that column
    (``runs``, a list), so a column with one failed run shows it in every cell.
    """
    runs: dict[tuple, list[dict]] = {}
    for r in records:
        for run in ([r["run"]] if r.get("run") else []) + list(r.get("runs", [])):
            bucket = runs.setdefault(column(r), [])
            if run not in bucket:
                bucket.append(run)
    by_key: dict[tuple, dict] = {}
    for r in records:
        key = (r["clause"], *column(r))
        by = {o: list(t) for o, t in (r.get("by_outcome") or {r["outcome"]: r.get("tests", [])}).items()}
        if key in by_key:
            old = by_key[key]
            old["outcome"] = combine([old["outcome"], r["outcome"]]) if CRASHED not in (old["outcome"], r["outcome"]) \
                else CRASHED
            old["tests"] = sorted(set(old["tests"]) | set(r.get("tests", [])))
            for o, tests in by.items():
                old["by_outcome"][o] = sorted(set(old["by_outcome"].get(o, [])) | set(tests))
            old["messages"].update(r.get("messages") or {})
        else:
            new = {k: v for k, v in r.items() if k not in ("run", "runs")}
            new.update(tests=sorted(set(r.get("tests", []))), by_outcome={o: sorted(set(t)) for o, t in by.items()},
                       messages=dict(r.get("messages") or {}))
            by_key[key] = new
    for rec in by_key.values():
        rec["runs"] = runs.get(column(rec), [])
    return sorted(by_key.values(), key=lambda r: (r["clause"], *column(r)))


def column_runs(records: list[dict]) -> dict[tuple, list[dict]]:
    """Column -> the run headers of the (merged) records in it."""
    out: dict[tuple, list[dict]] = {}
    for r in records:
        bucket = out.setdefault(column(r), [])
        for run in r.get("runs", []) + ([r["run"]] if r.get("run") else []):
            if run not in bucket:
                bucket.append(run)
    return out


def run_status(runs: list[dict]) -> str:
    """``ok``, or what went wrong with the runs of a column: ``exit 1, 190 tests ran`` / ``crashed: ...``."""
    bad = [r for r in runs if not run_ok(r)]
    if not bad:
        return "ok"
    parts = []
    for r in bad:
        if r.get("error"):
            parts.append(f"crashed ({r.get('exitstatus')}): {r['error']}")
        else:
            parts.append(f"exit {r.get('exitstatus')}, {r.get('ran', 0)} of {r.get('collected', 0)} tests ran")
    return "RUN FAILED: " + "; ".join(parts)


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(records: list[dict]) -> str:
    """A header of versions and run status per column, then a table: one row per clause, one column per
    runtime @ kernel (cgroup); a column whose run failed shows ``(run failed)`` in every cell."""
    cols = sorted({column(r) for r in records})
    runs = column_runs(records)
    clauses = sorted({r["clause"] for r in records if r["clause"]})
    cell = {(r["clause"], *column(r)): r["outcome"] for r in records}
    titles = {r["clause"]: r.get("title", "") for r in records}
    lines = ["# Clause matrix", ""]
    for col in cols:
        rs = runs.get(col, [])
        versions = sorted({version_label(r) for r in rs}) or ["?"]
        suite = sorted({f"suite {r.get('suite_version', '?')}, SPEC.md {r.get('spec_version', '?')}" for r in rs})
        lines.append(f"- **{col[0]} @ {col[1]} ({col[2]})**: {', '.join(versions)}; {'; '.join(suite) or '?'}; "
                     f"kernel {col[1]}, cgroup {col[2]}; {run_status(rs)}")
    lines.append("")
    head = ["clause", "title"] + [f"{rt} @ {k} ({cg})" for rt, k, cg in cols]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    bad = {col for col in cols if run_status(runs.get(col, [])) != "ok"}
    for c in clauses:
        row = [c, _md(titles.get(c, ""))]
        for col in cols:
            o = cell.get((c, *col), "-")
            row.append(f"{o} (run failed)" if col in bad and o != "-" else o)
        lines.append("| " + " | ".join(row) + " |")
    totals = []
    for col in cols:
        outs = [cell.get((c, *col)) for c in clauses]
        text = ", ".join(f"{outs.count(o)} {o}" for o in OUTCOMES if outs.count(o)) or "no clauses"
        totals.append(text + (f" ({run_status(runs.get(col, []))})" if col in bad else ""))
    lines.append("| total | | " + " | ".join(totals) + " |")
    return "\n".join(lines) + "\n"


def load(path: str) -> list[dict]:
    """The records of a report file."""
    with open(path) as f:
        return json.load(f)


def write(path: str, records: list[dict]) -> None:
    """Write ``path`` (JSON), the Markdown table (``.md``) and the HTML matrix (``.html``) beside it."""
    from . import htmlreport
    records = merge(records)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(records, f, indent=1)
    base = os.path.splitext(path)[0]
    with open(base + ".md", "w") as f:
        f.write(markdown(records))
    with open(base + ".html", "w") as f:
        f.write(htmlreport.render(records, spec_href=htmlreport.spec_href_for(base + ".html", spec_path())))


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: python -m libcontainer.conformance.report OUT.json IN.json...", file=sys.stderr)
        return 2
    records = []
    for path in argv[2:]:
        records.extend(load(path))
    write(argv[1], records)
    print(markdown(merge(records)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
