"""Short names for the plugin's ``lc_`` fixtures, for the conftest.py of the specification's and reference's tests.

The plugin (:mod:`libcontainer.conformance.fixtures`) names its fixtures with
the ``lc_`` prefix so that other projects never receive them; these aliases
keep those tests readable. Only those conftests import this module.
"""

import pytest

__all__ = ["runtime_name", "factory_class", "rootfs", "cgroup_parent", "factory_root", "factory", "config",
           "container"]


@pytest.fixture(scope="session")
def runtime_name(lc_runtime_name):
    return lc_runtime_name


@pytest.fixture(scope="session")
def factory_class(lc_factory_class):
    return lc_factory_class


@pytest.fixture(scope="session")
def rootfs(lc_rootfs):
    return lc_rootfs


@pytest.fixture
def cgroup_parent(lc_cgroup_parent):
    return lc_cgroup_parent


@pytest.fixture
def factory_root(lc_factory_root):
    return lc_factory_root


@pytest.fixture
def factory(lc_factory):
    return lc_factory


@pytest.fixture
def config(lc_config):
    return lc_config


@pytest.fixture
def container(lc_container):
    return lc_container
