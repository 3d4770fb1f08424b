"""Installed, the plugin must not change another project's pytest run (issue 11, item 3).

An unrelated project (written by pytester into a temporary directory) has an
orphan-making test, its own ``config`` fixture and its own ``--runtime``
option; it must behave the same with the plugin (installed: loaded through
its entry point) and without it (``-p no:libcontainer``).
"""

from __future__ import annotations


import pytest

CONFTEST = '''
import pytest

def pytest_addoption(parser):
    parser.addoption("--runtime", default="docker", help="this project's own option")

@pytest.fixture
def config():
    return "mine"
'''

TESTS = '''
import os, signal, time
import pytest

def test_orphans_are_not_reparented_to_pytest():
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        grandchild = os.fork()
        if grandchild == 0:
            time.sleep(60)
            os._exit(0)
        os.write(w, str(grandchild).encode())
        os._exit(0)
    os.close(w)
    grandchild = int(os.read(r, 32))
    os.close(r)
    assert os.waitpid(child, 0)[0] == child
    with open(f"/proc/{grandchild}/stat") as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    os.kill(grandchild, signal.SIGKILL)
    assert ppid != os.getpid(), "the orphan was reparented to pytest (a child subreaper)"
    with pytest.raises(ChildProcessError):
        os.wait()  # nothing of ours is left to reap: no orphan became our child

def test_own_config_fixture(config):
    assert config == "mine"

@pytest.mark.parametrize("name", ["factory", "container", "rootfs", "cgroup_parent", "factory_root", "runtime_name"])
def test_no_foreign_short_name_fixtures(request, name):
    with pytest.raises(pytest.FixtureLookupError):
        request.getfixturevalue(name)

def test_own_runtime_option(pytestconfig):
    assert pytestconfig.getoption("--runtime") == "podman"

def test_no_timeout_marker_added(request):
    assert request.node.get_closest_marker("timeout") is None
'''


@pytest.mark.parametrize("plugin", ["installed", "disabled"])
def test_an_unrelated_project_behaves_the_same(pytester, plugin):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_project=TESTS)
    args = ["-p", "no:cacheprovider", "-p", "no:randomly", "--runtime", "podman"]
    if plugin == "disabled":
        args += ["-p", "no:libcontainer"]
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=10)
    assert "libcontainer:" not in result.stdout.str(), "the plugin's report header appeared"
    assert "clauses (" not in result.stdout.str()


def test_the_plugin_is_installed_in_this_environment(pytester):
    """The comparison above is only meaningful when the entry point loads the plugin."""
    result = pytester.runpytest_subprocess("--trace-config", "-p", "no:cacheprovider", "--co", "-q")
    assert "libcontainer.conformance.plugin" in result.stdout.str()


@pytest.mark.root  # a child subreaper only matters as root (the plugin sets it only then)
def test_the_suite_still_gets_its_options_when_the_project_owns_runtime(pytester):
    """With another owner of ``--runtime``, ``--lc-runtime`` names the implementation under test."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_x='''
def test_x(lc_runtime_name, pytestconfig):
    assert lc_runtime_name == "reference" and pytestconfig.getoption("--runtime") == "docker"
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--lc-runtime", "reference")
    result.assert_outcomes(passed=1)
    assert "libcontainer: runtime=reference" in result.stdout.str()
