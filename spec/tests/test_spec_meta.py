"""The specification is whole: every SPEC.md clause has a test, every test names known clauses."""

import importlib
import pkgutil

import pytest
from _pytest.mark.structures import ParameterSet

import libcontainer.spec.tests as spec_tests
from libcontainer.conformance.report import clause_titles

from .spec_table import cell_texts, clause_ids, table_mismatches


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


def test_the_code_table_is_spec_md_table():
    """SPEC.md's table and ``libcontainer.spec.transitions.TABLE`` agree in every cell (issue 12; that a
    one-sided change fails this is shown in spec/units/test_spec_table.py)."""
    from libcontainer.spec.transitions import TABLE
    texts = cell_texts()
    assert len(texts) == 72  # 6 states x 12 operations
    mismatches = table_mismatches(texts, TABLE)
    assert not mismatches, "SPEC.md's transition table and the code's differ:\n" + "\n".join(mismatches)


def test_transition_table_is_whole_and_every_cell_has_its_test():
    from libcontainer.spec import Status
    from libcontainer.spec.transitions import COLUMNS, OPERATIONS

    from .test_transitions import test_cell  # its import registers every cell's check in CELLS
    from .transition_cells import CELLS, STATES
    table = {key: clause_ids(text) for key, text in cell_texts().items()}
    assert callable(test_cell) and STATES == tuple(s.name for s in COLUMNS)
    assert set(STATES) == {s.name for s in Status}
    assert set(table) == {(s, o) for s in STATES for o in OPERATIONS}, "the table must have every state x operation"
    spec = set(clause_titles())
    for key, clauses in table.items():
        assert clauses, f"cell {key} names no clause"
        assert clauses <= spec, f"cell {key} names unknown clauses {clauses - spec}"
        assert key in CELLS, f"cell {key} has no test"
        assert set(CELLS[key][0]) == clauses, f"cell {key}: the table says {clauses}, the test marks {CELLS[key][0]}"
