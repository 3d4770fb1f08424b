"""The plugin's bookkeeping of one run: test outcomes by clause, set-up failures, the records of the report.

:func:`records` turns what :mod:`.plugin` collected (``state.results``: per
test its clauses, the outcomes of its phases, its first message, the set-up
clause it reported failed) into the records of :mod:`.report`.
"""

from __future__ import annotations

import collections
import os
import time

from . import outcomes, report


def reason(rep) -> str:
    """The one line that says why a test phase did not pass: a skip's reason, or the first ``E`` line."""
    if isinstance(rep.longrepr, tuple) and len(rep.longrepr) == 3:
        return str(rep.longrepr[2]).removeprefix("Skipped: ")
    text = rep.longreprtext or ""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    failed = [ln for ln in lines if ln.startswith("E ")]
    return (failed[0][1:].strip() if failed else (lines[-1] if lines else ""))[:300]


def first_setup_failure(config, st, clause: str, nodeid: str) -> str:
    """The test that reported set-up ``clause`` failed first in this run (all xdist workers: a file created
    with O_EXCL in the session's shared base temporary directory decides)."""
    if clause in st.setup_failed:
        return st.setup_failed[clause]
    first = nodeid
    try:
        base = config._tmp_path_factory.getbasetemp()
        shared = base.parent if hasattr(config, "workerinput") else base
        path = os.path.join(str(shared), f"lc-setup-failed-{clause}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "w") as f:
                f.write(nodeid)
        except FileExistsError:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # the other worker writes its node id right after creating
                with open(path) as f:
                    first = f.read() or first
                if first != nodeid:
                    break
                time.sleep(0.01)
    except (OSError, AttributeError):
        pass
    st.setup_failed[clause] = first
    return first


def run(st, exitstatus, collected: int | None = None) -> dict:
    """The run header (:func:`libcontainer.conformance.report.run_header`) of this session."""
    ran = len(st.results)
    counts = collections.Counter(outcomes.combine_phases(r["phases"]) for r in st.results.values())
    return report.run_header(st.runtime, st.runtime_version, int(exitstatus),
                             collected if collected is not None else ran, ran, dict(counts))


def records(st, exitstatus, collected: int | None = None) -> list[dict]:
    """One record per clause: its tests' outcomes combined; a set-up clause failed by the test that met it."""
    titles = report.clause_titles()
    per: dict[str, dict] = {}
    for nodeid, res in st.results.items():
        outcome = outcomes.combine_phases(res["phases"])
        entries = [(c, outcome) for c in res["clauses"]]
        if res["setup_failed"]:
            entries.append((res["setup_failed"], "failed"))
        for clause, o in entries:
            rec = per.setdefault(clause, {"by_outcome": {}, "messages": {}})
            rec["by_outcome"].setdefault(o, []).append(nodeid)
            if o != "passed" and res["message"]:
                rec["messages"][nodeid] = res["message"]
    header = run(st, exitstatus, collected)
    kernel, cgroup = report.kernel(), report.cgroup_mode()
    return [{"clause": c, "title": titles.get(c, ""), "runtime": st.runtime, "kernel": kernel, "cgroup": cgroup,
             "outcome": outcomes.combine(r["by_outcome"]),
             "tests": sorted({t for ts in r["by_outcome"].values() for t in ts}),
             "by_outcome": {o: sorted(set(ts)) for o, ts in r["by_outcome"].items()},
             "messages": r["messages"], "run": header}
            for c, r in sorted(per.items())]
