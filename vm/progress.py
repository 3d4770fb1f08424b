"""A pytest plugin for the guest (``-p libcontainer.vm.progress``): test progress as events for the host.

Appends lines ``<guest uptime s> <event> ...`` to the file named by
``$LCVM_PROGRESS``: ``collected N``, then ``test I/N OUTCOME NODEID`` after
each test, then ``finished PASSED FAILED SKIPPED exit=STATUS`` once pytest
has torn the session down and written its reports. The host reads them
through the shared folder (:meth:`libcontainer.vm.backend.Backend.read_events`).
Does nothing when the variable is unset or in an xdist worker.
"""

from __future__ import annotations

import os

import pytest

_state = {"total": 0, "done": 0, "outcome": {}, "counts": {"passed": 0, "failed": 0, "skipped": 0}}


def _emit(text: str) -> None:
    path = os.environ.get("LCVM_PROGRESS")
    if not path:
        return
    try:
        with open("/proc/uptime") as f:
            up = f.read().split()[0]
    except OSError:
        up = "0"
    with open(path, "a") as f:
        f.write(f"{up} {text}\n")


def _controller(config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_configure(config):
    _state["worker"] = not _controller(config)


def pytest_collection_finish(session):
    if _controller(session.config) and not getattr(session.config.option, "numprocesses", None):
        _state["total"] = len(session.items)
        _emit(f"collected {_state['total']}")


@pytest.hookimpl(optionalhook=True)  # xdist is not loaded in a guest with one worker
def pytest_xdist_node_collection_finished(node, ids):
    if not _state["total"]:
        _state["total"] = len(ids)
        _emit(f"collected {_state['total']}")


def pytest_runtest_logreport(report):
    worst = _state["outcome"].get(report.nodeid, "passed")
    if report.failed:
        worst = "failed"
    elif report.skipped and worst != "failed":
        worst = "skipped"
    _state["outcome"][report.nodeid] = worst


def pytest_runtest_logfinish(nodeid, location):
    if _state.get("worker"):
        return
    _state["done"] += 1
    outcome = _state["outcome"].pop(nodeid, "passed")
    _state["counts"][outcome] += 1
    _emit(f"test {_state['done']}/{_state['total']} {outcome} {nodeid}")


def pytest_sessionfinish(session, exitstatus):
    _state["exit"] = int(exitstatus)


def pytest_unconfigure(config):
    """After the session's teardown, reports and summary: the suite is finished."""
    if _controller(config) and "exit" in _state:
        c = _state["counts"]
        _emit(f"finished {c['passed']} {c['failed']} {c['skipped']} exit={_state['exit']}")
