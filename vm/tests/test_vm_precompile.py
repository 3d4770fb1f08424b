"""What the host makes once for every guest before they need it (runner.precompile)."""

from __future__ import annotations

import glob
import sys

from libcontainer.vm import runner


def test_precompile_builds_hypothesis_unicode_cache_in_the_project(tmp_path):
    """The guests run in the project: its .hypothesis/unicode_data is there before a guest's text() needs it."""
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    runner.precompile(sys.executable, str(tmp_path), [["test_nothing.py"]])
    assert glob.glob(str(tmp_path / ".hypothesis" / "unicode_data" / "*" / "charmap.json.gz"))


def test_no_suite_no_hypothesis_cache(tmp_path):
    runner.precompile(sys.executable, str(tmp_path), [])
    assert not (tmp_path / ".hypothesis").exists()
