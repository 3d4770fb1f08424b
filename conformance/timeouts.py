"""A per-test timeout for the suite's tests (pytest-timeout), failing a hung call with a message naming it.

The plugin gives each test of the suite a ``timeout`` marker (default
:data:`DEFAULT` seconds, ``--lc-timeout SECONDS`` or the ini value
``lc_timeout``, or ``$LIBCONTAINER_TIMEOUT``; 0 turns it off) unless the test has its own or pytest-timeout's
``--timeout`` is given. pytest-timeout runs the timer; with its ``signal``
method this module's ``pytest_timeout_set_timer`` replaces the default
handler: the SIGALRM handler (signal(7), setitimer(2)) names the line of the
test's code whose call into the runtime had not returned, and the innermost
function it was in, then fails the test. It re-arms itself once, so a
teardown that hangs too (destroy of the hung container) is failed as well.
"""

from __future__ import annotations

import os
import signal
import traceback

import pytest

DEFAULT = 120.0
OURS = pytest.StashKey[float]()
ARMED = pytest.StashKey[bool]()


def seconds(option: float | None, ini: str) -> float:
    """The timeout: ``--lc-timeout``, else the ini ``lc_timeout``, else ``$LIBCONTAINER_TIMEOUT`` (slow emulated
    VMs set it), else :data:`DEFAULT`."""
    if option is not None:
        return option
    for text in (ini, os.environ.get("LIBCONTAINER_TIMEOUT", "")):
        if text:
            try:
                return float(text)
            except ValueError:
                raise pytest.UsageError(f"lc_timeout / LIBCONTAINER_TIMEOUT {text!r}: not a number of seconds") \
                    from None
    return DEFAULT


def hung_call(frame, test_dirs: tuple[str, ...]) -> str:
    """``"`line`" (file:lineno, in fn)[ from `test line` (test_x.py:lineno, in test)], innermost: fn
    (file:lineno)`` for the stack ending at ``frame``: the innermost line of the suite's code, the test's
    own line when that one was a helper's, and the innermost frame of all."""
    stack = traceback.extract_stack(frame)
    ours = [f for f in stack if any(os.path.abspath(f.filename).startswith(d) for d in test_dirs)]
    inner = stack[-1] if stack else None
    where = ""
    if ours:
        f = ours[-1]
        where = f"`{(f.line or '').strip()}` ({os.path.basename(f.filename)}:{f.lineno}, in {f.name})"
        tests = [t for t in ours if os.path.basename(t.filename).startswith("test_")]
        if tests and tests[-1] is not f:  # a helper's line (a thread's join says little): the test's too
            t = tests[-1]
            where += f" from `{(t.line or '').strip()}` ({os.path.basename(t.filename)}:{t.lineno}, in {t.name})"
    if inner is not None and (not ours or inner is not ours[-1]):
        where += f"{'; ' if where else ''}innermost: {inner.name} ({os.path.basename(inner.filename)}:{inner.lineno})"
    return where or "an unknown call"


def mark_items(config, items, seconds: float) -> None:
    """Give every item without a timeout of its own the marker ``timeout(seconds)``."""
    if not seconds or not config.pluginmanager.hasplugin("timeout"):
        return
    if config.getoption("timeout", None) is not None or config.getini("timeout"):
        return  # pytest-timeout's own setting wins
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(seconds))
            item.stash[OURS] = seconds


def _dirs(item) -> tuple[str, ...]:
    import libcontainer.spec
    return (os.path.dirname(os.path.abspath(str(item.path))) + "/",
            os.path.join(os.path.dirname(os.path.abspath(libcontainer.spec.__file__)), "tests") + "/")


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_timeout_set_timer(item, settings):
    seconds = item.stash.get(OURS, None)
    if seconds is None or settings.method != "signal":
        return None
    dirs = _dirs(item)
    phase = {"fired": 0}

    def handler(signum, frame):
        phase["fired"] += 1
        if phase["fired"] == 1:
            signal.setitimer(signal.ITIMER_REAL, seconds)  # the teardown gets its own budget
        __tracebackhide__ = True
        pytest.fail(f"timeout: the call {hung_call(frame, dirs)} did not return within {seconds:g} s "
                    f"(--lc-timeout; the runtime hangs)", pytrace=False)

    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    item.stash[ARMED] = True
    return True


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_timeout_cancel_timer(item):
    if not item.stash.get(ARMED, False):
        return None
    item.stash[ARMED] = False
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    return True
