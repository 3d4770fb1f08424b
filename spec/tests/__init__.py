"""The executable specification: every test names its SPEC.md clauses with
``@pytest.mark.clause``. Run with ``pytest --pyargs libcontainer.spec.tests
--runtime NAME``."""
