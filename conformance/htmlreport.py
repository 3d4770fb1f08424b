"""The clause matrix as one self-contained HTML file (no script, no external resource).

Rows are SPEC.md clauses (linked to their text in SPEC.md), columns are
runtime x kernel (cgroup) with the run's versions and status in the header;
each cell is coloured by outcome and opens (a ``<details>`` element, one
click) to the tests behind each outcome and the first line of each failure.
A column whose run failed or crashed has a striped header and every cell is
marked ``run-failed``: it never reads green.
"""

from __future__ import annotations

import html
import os
import urllib.parse

from .outcomes import CRASHED, OUTCOMES
from .report import column, column_runs, run_status, version_label

COLOURS = {"passed": "#2e9d4d", "failed": "#d0312d", "blocked": "#8e44ad", "xfailed": "#e08e0b",
           "not-supported": "#3a78c2", "skipped": "#8a8a8a", "host-only": "#c9b458", CRASHED: "#222222"}

CSS = """
body{font:14px/1.35 system-ui,sans-serif;margin:1.2em;color:#222}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
th{background:#f3f3f3;text-align:left}th.col{min-width:11em;font-weight:normal}
th.col.run-failed{background:repeating-linear-gradient(45deg,#fbe3e3,#fbe3e3 6px,#fff 6px,#fff 12px)}
td.title{max-width:32em;font-size:12px;color:#555}
td.cell{color:#fff;font-weight:600;min-width:7em}td.cell.none{background:#fff;color:#aaa}
td.cell.run-failed{outline:3px dashed #d0312d;outline-offset:-3px}
details summary{cursor:pointer}details div{font-weight:normal;font-size:12px;background:#fff;color:#222;
padding:3px;margin-top:3px;max-width:40em;overflow-wrap:anywhere}
.legend span{display:inline-block;color:#fff;padding:1px 6px;margin-right:4px;border-radius:3px}
.bad{color:#d0312d;font-weight:600}code{font-size:12px}
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _short(text: str, n: int = 110) -> str:
    return text if len(text) <= n else text[:n - 1].rsplit(" ", 1)[0] + "…"


def _cell(rec: dict | None, run_failed: bool) -> str:
    if rec is None:
        return '<td class="cell none">-</td>'
    outcome = rec["outcome"]
    classes = f"cell o-{outcome}" + (" run-failed" if run_failed else "")
    label = outcome + (" (run failed)" if run_failed else "")
    body = []
    for o in OUTCOMES:
        tests = rec.get("by_outcome", {}).get(o, [])
        if not tests:
            continue
        items = []
        for t in tests:
            msg = rec.get("messages", {}).get(t)
            items.append(f"<li><code>{_e(t)}</code>" + (f"<br>{_e(msg)}" if msg else "") + "</li>")
        body.append(f"<b>{_e(o)}</b> ({len(tests)})<ul>{''.join(items)}</ul>")
    inner = "".join(body) or "no tests"
    colour = COLOURS.get(outcome, "#555")
    if run_failed:  # never green: the outcome's colour, hatched with grey
        colour = f"repeating-linear-gradient(45deg,{colour},{colour} 5px,#777 5px,#777 10px)"
    return (f'<td class="{classes}" data-outcome="{_e(outcome)}" style="background:{colour}">'
            f"<details><summary>{_e(label)}</summary><div>{inner}</div></details></td>")


def render(records: list[dict], spec_href: str = "SPEC.md", title: str = "libcontainer clause matrix") -> str:
    """The HTML page of merged ``records`` (:func:`libcontainer.conformance.report.merge`)."""
    cols = sorted({column(r) for r in records})
    runs = column_runs(records)
    clauses = sorted({r["clause"] for r in records if r["clause"]})
    cells = {(r["clause"], *column(r)): r for r in records}
    titles = {r["clause"]: r.get("title", "") for r in records if r["clause"]}
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{_e(title)}</title>",
           f"<style>{CSS}</style></head><body>", f"<h1>{_e(title)}</h1>", '<p class="legend">']
    out += [f'<span style="background:{COLOURS[o]}">{_e(o)}</span>' for o in (*OUTCOMES, CRASHED)]
    out.append("</p><table><thead><tr><th>clause</th><th>title</th>")
    bad = set()
    for col in cols:
        rs = runs.get(col, [])
        status = run_status(rs)
        if status != "ok":
            bad.add(col)
        versions = ", ".join(sorted({version_label(r) for r in rs})) or "?"
        suite = "; ".join(sorted({f"suite {r.get('suite_version', '?')}, SPEC.md {r.get('spec_version', '?')}"
                                  for r in rs}))
        ran = sum(r.get("ran", 0) for r in rs)
        out.append(f'<th class="col{" run-failed" if col in bad else ""}" data-column="{_e("|".join(col))}">'
                   f"<b>{_e(col[0])}</b><br>kernel {_e(col[1])}<br>cgroup {_e(col[2])}<br><small>{_e(versions)}"
                   f"<br>{_e(suite)}<br>{ran} tests ran</small><br>"
                   + (f'<span class="bad">{_e(status)}</span>' if col in bad else "run ok") + "</th>")
    out.append("</tr></thead><tbody>")
    for c in clauses:
        href = f"{spec_href}#:~:text={urllib.parse.quote(c)}"
        out.append(f'<tr data-clause="{_e(c)}"><th><a href="{_e(href)}">{_e(c)}</a></th>'
                   f'<td class="title" title="{_e(titles.get(c, ""))}">{_e(_short(titles.get(c, "")))}</td>')
        out += [_cell(cells.get((c, *col)), col in bad) for col in cols]
        out.append("</tr>")
    out.append("</tbody><tfoot><tr><th>total</th><td></td>")
    for col in cols:
        outs = [cells[(c, *col)]["outcome"] for c in clauses if (c, *col) in cells]
        out.append("<td>" + _e(", ".join(f"{outs.count(o)} {o}" for o in OUTCOMES if outs.count(o)) or "none")
                   + "</td>")
    out.append("</tr></tfoot></table></body></html>")
    return "\n".join(out) + "\n"


def spec_href_for(html_path: str, spec: str) -> str:
    """The link from ``html_path`` to SPEC.md: relative when both are on this host."""
    try:
        return os.path.relpath(spec, os.path.dirname(os.path.abspath(html_path)))
    except ValueError:
        return spec
