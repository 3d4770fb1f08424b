"""The specification is whole: every SPEC.md clause has a test, every test names known clauses."""

import importlib
import pkgutil
import re

import pytest
from _pytest.mark.structures import ParameterSet

import libcontainer.spec.tests as spec_tests
from libcontainer.conformance.report import clause_titles


def _marked_clauses() -> dict[str, list[str]]:
    """Clause ID -> test names, read from the markers of every test module."""
    found: dict[str, list[str]] = {}
    for info in pkgutil.iter_modules(spec_tests.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"{spec_tests.__name__}.{info.name}")
        for name, fn in vars(module).items():
            if not name.startswith("test_") or not callable(fn):
                continue
            for mark in getattr(fn, "pytestmark", []):
                ids = list(mark.args) if mark.name == "clause" else []
                if mark.name == "parametrize":
                    for value in mark.args[1]:
                        if isinstance(value, ParameterSet):
                            ids += [c for m in value.marks if m.name == "clause" for c in m.args]
                for clause in ids:
                    found.setdefault(clause, []).append(f"{info.name}::{name}")
    return found


def test_every_clause_has_a_test():
    spec = set(clause_titles())
    assert spec, "SPEC.md has no clauses"
    untested = sorted(spec - set(_marked_clauses()))
    assert not untested, f"clauses without a test: {untested}"


def test_every_test_names_a_known_clause():
    spec = set(clause_titles())
    unknown = {c: t for c, t in _marked_clauses().items() if c not in spec}
    assert not unknown, f"tests name clauses SPEC.md does not define: {unknown}"


@pytest.mark.parametrize("clause", ["LC-FACTORY-01", "LC-DESTROY-02"])
def test_clause_titles_are_read(clause):
    assert clause_titles()[clause]


def _cell_texts(path: str | None = None) -> dict[tuple[str, str], str]:
    """SPEC.md's transition table: (state, operation) -> the cell's text."""
    from libcontainer.conformance.report import spec_path
    cells: dict[tuple[str, str], str] = {}
    states: list[str] = []
    with open(path or spec_path()) as f:
        for line in f:
            if not line.startswith("|"):
                if states and cells:
                    break
                continue
            parts = [p.strip() for p in line.strip().strip("|").split("|")]
            if parts[0] == "operation":
                states = parts[1:]
            elif states and not set(parts[0]) <= set("-: "):
                for state, text in zip(states, parts[1:]):
                    cells[(state, parts[0])] = text
    return cells


def _table() -> dict[tuple[str, str], set[str]]:
    """SPEC.md's transition table: (state, operation) -> the clause IDs named in the cell."""
    return {key: set(re.findall(r"LC-[A-Z0-9]+-\d+", text)) for key, text in _cell_texts().items()}


def _read_cell(text: str) -> tuple:
    """A SPEC.md cell as (error name or None, end state or None, no-op, extension, clause IDs).

    The cell's grammar (SPEC.md, "The transition table"): an error cell starts with the error's
    name; ``→ STATE`` names a transition (the last one is where the call leaves the container);
    "no-op" and "extension" are said in words; the clause IDs are in the parentheses.
    """
    from libcontainer.spec import ErrorCode
    first = re.match(r"[A-Za-z]+", text)
    error = first.group(0) if first and first.group(0) in {c.value for c in ErrorCode} else None
    arrows = re.findall(r"→ ([A-Z]+)", text)
    return (error, arrows[-1] if arrows else None, text.startswith("no-op"), "extension" in text,
            frozenset(re.findall(r"LC-[A-Z0-9]+-\d+", text)))


def _code_cell(outcome) -> tuple:
    """The same five facts of a cell of ``libcontainer.spec.transitions.TABLE``."""
    return (outcome.error.code.value if outcome.error else None, outcome.to.name if outcome.to else None,
            outcome.noop, outcome.extension, frozenset(outcome.clauses))


def table_mismatches(texts: dict[tuple[str, str], str], table: dict) -> list[str]:
    """Every cell where SPEC.md's text and the code's table differ, with both readings."""
    code = {(state.name, op): _code_cell(outcome) for (state, op), outcome in table.items()}
    out = [f"{key}: only in {'SPEC.md' if key in texts else 'the code'}" for key in set(texts) ^ set(code)]
    for key in sorted(set(texts) & set(code)):
        if _read_cell(texts[key]) != code[key]:
            out.append(f"{key}: SPEC.md says {_read_cell(texts[key])}, the code says {code[key]}")
    return out


def test_the_code_table_is_spec_md_table():
    from libcontainer.spec.transitions import TABLE
    texts = _cell_texts()
    assert len(texts) == 72  # 6 states x 12 operations
    assert table_mismatches(texts, TABLE) == []


def test_a_cell_changed_in_code_only_is_caught():
    """The demonstration of issue 12: one cell edited in the code (start_process on STOPPED raising
    ContainerPaused instead of ContainerNotRunning) and not in SPEC.md fails the comparison."""
    import dataclasses

    from libcontainer.spec import ContainerPaused, Status
    from libcontainer.spec.transitions import TABLE
    key = (Status.STOPPED, "start_process")
    edited = dict(TABLE) | {key: dataclasses.replace(TABLE[key], error=ContainerPaused)}
    got = table_mismatches(_cell_texts(), edited)
    assert len(got) == 1 and got[0].startswith("('STOPPED', 'start_process')"), got
    edited = dict(TABLE) | {(Status.RUNNING, "resume"): dataclasses.replace(TABLE[(Status.RUNNING, "resume")],
                                                                         noop=False, to=Status.PAUSED)}
    assert len(table_mismatches(_cell_texts(), edited)) == 1


def test_a_cell_changed_in_spec_md_only_is_caught(tmp_path):
    """The other direction: SPEC.md edited (pause on PAUSED no longer a no-op), the code not."""
    from libcontainer.conformance.report import spec_path
    from libcontainer.spec.transitions import TABLE
    text = open(spec_path()).read()
    old = "| no-op (LC-PAUSE-03) |"
    assert text.count(old) == 1
    edited = tmp_path / "SPEC.md"
    edited.write_text(text.replace(old, "| ContainerPaused (LC-PAUSE-03) |"))
    got = table_mismatches(_cell_texts(str(edited)), TABLE)
    assert len(got) == 1 and got[0].startswith("('PAUSED', 'pause')"), got


def test_transition_table_is_whole_and_every_cell_has_its_test():
    from libcontainer.spec import Status

    from libcontainer.spec.transitions import COLUMNS
    from libcontainer.spec.transitions import OPERATIONS as CODE_OPERATIONS

    from .test_transitions import CELLS, OPERATIONS, STATES
    table = _table()
    assert STATES == tuple(s.name for s in COLUMNS) and OPERATIONS == CODE_OPERATIONS
    assert set(STATES) == {s.name for s in Status}
    assert set(table) == {(s, o) for s in STATES for o in OPERATIONS}, "the table must have every state x operation"
    spec = set(clause_titles())
    for key, clauses in table.items():
        assert clauses, f"cell {key} names no clause"
        assert clauses <= spec, f"cell {key} names unknown clauses {clauses - spec}"
        assert key in CELLS, f"cell {key} has no test"
        assert set(CELLS[key][0]) == clauses, f"cell {key}: the table says {clauses}, the test marks {CELLS[key][0]}"
