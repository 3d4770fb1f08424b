"""Which tests must run in a guest: the kernel-dependent ones; the rest are ``host-only`` cells of the matrix.

A guest exists to show what another kernel or cgroup mode changes. A test
whose clauses only judge what the runtime decides before or without the
kernel (an id's or an argument's validation, the error a destroyed
container's calls raise, the state directory's bookkeeping) has the same
outcome on every kernel: it runs on the host, and in each guest cell its
clauses read ``host-only`` (:data:`libcontainer.conformance.outcomes.HOST_ONLY`),
never ``passed``.

The rule (:func:`kernel_dependent`), for one collected test:

1. a test without a clause marker runs in the guest (the reference's cgroup
   tests, and anything not yet classified);
2. a test using a fixture of :data:`KERNEL_FIXTURES` (cgroup drivers) runs
   in the guest;
3. a test with a clause not in :data:`HOST_ONLY_CLAUSES` runs in the guest;
4. a test function of :data:`KERNEL_TESTS` runs in the guest: its clauses
   are host-only ones, but what it does is the kernel's (an id that becomes a
   cgroup directory's name, a destroy from another process);
5. every other test runs on the host only, even when another test of the same
   clause runs in the guest (the clause is judged there by that test): the
   guest's cell of such a clause keeps the guest's outcome and lists the
   host-only tests beside it (:func:`fold`), per test.

:data:`HOST_ONLY_CLAUSES` is an explicit list; :func:`check` refuses any
clause of a kernel group (:data:`KERNEL_GROUPS`: config semantics,
namespaces, host faults, concurrency) or whose SPEC.md title names a kernel
mechanism (:data:`KERNEL_WORDS`: cgroups, the freezer, namespaces, mounts,
seccomp, ...), at import and in vm/tests.

As a pytest plugin (``-p libcontainer.vm.selection``, in the guest): with
``$LCVM_HOST_ONLY`` set to a path, deselects the host-only tests and writes
them there as JSON ``[{"nodeid": ..., "clauses": [...]}]``; the host then
folds them into the run's clause report (:func:`fold`). With ``$LCVM_PART``
``I/N`` too (a unit of the full matrix, ``runtime@I/N``), it keeps only every
N-th kernel-dependent test from the I-th: the N parts of one guest's column
merge into the whole column.
"""

from __future__ import annotations

import json
import os

import pytest

from libcontainer.conformance.outcomes import HOST_ONLY

# clause -> why its outcome does not depend on the kernel or the cgroup mode
HOST_ONLY_CLAUSES = {
    "LC-ID-01": "id syntax, checked before anything is made",
    "LC-ID-03": "load with an invalid id: refused before any read",
    "LC-IDENT-01": "the id accessor",
    "LC-CONFIG-01": "config() returns the config given",
    "LC-EXEC-05": "validate_process refuses the process before anything starts",
    "LC-GEN-03": "the exception classes a call may raise",
    "LC-GEN-04": "which error wins when several apply (argument checks first)",
    "LC-SIGNAL-06": "a signal number out of range is EINVAL before kill(2)",
    "LC-FACTORY-05": "load of an id with no state",
    "LC-DESTROY-02": "destroy of a destroyed container does nothing",
    "LC-EXEC-02": "a destroyed container's call raises ContainerDestroyed",
    "LC-PAUSE-02": "a destroyed container's call raises ContainerDestroyed",
    "LC-RESUME-02": "a destroyed container's call raises ContainerDestroyed",
    "LC-SIGNAL-02": "a destroyed container's call raises ContainerDestroyed",
    "LC-STATS-02": "a destroyed container's call raises ContainerDestroyed",
    "LC-STATUS-02": "a destroyed container's call raises ContainerDestroyed",
    "LC-WAIT-03": "a destroyed container's call raises ContainerDestroyed",
    "LC-WAITPROC-02": "a destroyed container's call raises ContainerDestroyed",
    "LC-PROCS-02": "a destroyed container's call raises ContainerDestroyed",
    "LC-GEN-02": "calls after another process destroyed the container raise ContainerDestroyed",
    "LC-FAULT-01": "a container object is bound to one lifetime of its id (state bookkeeping)",
    "LC-FAULT-09": "two valid ids are two containers (state bookkeeping)",
}

# test functions whose clauses are host-only ones but whose work is the kernel's: always in the guest
KERNEL_TESTS = {
    "test_ids_that_name_host_files_are_ordinary_ids": "ids named as v1 and v2 cgroup interface files become "
                                                      "cgroup directory names",
    "test_valid_ids_are_accepted": "a 1024-character id is a state and cgroup directory name past NAME_MAX",
    "test_long_id_and_its_hashed_name_do_not_collide": "long ids are hashed into directory names",
    "test_destroy_of_running_container_from_another_process": "destroys a running container: kill, cgroup removal",
}

# clause groups that judge what the kernel does: never host-only
KERNEL_GROUPS = ("LC-CFG-", "LC-NS-", "LC-HOST-", "LC-CONC-")
# words of a SPEC.md title that name a kernel mechanism: such a clause is never host-only
KERNEL_WORDS = ("cgroup", "freez", "frozen", "namespace", "mount", "seccomp", "capabilit", "rlimit", "sysctl",
                "device", "oom", "throttl", "terminal", "pseudo-terminal", "uid_map", "/proc")
# fixtures that drive cgroups directly (reference/tests): a test using one runs in the guest
KERNEL_FIXTURES = ("make_driver", "v2cg")


def kernel_reason(clause: str, title: str = "") -> str:
    """Why ``clause`` (with its SPEC.md ``title``) depends on the kernel, or "" when nothing says so."""
    if clause.startswith(KERNEL_GROUPS):
        return f"group {next(g for g in KERNEL_GROUPS if clause.startswith(g))}"
    low = title.lower()
    words = [w for w in KERNEL_WORDS if w in low]
    return f"its title names {', '.join(words)}" if words else ""


def check(titles: dict[str, str] | None = None) -> None:
    """Raise ValueError if a clause of :data:`HOST_ONLY_CLAUSES` is kernel-dependent by group or title, or is
    not in SPEC.md (``titles``: clause -> title, default SPEC.md's)."""
    from libcontainer.conformance import report
    titles = report.clause_titles() if titles is None else titles
    bad = {c: kernel_reason(c, titles.get(c, "")) for c in HOST_ONLY_CLAUSES}
    bad = {c: why for c, why in bad.items() if why}
    missing = sorted(c for c in HOST_ONLY_CLAUSES if titles and c not in titles)
    if bad or missing:
        raise ValueError(f"host-only clauses that are kernel-dependent: {bad}; not in SPEC.md: {missing}")


def kernel_dependent(clauses: list[str] | tuple[str, ...], fixtures=(), function: str = "") -> bool:
    """True when a test with these clause ids, fixture names and test ``function`` name must run in a guest
    (rules 1-4 above)."""
    if not clauses or any(f in KERNEL_FIXTURES for f in fixtures) or function in KERNEL_TESTS:
        return True
    return any(c not in HOST_ONLY_CLAUSES for c in clauses)


def guest_tests(tests: dict[str, tuple[list[str], list[str]]]) -> set[str]:
    """The node ids of ``tests`` (node id -> (clauses, fixtures)) that run in a guest (rules 1-5)."""
    return {n for n, (clauses, fixtures) in tests.items()
            if kernel_dependent(clauses, fixtures, n.split("::")[-1].split("[")[0])}


def fold(clause_report: str, host_only: str) -> int:
    """Add the tests listed in ``host_only`` to ``clause_report`` (a guest run's) as ``host-only`` records, in
    that run's column; returns how many clauses were added. Does nothing when either file is missing."""
    try:
        with open(host_only) as f:
            listed = json.load(f)
        with open(clause_report) as f:
            records = json.load(f)
    except FileNotFoundError:
        return 0
    from libcontainer.conformance import report
    if not records or not listed:
        return 0
    base = next((r for r in records if r.get("clause")), records[0])
    titles = report.clause_titles()
    have = {r["clause"]: r for r in records if r.get("clause")}
    per: dict[str, list[str]] = {}
    for t in listed:
        for c in t["clauses"]:
            per.setdefault(c, []).append(t["nodeid"])
    judged = {c for t in listed for c in t.get("judged_in_guest", ())}
    why = "run on the host only: kernel-independent (libcontainer.vm.selection)"
    added = 0
    for clause, ids in sorted(per.items()):
        if clause in have:  # judged here by a guest test: the host-only tests are listed beside its outcome
            rec = have[clause]
            rec["by_outcome"][HOST_ONLY] = sorted(set(rec["by_outcome"].get(HOST_ONLY, [])) | set(ids))
            rec["tests"] = sorted(set(rec.get("tests", [])) | set(ids))
            rec.setdefault("messages", {}).update({i: why for i in ids})
            continue
        if clause in judged:  # judged by a guest test of another part: that part lists them
            continue
        added += 1
        records.append({"clause": clause, "title": titles.get(clause, ""), "runtime": base["runtime"],
                        "kernel": base["kernel"], "cgroup": base["cgroup"], "outcome": HOST_ONLY,
                        "tests": sorted(ids), "by_outcome": {HOST_ONLY: sorted(ids)},
                        "messages": {i: why for i in ids}, "run": base.get("run")})
    if added:  # the placeholder of a run that judged no clause goes: this run now has clauses
        records = [r for r in records if r.get("clause")]
    with open(clause_report, "w") as f:
        json.dump(records, f, indent=1)
    return added


@pytest.hookimpl(trylast=True)  # after -k, -m and the plugin's clause selection: list only what was chosen
def pytest_collection_modifyitems(config, items):
    path = os.environ.get("LCVM_HOST_ONLY")
    if not path or hasattr(config, "workerinput"):
        return
    tests = {it.nodeid: ([c for m in it.iter_markers("clause") for c in m.args], list(getattr(it, "fixturenames", ())))
             for it in items}
    try:
        check()
    except ValueError as e:  # a SPEC.md edit made a listed clause kernel-dependent: run everything here
        print(f"libcontainer.vm.selection: every test runs in the guest: {e}", flush=True)
        return
    guest = guest_tests(tests)
    host_only = [it for it in items if it.nodeid not in guest]
    kept = [it for it in items if it.nodeid in guest]
    other_parts = []
    if os.environ.get("LCVM_PART"):  # "I/N": this unit runs every N-th kernel-dependent test from the I-th
        i, n = (int(x) for x in os.environ["LCVM_PART"].split("/"))
        other_parts = [it for k, it in enumerate(kept) if k % n != i - 1]
        kept = [it for k, it in enumerate(kept) if k % n == i - 1]
    items[:] = kept
    config.hook.pytest_deselected(items=host_only + other_parts)
    judged = {c for n in guest for c in tests[n][0]}  # over every part: the clauses a guest test judges
    with open(path, "w") as f:
        json.dump([{"nodeid": it.nodeid, "clauses": tests[it.nodeid][0],
                    "judged_in_guest": sorted(judged.intersection(tests[it.nodeid][0]))} for it in host_only],
                  f, indent=0)
