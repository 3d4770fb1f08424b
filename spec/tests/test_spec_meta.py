"""The specification is whole: every SPEC.md clause has a test, every test names known clauses."""

import importlib
import pkgutil

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


def _table() -> dict[tuple[str, str], set[str]]:
    """SPEC.md's transition table: (state, operation) -> the clause IDs named in the cell."""
    import re

    from libcontainer.conformance.report import spec_path
    cells: dict[tuple[str, str], set[str]] = {}
    states: list[str] = []
    with open(spec_path()) as f:
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
                    cells[(state, parts[0])] = set(re.findall(r"LC-[A-Z0-9]+-\d+", text))
    return cells


def test_transition_table_is_whole_and_every_cell_has_its_test():
    from libcontainer.spec import Status

    from .test_transitions import CELLS, OPERATIONS, STATES
    table = _table()
    assert set(STATES) == {s.name for s in Status}
    assert set(table) == {(s, o) for s in STATES for o in OPERATIONS}, "the table must have every state x operation"
    spec = set(clause_titles())
    for key, clauses in table.items():
        assert clauses, f"cell {key} names no clause"
        assert clauses <= spec, f"cell {key} names unknown clauses {clauses - spec}"
        assert key in CELLS, f"cell {key} has no test"
        assert set(CELLS[key][0]) == clauses, f"cell {key}: the table says {clauses}, the test marks {CELLS[key][0]}"
