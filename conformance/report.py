"""The clause-by-implementation matrix: records, merging, Markdown.

A record is ``{clause, title, runtime, kernel, cgroup, outcome, tests}``;
outcome is passed, failed, skipped or xfailed. ``python -m
libcontainer.conformance.report OUT.json IN.json...`` merges the reports of
several runs (runtimes, VMs) into one, with a Markdown table beside it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys

OUTCOMES = ("failed", "passed", "xfailed", "skipped")  # worst first
SPEC_MD = os.path.join(os.path.dirname(__file__), "..", "spec", "SPEC.md")
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
    """v2 (pure unified), hybrid (v1 controllers plus a cgroup2 mount) or v1."""
    types = {}
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3 and fields[2] in ("cgroup", "cgroup2"):
                types.setdefault(fields[2], fields[1])
    if "cgroup" not in types:
        return "v2"
    return "hybrid" if "cgroup2" in types else "v1"


def kernel() -> str:
    return platform.release()


def combine(outcomes: list[str]) -> str:
    for o in OUTCOMES:
        if o in outcomes:
            return o
    return "skipped"


def merge(records: list[dict]) -> list[dict]:
    """One record per (clause, runtime, kernel, cgroup), the worst outcome winning."""
    by_key: dict[tuple, dict] = {}
    for r in records:
        key = (r["clause"], r["runtime"], r["kernel"], r["cgroup"])
        if key in by_key:
            old = by_key[key]
            old["outcome"] = combine([old["outcome"], r["outcome"]])
            old["tests"] = sorted(set(old["tests"]) | set(r["tests"]))
        else:
            by_key[key] = dict(r, tests=sorted(set(r["tests"])))
    return sorted(by_key.values(), key=lambda r: (r["clause"], r["runtime"], r["kernel"], r["cgroup"]))


def markdown(records: list[dict]) -> str:
    """A table: one row per clause, one column per runtime @ kernel (cgroup)."""
    cols = sorted({(r["runtime"], r["kernel"], r["cgroup"]) for r in records})
    clauses = sorted({r["clause"] for r in records})
    cell = {(r["clause"], r["runtime"], r["kernel"], r["cgroup"]): r["outcome"] for r in records}
    titles = {r["clause"]: r.get("title", "") for r in records}
    head = ["clause", "title"] + [f"{rt} @ {k} ({cg})" for rt, k, cg in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in clauses:
        row = [c, titles.get(c, "")] + [cell.get((c, *col), "-") for col in cols]
        lines.append("| " + " | ".join(row) + " |")
    totals = []
    for col in cols:
        outs = [cell.get((c, *col)) for c in clauses]
        totals.append(", ".join(f"{outs.count(o)} {o}" for o in OUTCOMES if outs.count(o)))
    lines.append("| total | | " + " | ".join(totals) + " |")
    return "\n".join(lines) + "\n"


def write(path: str, records: list[dict]) -> None:
    """Write ``path`` (JSON) and the Markdown table beside it (``.md``)."""
    records = merge(records)
    with open(path, "w") as f:
        json.dump(records, f, indent=1)
    with open(os.path.splitext(path)[0] + ".md", "w") as f:
        f.write(markdown(records))


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: python -m libcontainer.conformance.report OUT.json IN.json...", file=sys.stderr)
        return 2
    records = []
    for path in argv[2:]:
        with open(path) as f:
            records.extend(json.load(f))
    write(argv[1], records)
    print(markdown(merge(records)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
