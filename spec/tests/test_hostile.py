"""Hostile input from hypothesis: ids and configs give only the documented errors and leave the host
as it was (SPEC.md LC-ID-01..03, LC-FACTORY-06, LC-GEN-03).

Examples are few (the suite stays fast) and derandomized (a run is
reproducible); the factory fixture checks after each test that no process,
cgroup, mount or state is left, and each example checks the factory root
and a sentinel beside it.
"""

from __future__ import annotations

import copy
import os
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from libcontainer.spec import (ConfigInvalid, ContainerDestroyed, InvalidIdFormat, LibcontainerError, Mount,
                               Process, Status)

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
NAMESPACES = ("mnt", "pid", "uts", "ipc", "net", "user", "cgroup")
_ID_RULE = re.compile(r"[A-Za-z0-9_+.-]{1,1024}")


def valid_id(value) -> bool:
    """SPEC.md LC-ID-01, written out independently of any implementation."""
    return isinstance(value, str) and bool(_ID_RULE.fullmatch(value)) and value not in (".", "..")


IDS = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="./\0-_+a ", max_size=6),
    st.from_regex(r"[A-Za-z0-9_+.-]{1,24}", fullmatch=True),
    st.sampled_from(["..", ".", "../x", "a/b", "/", "x\0", "x" * 1025, "ü", "a\nb"]),
    st.integers(), st.none(), st.binary(max_size=6), st.lists(st.text(max_size=2), max_size=2),
)


def _snapshot(path) -> list[tuple[str, int]]:
    out = []
    for dirpath, dirs, files in os.walk(path):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            out.append((os.path.relpath(p, path), os.lstat(p).st_mode))
    return sorted(out)


@pytest.fixture
def outside(tmp_path, factory_root):
    """A sentinel tree beside the factory root; returns a function that asserts nothing changed."""
    (tmp_path / "x").mkdir(exist_ok=True)
    (tmp_path / "x" / "state.json").write_text("{}")
    before = _snapshot(tmp_path)

    def check():
        assert os.listdir(factory_root) == [], os.listdir(factory_root)
        assert _snapshot(tmp_path) == before, "something outside the factory root changed"
    return check


@pytest.mark.clause("LC-ID-01", "LC-ID-03", "LC-GEN-03")
@settings(max_examples=150, **SETTINGS)
@given(cid=IDS)
def test_load_of_any_id(factory, outside, cid):
    with pytest.raises(LibcontainerError) as info:
        factory.load(cid)
    expected = ContainerDestroyed if valid_id(cid) else InvalidIdFormat
    assert isinstance(info.value, expected), f"load({cid!r}) raised {info.value!r}, expected {expected.__name__}"
    outside()


@pytest.mark.clause("LC-ID-01", "LC-ID-02", "LC-GEN-03")
@settings(max_examples=15, **SETTINGS)
@given(cid=IDS)
def test_create_with_any_id(factory, config, outside, cid):
    if not valid_id(cid):
        with pytest.raises(InvalidIdFormat):
            factory.create(cid, config)
        outside()
        return
    c = factory.create(cid, config)
    try:
        assert c.id == cid
        assert factory.load(cid).status() == Status.RUNNING
    finally:
        c.destroy()
    outside()


NOT_INT = st.one_of(st.text(max_size=4), st.floats(allow_nan=True), st.just([1]), st.booleans())
NEGATIVE = st.integers(max_value=-2)
HUGE = st.integers(min_value=2**63, max_value=2**80)
ABS_MISSING = st.from_regex(r"/no-such-[a-z]{1,8}(/[a-z]{1,4})?", fullmatch=True)
RELATIVE = st.one_of(st.just(""), st.from_regex(r"[a-z.]{1,8}(/[a-z]{1,4})?", fullmatch=True))
UNKNOWN_NS = st.text(max_size=8).filter(lambda n: n not in NAMESPACES)


def _field(path: str, values) -> st.SearchStrategy:
    return st.tuples(st.just(path), values)


# (field, value) pairs that are invalid whatever the host: ConfigInvalid and nothing else
INVALID = st.one_of(
    _field("rootfs", st.one_of(RELATIVE, ABS_MISSING, st.integers(), st.none(), st.just("/"), st.just("/x\0y"))),
    _field("hostname", st.one_of(st.just(""), st.text(alphabet="ab", min_size=65, max_size=80), st.integers(),
                                 st.just("a\0b"))),
    _field("namespaces", st.one_of(st.lists(UNKNOWN_NS, min_size=1, max_size=3).map(lambda u: ["mnt", *u]),
                                   st.just("mnt"), st.just(["mnt", "mnt"]), st.just([]), st.just(["pid"]),
                                   st.lists(st.integers(), min_size=1, max_size=2), st.none())),
    _field("cgroup_parent", st.one_of(st.sampled_from(["/abs", "..", "a/../b", "", "a//b", "./x", "x\0"]),
                                      st.integers(), st.none())),
    _field("readonly_rootfs", st.one_of(st.text(max_size=3), st.integers(), st.none())),
    _field("resources", st.one_of(st.text(max_size=3), st.none(), st.integers())),
    *[_field(f"resources.{name}", st.one_of(NEGATIVE, HUGE, NOT_INT))
      for name in ("memory", "memory_reservation", "memory_swap", "cpu_quota", "pids_limit")],
    _field("resources.memory", st.integers(min_value=0, max_value=4 * 1024 * 1024 - 1)),
    _field("resources.cpu_shares", st.one_of(st.integers(max_value=1), st.integers(min_value=262145), NOT_INT)),
    _field("resources.cpu_period", st.one_of(st.integers(max_value=999), st.integers(min_value=1000001), NOT_INT)),
    _field("resources.cpuset_cpus", st.one_of(st.just(""), st.text(alphabet="abc x", min_size=1, max_size=4),
                                              st.integers())),
    _field("mounts", st.one_of(st.just("not a list"), st.just(["not a mount"]),
                               RELATIVE.map(lambda d: [Mount(destination=d, type="tmpfs")]),
                               st.just([Mount(destination="/a/../../etc", type="tmpfs")]),
                               ABS_MISSING.map(lambda s: [Mount(destination="/mnt", source=s)]),
                               RELATIVE.map(lambda s: [Mount(destination="/mnt", source=s)]),
                               st.just([Mount(destination="/mnt", type="")]))),
    _field("process", st.one_of(st.none(), st.text(max_size=3), st.just(Process(args=[])))),
    _field("process.args", st.one_of(st.just([]), st.text(max_size=3), st.lists(st.integers(), min_size=1, max_size=2),
                                      st.none())),
    _field("process.cwd", st.one_of(RELATIVE, st.integers(), st.none())),
    _field("process.uid", st.one_of(st.integers(max_value=-1), st.integers(min_value=2**32 - 1), NOT_INT)),
    _field("process.env", st.one_of(st.just(["NOEQUALS"]), st.text(max_size=3), st.just([1]))),
    _field("process.rlimits", st.one_of(st.just({"RLIMIT_NOFILE": (-5, 1)}), st.just({"BOGUS": (1, 1)}),
                                        st.just({"RLIMIT_NOFILE": "x"}), st.just([1]))),
)

# values that are large but may be within what the kernel takes: accepted, or ConfigInvalid
LARGE = st.one_of(
    _field("resources.memory", st.integers(min_value=2**40, max_value=2**63 - 1)),
    _field("resources.memory_reservation", st.integers(min_value=2**40, max_value=2**63 - 1)),
    _field("resources.pids_limit", st.integers(min_value=10**6, max_value=2**63 - 1)),
    _field("resources.cpu_quota", st.integers(min_value=10**7, max_value=2**63 - 1)),
    _field("resources.cpu_shares", st.integers(min_value=100000, max_value=262144)),
    _field("resources.cpuset_cpus", st.sampled_from(["0-1023", "4096", "0,0,0", "1-0"])),
)


def _mutate(config, path: str, value):
    cfg = copy.deepcopy(config)
    target = cfg
    *parents, last = path.split(".")
    for name in parents:
        target = getattr(target, name)
    setattr(target, last, value)
    return cfg


@pytest.mark.clause("LC-FACTORY-06", "LC-FACTORY-03", "LC-GEN-03")
@settings(max_examples=80, **SETTINGS)
@given(change=INVALID)
def test_invalid_config_raises_config_invalid_and_leaves_nothing(factory, config, outside, change):
    path, value = change
    bad = _mutate(config, path, value)
    with pytest.raises(LibcontainerError) as info:
        factory.create("hostile", bad)
    assert isinstance(info.value, ConfigInvalid), f"{path}={value!r}: {info.value!r}"
    outside()


@pytest.mark.clause("LC-FACTORY-06", "LC-GEN-03")
@settings(max_examples=8, **SETTINGS)
@given(change=LARGE)
@example(change=("resources.pids_limit", 2**62))
@example(change=("resources.cpuset_cpus", "4096"))
def test_large_limits_are_accepted_or_refused_cleanly(factory, config, outside, change):
    path, value = change
    cfg = _mutate(config, path, value)
    try:
        c = factory.create("large", cfg)
    except LibcontainerError as e:
        assert isinstance(e, ConfigInvalid), f"{path}={value!r}: {e!r}"
    else:
        try:
            assert c.status() == Status.RUNNING
            c.pause()
            c.resume()
        finally:
            c.destroy()
    outside()
