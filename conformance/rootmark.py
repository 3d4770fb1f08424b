"""The ``root`` marker: tests that need root (euid 0) apart from those that do not.

A test needs root when it is marked ``@pytest.mark.root`` (or its module's
``pytestmark``), or when it uses a fixture of :data:`ROOT_FIXTURES` (a
container needs the busybox rootfs, cgroups and namespaces). Such a test is
marked ``root`` at collection, so ``pytest -m "not root"`` runs the tests
that need no root (validators, converters, the transition table, report and
adapter units) and ``-m root`` the others; run by another user, a ``root``
test is skipped saying so. ``ci/nonroot.sh`` runs the first set as nobody.
"""

from __future__ import annotations

import os

import pytest

#: fixtures that make containers or cgroups: a test using one needs root
ROOT_FIXTURES = frozenset({"lc_rootfs"})
REASON = "needs root (euid 0): containers, cgroups and namespaces"


def pytest_configure(config):
    config.addinivalue_line("markers", f"root: the test {REASON}; select with -m root or -m 'not root'")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if ROOT_FIXTURES & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("root") is None:
            item.add_marker(pytest.mark.root)


def pytest_runtest_setup(item):
    if item.get_closest_marker("root") is not None and os.geteuid() != 0:
        pytest.skip(REASON)
