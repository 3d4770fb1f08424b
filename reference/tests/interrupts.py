"""Test helper: run a call and interrupt it with an exception after a given delay (SIGALRM)."""

from __future__ import annotations

import signal


class Interrupt(Exception):
    pass


def _raise(signum, frame):
    raise Interrupt()


def call_interrupted(fn, delay: float) -> bool:
    """Call ``fn()`` with an Interrupt raised in it after ``delay`` seconds; True if it returned first.

    A timer that fires while it is being cancelled raises after ``fn`` has
    returned: that still counts as returned, and the Interrupt is swallowed.
    """
    old = signal.signal(signal.SIGALRM, _raise)
    completed = False
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, delay)
            try:
                fn()
                completed = True
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except Interrupt:
            pass
    finally:
        signal.signal(signal.SIGALRM, old)
    return completed
