"""Issue 12, "the state table in code": SPEC.md's transition table and ``libcontainer.spec.transitions.TABLE``
must say the same, and a cell changed on one side only is caught, by name, by the comparison the
meta-test (spec/tests/test_spec_meta.py) asserts empty. No container, no root: the tables are copied
and edited in memory or in a temporary copy of SPEC.md."""

from __future__ import annotations

import dataclasses

import pytest

from libcontainer.conformance.report import spec_path
from libcontainer.spec import ContainerNotRunning, ContainerPaused, Status
from libcontainer.spec.tests.spec_table import cell_texts, table_mismatches
from libcontainer.spec.transitions import TABLE


def spec_with_cell(state: str, operation: str, new_text: str) -> str:
    """SPEC.md's text with the transition table's cell (state, operation) replaced by ``new_text``."""
    lines = open(spec_path()).read().splitlines(keepends=True)
    header = next(i for i, line in enumerate(lines) if line.startswith("| operation |"))
    column = [c.strip() for c in lines[header].strip().strip("|").split("|")].index(state)
    row = next(i for i in range(header, len(lines)) if lines[i].startswith(f"| {operation} |"))
    cells = lines[row].rstrip("\n").strip("|").split("|")
    cells[column] = f" {new_text} "
    lines[row] = "|" + "|".join(cells) + "|\n"
    return "".join(lines)


def facts_named(mismatches: list[str], state: str, operation: str) -> set[str]:
    """The facts the mismatch lines name for the cell; fails if a line names another cell."""
    prefix = f"{state} × {operation}: "
    assert all(line.startswith(prefix) for line in mismatches), mismatches
    return {line[len(prefix):].split(":")[0] for line in mismatches}


def test_spec_md_and_the_code_agree():
    assert len(cell_texts()) == len(TABLE) == 72  # 6 states x 12 operations
    assert table_mismatches(cell_texts(), TABLE) == []


# (state, operation, the changed Outcome fields, the facts the mismatch must name)
CODE_FLIPS = [
    (Status.PAUSED, "pause", {"noop": False, "error": ContainerPaused}, {"error", "noop"}),
    (Status.STOPPED, "start_process", {"error": ContainerPaused}, {"error"}),
    (Status.RUNNING, "resume", {"noop": False, "to": Status.PAUSED}, {"noop", "to"}),
    (Status.PAUSING, "resume", {"extension": False}, {"extension"}),
    (Status.DESTROYED, "status", {"clauses": ("LC-STATUS-01",)}, {"clauses"}),
]


@pytest.mark.parametrize("state, operation, changes, facts", CODE_FLIPS,
                         ids=[f"{s.name}-{op}" for s, op, _c, _f in CODE_FLIPS])
def test_a_cell_changed_in_the_code_only_is_named(state, operation, changes, facts):
    edited = dict(TABLE)
    edited[(state, operation)] = dataclasses.replace(TABLE[(state, operation)], **changes)
    got = table_mismatches(cell_texts(), edited)
    assert got, f"{state.name} × {operation} changed in the code only, and the comparison found nothing"
    assert facts_named(got, state.name, operation) == facts, got
    assert table_mismatches(cell_texts(), TABLE) == []  # the real table was not touched


def test_the_message_says_both_readings():
    edited = dict(TABLE)
    edited[(Status.PAUSED, "pause")] = dataclasses.replace(TABLE[(Status.PAUSED, "pause")], noop=False,
                                                           error=ContainerPaused)
    assert table_mismatches(cell_texts(), edited) == [
        "PAUSED × pause: error: SPEC.md says None, the code says 'ContainerPaused'",
        "PAUSED × pause: noop: SPEC.md says True, the code says False"]


# (state, operation, the cell's new text in SPEC.md, the facts the mismatch must name)
SPEC_EDITS = [
    ("PAUSED", "pause", "ContainerPaused (LC-PAUSE-03)", {"error", "noop"}),
    ("STOPPED", "signal", "no-op (LC-SIGNAL-04)", {"error", "noop", "extension"}),
    ("RUNNING", "destroy", "→ STOPPED (LC-DESTROY-01)", {"to"}),
    ("DESTROYED", "wait", "ContainerDestroyed (LC-WAIT-04)", {"clauses"}),
]


@pytest.mark.parametrize("state, operation, text, facts", SPEC_EDITS, ids=[f"{s}-{op}" for s, op, _t, _f in SPEC_EDITS])
def test_a_cell_changed_in_spec_md_only_is_named(tmp_path, state, operation, text, facts):
    edited = tmp_path / "SPEC.md"
    edited.write_text(spec_with_cell(state, operation, text))
    assert cell_texts(str(edited))[(state, operation)] == text
    got = table_mismatches(cell_texts(str(edited)), TABLE)
    assert got, f"{state} × {operation} changed in SPEC.md only, and the comparison found nothing"
    assert facts_named(got, state, operation) == facts, got


def test_the_same_change_on_both_sides_passes(tmp_path):
    """Changing a cell is one edit in the code plus the same in SPEC.md (pause on STOPPED made a no-op)."""
    edited = tmp_path / "SPEC.md"
    edited.write_text(spec_with_cell("STOPPED", "pause", "no-op (LC-PAUSE-05)"))
    table = dict(TABLE)
    table[(Status.STOPPED, "pause")] = dataclasses.replace(TABLE[(Status.STOPPED, "pause")], error=None,
                                                           extension=False, noop=True)
    assert TABLE[(Status.STOPPED, "pause")].error is ContainerNotRunning
    assert table_mismatches(cell_texts(str(edited)), table) == []
    assert table_mismatches(cell_texts(str(edited)), TABLE) != []


def test_a_row_missing_from_spec_md_is_named(tmp_path):
    text = open(spec_path()).read()
    row = next(line for line in text.splitlines(keepends=True) if line.startswith("| wait_process |"))
    edited = tmp_path / "SPEC.md"
    edited.write_text(text.replace(row, ""))
    got = table_mismatches(cell_texts(str(edited)), TABLE)
    assert sorted(got) == sorted(f"{s.name} × wait_process: only in the code" for s in Status)
