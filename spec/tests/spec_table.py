"""SPEC.md's transition table read as text and compared with the code's table (issue 12, "the state
table in code"): :func:`table_mismatches` is what the meta-test (``test_spec_meta.py``) asserts
empty, and what ``spec/units/test_spec_table.py`` shows failing when one side alone changes a cell.

A cell is compared as five facts (:class:`Cell`): the error it raises, the state the call leaves
the container in, no-op, extension, and the clause IDs. The grammar of a SPEC.md cell ("The
transition table"): an error cell starts with the error's name; ``→ STATE`` names a transition
(the last one is where the call leaves the container); "no-op" and "extension" are said in words;
the clause IDs are in the parentheses.
"""

from __future__ import annotations

import re
from typing import Mapping, NamedTuple

from libcontainer.spec import ErrorCode, Status
from libcontainer.spec.transitions import Outcome

CLAUSE_ID = re.compile(r"LC-[A-Z0-9]+-\d+")


class Cell(NamedTuple):
    """The five facts of one cell, as SPEC.md or the code gives them."""

    error: str | None  # the error's code name (ErrorCode value), e.g. "ContainerPaused"
    to: str | None  # the state name the call leaves the container in, when it changes
    noop: bool
    extension: bool
    clauses: frozenset[str]


def cell_texts(path: str | None = None) -> dict[tuple[str, str], str]:
    """SPEC.md's transition table (the first markdown table whose header row starts with
    ``operation``): (state name, operation) -> the cell's text. ``path`` defaults to the installed SPEC.md."""
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


def clause_ids(text: str) -> set[str]:
    """The clause IDs named in a cell's text."""
    return set(CLAUSE_ID.findall(text))


def read_cell(text: str) -> Cell:
    """A SPEC.md cell's text as its five facts."""
    first = re.match(r"[A-Za-z]+", text)
    error = first.group(0) if first and first.group(0) in {c.value for c in ErrorCode} else None
    arrows = re.findall(r"→ ([A-Z]+)", text)
    return Cell(error, arrows[-1] if arrows else None, text.startswith("no-op"), "extension" in text,
                frozenset(clause_ids(text)))


def code_cell(outcome: Outcome) -> Cell:
    """A cell of ``libcontainer.spec.transitions.TABLE`` as its five facts."""
    return Cell(outcome.error.code.value if outcome.error else None, outcome.to.name if outcome.to else None,
                outcome.noop, outcome.extension, frozenset(outcome.clauses))


def table_mismatches(texts: Mapping[tuple[str, str], str],
                     table: Mapping[tuple[Status, str], Outcome]) -> list[str]:
    """Where SPEC.md's ``texts`` (from :func:`cell_texts`) and the code's ``table`` differ: one line
    per differing fact of a cell, ``STATE × operation: fact: SPEC.md says A, the code says B``, and
    ``STATE × operation: only in SPEC.md`` (or ``only in the code``) for a cell one side lacks.
    Empty when the two tables are the same."""
    code = {(state.name, op): code_cell(outcome) for (state, op), outcome in table.items()}
    out = [f"{state} × {op}: only in {'SPEC.md' if (state, op) in texts else 'the code'}"
           for state, op in sorted(set(texts) ^ set(code))]
    for state, op in sorted(set(texts) & set(code)):
        spec, mine = read_cell(texts[(state, op)]), code[(state, op)]
        for fact in Cell._fields:
            said, coded = getattr(spec, fact), getattr(mine, fact)
            if said != coded:
                said, coded = (sorted(v) if isinstance(v, frozenset) else v for v in (said, coded))
                out.append(f"{state} × {op}: {fact}: SPEC.md says {said!r}, the code says {coded!r}")
    return out
