"""Unit tests of the bench scripts' arithmetic and verdicts (no root, no containers).

Run: ``.venv/bin/pytest bench/tests``.
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import abtree  # noqa: E402
import bare  # noqa: E402
import forkcost  # noqa: E402
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


def test_abtree_summary_pairs_the_trees_with_the_peers_net_of_the_wrapper():
    """abtree.summary: medians per tree and peer, crun net of its wrapper (once per command, twice for
    pause + resume), the after/before ratio last, and the issue's verdicts for both trees."""
    ops = {"lifecycle": [10.0, 12.0, 11.0], "exec": [3.0, 5.0, 4.0], "pause_resume": [0.5, 0.5, 0.5],
           "stats": [0.4, 0.6, 0.5]}
    half = {op: [v / 2 for v in values] for op, values in ops.items()}
    samples = {"before": ops, "after": half,
               "runc": {"lifecycle": [40.0] * 3, "exec": [14.0] * 3, "pause_resume": [8.0] * 3, "stats": [6.0] * 3},
               "crun": {"lifecycle": [30.0] * 3, "exec": [9.0] * 3, "pause_resume": [15.0] * 3},
               "wrapper": {"alone": [5.0] * 3}}
    text = abtree.summary({"samples": samples, "load": [1.0, 2.0], "runs": 3, "trees": {"before": "/b", "after": "/a"}})
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert rows["lifecycle"] == "| lifecycle | 11.00 | 5.50 | 40.00 | 25.00 | 0.50 |"
    assert rows["pause_resume"] == "| pause_resume | 0.50 | 0.25 | 8.00 | 5.00 | 0.50 |"
    assert rows["stats"] == "| stats | 0.50 | 0.25 | 6.00 | n/a | 0.50 |"
    assert "after: lifecycle <= 0.7x crun run (minus wrapper): measured 0.22 -> met" in text
    assert "before: start_process to exit <= crun exec (minus wrapper): measured 1.00 -> met" in text
    assert "load 1.00 before, 2.00 after" in text
    assert "after/before paired round by round (median of the ratios): lifecycle 0.50, exec 0.50" in text


def test_abtree_summary_names_the_interpreters_of_a_paired_run():
    """abtree --before-python/--after-python: the summary's first line names each tree's interpreter
    (one tree under two interpreters is otherwise two identical names); none given, none named."""
    ops = {"lifecycle": [10.0], "exec": [3.0], "pause_resume": [0.5], "stats": [0.4]}
    result = {"samples": {"before": ops, "after": ops}, "load": [1.0, 2.0], "runs": 1,
              "trees": {"before": "/t", "after": "/t"}}
    assert "interpreters" not in abtree.summary(result).splitlines()[0]
    first = abtree.summary(dict(result, pythons={"before": "/v1/bin/python", "after": "/v2/bin/python"})).splitlines()[0]
    assert first.endswith("; interpreters before: /v1/bin/python, after: /v2/bin/python")


def test_forkcost_times_a_fork_its_first_statement_and_its_exec_in_order():
    """bench/forkcost.py (no root needed): each median positive, the child's first statement after
    fork's return in the parent, its exec after its first statement; an unknown mode is refused."""
    times = forkcost.measure(20)
    assert 0 < times["fork in parent"] <= times["fork to first statement"] <= times["fork to exec"]
    assert forkcost.load("heap") and forkcost.load("mod:json") == []
    with pytest.raises(SystemExit):
        forkcost.load("nonsense")
