"""The mutant table without running a container (no root): every name MUTANTS lists is a mutant
factory that ``--runtime libcontainer.conformance.mutants:NAME`` finds, naming SPEC.md clauses and
a spec test module that exist. conformance/tests/test_mutants.py runs them (as root)."""

import importlib.util

import pytest

from libcontainer.conformance import mutants
from libcontainer.conformance.report import clause_titles
from libcontainer.spec import Factory


@pytest.mark.parametrize("name", sorted(mutants.MUTANTS))
def test_each_listed_mutant_is_a_factory_of_the_module(name):
    clauses, module, selection = mutants.MUTANTS[name]
    factory = getattr(mutants, name)
    assert issubclass(factory, mutants.MutantFactory) and issubclass(factory, Factory)
    assert issubclass(factory.container_class, mutants.Delegating)
    assert clauses and set(clauses) <= set(clause_titles()), clauses
    assert importlib.util.find_spec(f"libcontainer.spec.tests.{module}") is not None, module
    assert selection.strip()


def test_every_mutant_factory_of_the_module_is_listed():
    found = {name for name, value in vars(mutants).items()
             if isinstance(value, type) and issubclass(value, mutants.MutantFactory) and value is not mutants.MutantFactory}
    assert found == set(mutants.MUTANTS)


def test_every_clause_has_a_mutant_or_says_why_not():
    caught = {clause for clauses, _module, _selection in mutants.MUTANTS.values() for clause in clauses}
    missing = set(clause_titles()) - caught - set(mutants.NO_RELIABLE_MUTANT)
    assert not missing, f"clauses without a mutant in MUTANTS or a reason in NO_RELIABLE_MUTANT: {sorted(missing)}"
    assert set(mutants.NO_RELIABLE_MUTANT) <= set(clause_titles()) - caught, "a listed reason for a caught clause"
    assert all(reason.strip() for reason in mutants.NO_RELIABLE_MUTANT.values())


def test_the_count_architecture_states_is_the_tables():
    import pathlib
    import re
    doc = pathlib.Path(__file__).resolve().parents[2] / "ARCHITECTURE.md"
    if not doc.exists():
        pytest.skip("no ARCHITECTURE.md beside the package (an installed copy)")
    found = re.search(r"(\d+) of the\s+(\d+) clauses have one", doc.read_text())
    assert found, "ARCHITECTURE.md no longer states how many clauses have a mutant"
    caught = {clause for clauses, _module, _selection in mutants.MUTANTS.values() for clause in clauses}
    total = set(clause_titles())
    assert (int(found[1]), int(found[2])) == (len(caught & total), len(total))
