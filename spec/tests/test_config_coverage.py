"""Every field of every config dataclass is judged by a clause (issue 10, item 3).

A field counts as covered when a SPEC.md clause names it on its ``*Fields:*`` line (``Config.hostname``,
``Mount.options``) and that clause has a test (test_spec_meta checks that every clause has one), or
when SPEC.md's "Fields without a clause" table lists it with a reason. Adding a field to a config
dataclass without either fails this test.
"""

from __future__ import annotations

import dataclasses
import re
import types

import pytest

import libcontainer.spec.config as config_module
import libcontainer.spec.security as security_module
from libcontainer.conformance.report import clause_titles, spec_path

_FIELD = re.compile(r"`([A-Z][A-Za-z]+\.[a-z_]+)`")
_CLAUSE = re.compile(r"\*\*(LC-[A-Z0-9-]+-\d+)\*\*")



def config_dataclasses(*modules: types.ModuleType) -> dict[str, type]:
    """Name -> class of every dataclass defined in ``modules`` (libcontainer.spec's config and security)."""
    found = {}
    for module in modules or (config_module, security_module):
        for name, obj in vars(module).items():
            if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__:
                found[name] = obj
    return found


def spec_fields(text: str) -> dict[str, set[str]]:
    """``Class.field`` -> the clauses whose ``*Fields:*`` line names it."""
    named: dict[str, set[str]] = {}
    clause = None
    for line in text.splitlines():
        m = _CLAUSE.search(line)
        if m and line.lstrip().startswith("- **"):
            clause = m.group(1)
        elif line.strip().startswith("*Fields:*"):
            assert clause, f"a *Fields:* line before any clause: {line!r}"
            for name in _FIELD.findall(line):
                named.setdefault(name, set()).add(clause)
    return named


def exempt_fields(text: str) -> dict[str, str]:
    """``Class.field`` -> reason, from the table under "### Fields without a clause"."""
    out = {}
    section = text.split("### Fields without a clause", 1)
    if len(section) < 2:
        return out
    for line in section[1].split("\n###", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 2 and _FIELD.fullmatch(cells[0]):
            out[cells[0].strip("`")] = cells[1]
    return out


def uncovered(classes: dict[str, type], text: str) -> list[str]:
    """The fields of ``classes`` that no clause names and no exemption lists."""
    named, exempt = spec_fields(text), exempt_fields(text)
    missing = []
    for cname, cls in sorted(classes.items()):
        for f in dataclasses.fields(cls):
            key = f"{cname}.{f.name}"
            if key not in named and key not in exempt:
                missing.append(key)
    return missing


def _spec_text() -> str:
    with open(spec_path()) as f:
        return f.read()


def test_every_config_field_is_named_by_a_clause_or_exempt():
    missing = uncovered(config_dataclasses(), _spec_text())
    assert not missing, f"config fields that no clause's *Fields:* line names and SPEC.md does not exempt: {missing}"


def test_fields_lines_name_real_fields_of_real_clauses():
    text = _spec_text()
    classes = config_dataclasses()
    titles = clause_titles()
    for name, clauses in spec_fields(text).items():
        cname, fname = name.split(".")
        assert cname in classes, f"{sorted(clauses)} name {name}: no config dataclass {cname}"
        assert fname in {f.name for f in dataclasses.fields(classes[cname])}, f"{sorted(clauses)}: no field {name}"
        assert clauses <= set(titles), f"{name}: unknown clauses {clauses - set(titles)}"
    for name, reason in exempt_fields(text).items():
        cname, fname = name.split(".")
        assert cname in classes and fname in {f.name for f in dataclasses.fields(classes[cname])}, name
        assert len(reason) > 10, f"the exemption of {name} needs a reason"


def test_a_field_added_without_a_clause_fails(monkeypatch):
    """The check is live: a new field on Config (or a new config dataclass) with no clause is reported."""
    text = _spec_text()
    grown = dataclasses.make_dataclass("Config", [("oom_score_adj", int, dataclasses.field(default=0))],
                                       bases=(config_module.Config,))
    monkeypatch.setattr(config_module, "Config", grown)
    grown.__module__ = config_module.__name__
    classes = config_dataclasses()
    assert uncovered(classes, text) == ["Config.oom_score_adj"]
    # naming it on a clause's *Fields:* line, or exempting it, covers it
    assert uncovered(classes, text + "\n- **LC-CFG-HOST-01**: x.\n  *Fields:* `Config.oom_score_adj`\n") == []
    exempting = text.replace("| `Seccomp.architectures` |", "| `Config.oom_score_adj` | a reason given here |\n| `Seccomp.architectures` |")
    assert uncovered(classes, exempting) == []


@pytest.mark.parametrize("cls", ["Mount", "Device", "IDMap", "Network"])
def test_a_field_added_to_a_nested_dataclass_fails(monkeypatch, cls):
    module = config_module if cls == "Mount" else security_module
    grown = dataclasses.make_dataclass(cls, [("label", str, dataclasses.field(default=""))],
                                       bases=(getattr(module, cls),))
    grown.__module__ = module.__name__
    monkeypatch.setattr(module, cls, grown)
    assert f"{cls}.label" in uncovered(config_dataclasses(), _spec_text())
