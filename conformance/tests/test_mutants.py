"""The suite tests itself: every mutant of conformance/mutants.py is caught by the clauses that
should catch it (issue 3, item 8). Each mutant runs the few spec tests that show its fault in a
pytest subprocess; the clause report of that run must mark the mutant's clauses failed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from libcontainer.conformance.mutants import MUTANTS

pytestmark = pytest.mark.root  # containers (conformance/rootmark.py)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught(name, tmp_path):
    clauses, module, selection = MUTANTS[name]
    report = tmp_path / "clauses.json"
    cmd = [sys.executable, "-m", "pytest", "--pyargs", f"libcontainer.spec.tests.{module}", "-p", "no:cacheprovider",
           "-p", "no:randomly", "-q", "-x", "--runtime", f"libcontainer.conformance.mutants:{name}",
           "-k", selection, "--clause-report", str(report), "--basetemp", str(tmp_path / "run")]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert run.returncode == 1, f"the suite did not fail against {name} (rc {run.returncode}):\n{run.stdout[-3000:]}"
    outcomes = {r["clause"]: r["outcome"] for r in json.loads(report.read_text())}
    for clause in clauses:
        assert outcomes.get(clause) == "failed", f"{name}: {clause} is {outcomes.get(clause)}, not failed"
