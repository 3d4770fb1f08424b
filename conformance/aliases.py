"""Short names for the plugin's ``lc_`` fixtures, for the conftest.py of the specification's and reference's tests.

The plugin (:mod:`libcontainer.conformance.fixtures`) names its fixtures with
the ``lc_`` prefix so that other projects never receive them; these aliases
keep those tests readable. Only those conftests import this module.
"""

import inspect

import pytest

__all__ = ["runtime_name", "factory_class", "rootfs", "cgroup_parent", "factory_root", "factory", "config",
           "container"]


def alias(name: str, scope: str = "function"):
    """The fixture ``name`` that returns the plugin's ``lc_<name>``, with the same ``scope``.

    It names ``lc_<name>`` as its argument (by its signature), so pytest sees the dependency when it
    collects: a test using ``rootfs`` uses ``lc_rootfs`` and is marked ``root`` (conformance/rootmark.py).
    """
    wanted = f"lc_{name}"

    def fixture(**requested):
        return requested[wanted]

    fixture.__signature__ = inspect.Signature([inspect.Parameter(wanted, inspect.Parameter.KEYWORD_ONLY)])
    fixture.__name__ = fixture.__qualname__ = name
    return pytest.fixture(scope=scope, name=name)(fixture)


runtime_name = alias("runtime_name", "session")
factory_class = alias("factory_class", "session")
rootfs = alias("rootfs", "session")
cgroup_parent = alias("cgroup_parent")
factory_root = alias("factory_root")
factory = alias("factory")
config = alias("config")
container = alias("container")
