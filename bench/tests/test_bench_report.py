"""Unit tests of the bench scripts' arithmetic and verdicts (no root, no containers).

Run: ``.venv/bin/pytest bench/tests``.
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bare  # noqa: E402
import scale  # noqa: E402


def test_slope_is_the_least_squares_line():
    assert scale.slope([50, 100, 200], [5.0, 10.0, 20.0]) == pytest.approx((0.1, 0.0))
    k, b = scale.slope([1, 2, 3, 4], [1.0, 3.0, 2.0, 4.0])
    assert (k, b) == pytest.approx((0.8, 0.5))


def _bare(ref_lifecycle=10.0, ref_exec=3.0, pause=0.5, stats=0.7):
    return {"runs": 3, "load": [1.0, 1.0], "wrapper": 5.0,
            "reference": {"lifecycle": ref_lifecycle, "exec": ref_exec, "pause_resume": pause, "stats": stats},
            "runc": {"lifecycle": 30.0, "exec": 14.0, "pause_resume": 8.0, "stats": 6.0},
            "crun": {"lifecycle": 25.0, "exec": 9.0, "pause_resume": 15.0},
            "crun net": {"lifecycle": 20.0, "exec": 4.0, "pause_resume": 5.0}}


def test_verdicts_compare_against_crun_net_of_its_wrapper_and_the_absolute_bounds():
    rows = {name: (value, verdict) for name, value, _bound, verdict in bare.verdicts(_bare())}
    assert rows["lifecycle <= 0.7x crun run (minus wrapper)"] == (pytest.approx(0.5), "met")
    assert rows["lifecycle <= 0.4x runc run"] == (pytest.approx(10 / 30), "met")
    assert rows["start_process to exit <= crun exec (minus wrapper)"] == (pytest.approx(0.75), "met")
    assert rows["pause+resume ~0.6 ms (<= 0.6)"] == (0.5, "met")
    assert rows["stats ~0.5 ms (<= 0.5)"] == (0.7, "NOT met")


def test_verdicts_say_not_met_when_slower_and_na_when_a_peer_is_missing():
    data = _bare(ref_lifecycle=20.0, ref_exec=5.0)
    del data["crun net"]
    rows = {name: (value, verdict) for name, value, _bound, verdict in bare.verdicts(data)}
    assert rows["lifecycle <= 0.4x runc run"][1] == "NOT met"
    assert rows["lifecycle <= 0.7x crun run (minus wrapper)"] == (None, "n/a")
    assert rows["start_process to exit <= crun exec (minus wrapper)"] == (None, "n/a")


def test_markdown_lists_every_target_with_its_verdict():
    text = bare.markdown(_bare())
    for name, *_rest in bare.TARGETS:
        assert name in text
    assert "NOT met" in text and "5.00 ms" in text
