"""Input the kernel would refuse late, and big requests (SPEC.md LC-HOST-05, LC-HOST-06).

Issue 13, cases 10 and 11: a config the kernel refuses for a reason visible
in the config is ConfigInvalid before anything starts, naming the field; a
process with a 40,000-byte argument starts through start_process as it does
through create.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from libcontainer.spec import ConfigInvalid, IDMap, Process, Resources

from .helpers import read_all, run_init

BAD_PROCESSES = {
    # the exact input: soft above hard
    "rlimit-soft-above-hard": ({"rlimits": {"RLIMIT_NOFILE": (2048, 1024)}}, "RLIMIT_NOFILE"),
    "rlimit-unlimited-soft-finite-hard": ({"rlimits": {"RLIMIT_CORE": (-1, 0)}}, "RLIMIT_CORE"),
    "rlimit-unknown-name": ({"rlimits": {"RLIMIT_NOPE": (1, 1)}}, "rlimits"),
    "arg-longer-than-max-arg-strlen": ({"args": ["echo", "x" * 131072]}, "args[1]"),
    "too-many-groups": ({"additional_gids": list(range(65537))}, "additional_gids"),
}

BAD_CONFIGS = {
    "cpuset-range-reversed": (lambda c: {"resources": dataclasses.replace(c.resources, cpuset_cpus="1-0")},
                              "resources.cpuset_cpus"),
    "cpuset-empty-item": (lambda c: {"resources": Resources(cpuset_mems="0,,1")}, "resources.cpuset_mems"),
    "uid-map-overlap": (lambda c: {"namespaces": c.namespaces + ["user"],
                                   "uid_mappings": [IDMap(0, 100000, 1000), IDMap(500, 300000, 10)],
                                   "gid_mappings": [IDMap(0, 100000, 1000)]}, "uid_mappings[1]"),
    "gid-map-host-overlap": (lambda c: {"namespaces": c.namespaces + ["user"],
                                        "uid_mappings": [IDMap(0, 100000, 1000)],
                                        "gid_mappings": [IDMap(0, 100000, 1000), IDMap(1000, 100500, 10)]},
                             "gid_mappings[1]"),
    # found by the mutant work of 2026-12-01: a host range past 2^32-1 passed validation and the kernel's
    # refusal of the uid_map write came out as SystemFailure
    "uid-map-host-range-past-2^32": (lambda c: {"namespaces": c.namespaces + ["user"],
                                                "uid_mappings": [IDMap(0, 4294967000, 1000)],
                                                "gid_mappings": [IDMap(0, 100000, 1000)]}, "uid_mappings[0]"),
    "gid-map-container-range-past-2^32": (lambda c: {"namespaces": c.namespaces + ["user"],
                                                     "uid_mappings": [IDMap(0, 100000, 1000)],
                                                     "gid_mappings": [IDMap(0, 100000, 1000),
                                                                      IDMap(4294967000, 200000, 1000)]},
                                          "gid_mappings[1]"),
}


@pytest.mark.clause("LC-HOST-05")
@pytest.mark.parametrize("case", sorted(BAD_PROCESSES))
def test_init_the_kernel_would_refuse_is_config_invalid(factory, factory_root, config, case):
    change, field = BAD_PROCESSES[case]
    cfg = dataclasses.replace(config, process=dataclasses.replace(config.process, **change))
    with pytest.raises(ConfigInvalid) as e:
        factory.create("late", cfg)
    assert field in str(e.value), f"the error does not name {field}: {e.value}"
    assert os.listdir(factory_root) == []
    # the id is free: a good config under it works
    factory.create("late", config).destroy()


@pytest.mark.clause("LC-HOST-05")
@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_config_the_kernel_would_refuse_is_config_invalid(factory, factory_root, config, case):
    make, field = BAD_CONFIGS[case]
    with pytest.raises(ConfigInvalid) as e:
        factory.create("late", dataclasses.replace(config, **make(config)))
    assert field in str(e.value), f"the error does not name {field}: {e.value}"
    assert os.listdir(factory_root) == []


@pytest.mark.clause("LC-HOST-05")
@pytest.mark.parametrize("case", sorted(BAD_PROCESSES))
def test_exec_the_kernel_would_refuse_is_config_invalid(container, case):
    change, field = BAD_PROCESSES[case]
    before = sorted(container.processes())
    with pytest.raises(ConfigInvalid) as e:
        container.start_process(dataclasses.replace(Process(args=["true"]), **change))
    assert field in str(e.value), f"the error does not name {field}: {e.value}"
    assert sorted(container.processes()) == before


@pytest.mark.clause("LC-HOST-05")
def test_rlimit_soft_equal_hard_and_unlimited_still_work(factory, config):
    """The check refuses only what setrlimit(2) refuses: (n, n) and (n, unlimited) run."""
    proc = dataclasses.replace(config.process, rlimits={"RLIMIT_NOFILE": (1000, 1000), "RLIMIT_CORE": (0, -1)})
    c, out, code = run_init(factory, "rl-ok", dataclasses.replace(config, process=proc),
                            "ulimit -n; ulimit -H -c")
    try:
        assert code == 0 and out.split() == ["1000", "unlimited"], (code, out)
    finally:
        c.destroy()


@pytest.mark.clause("LC-HOST-06")
@pytest.mark.parametrize("size", [40000, 100000])
def test_big_argument_through_start_process(container, size):
    """The issue's case 11: ``start_process(Process(args=["echo", "x" * 40000]))``."""
    r, w = os.pipe()
    try:
        pid = container.start_process(Process(args=["echo", "x" * size], stdout=w))
    finally:
        os.close(w)
    out = read_all(r)
    os.close(r)
    assert container.wait_process(pid) == 0
    assert out == "x" * size + "\n"


@pytest.mark.clause("LC-HOST-06")
def test_big_argument_through_create(factory, config):
    """The same 40,000-byte argument as init: the script is one argument of ``sh -c``."""
    c, out, code = run_init(factory, "big-init", config, "echo ok; : " + "x" * 40000)
    try:
        assert code == 0 and out == "ok\n", (code, out)
    finally:
        c.destroy()
