"""Turning a `FacilityReport` into HTML and Markdown with Jinja2 templates.

Theory of operation
-------------------
Both outputs come from templates shipped as package data
(``report/templates/*.j2``) and the same view (`view`), so they say the same
things. Text from outside (SSIDs, messages, evidence, registry labels) is
escaped by the template engine, never by hand in a template:

- **HTML**: autoescaping is on, so every ``{{ value }}`` is HTML-escaped;
  only the charts (`charts`, which escape their own text) are `Markup`. The
  page has no script, loads nothing, and says so to the browser too: a
  Content-Security-Policy of ``default-src 'none'`` forbids scripts even if
  something slipped through.
- **Markdown**: Jinja2 has no Markdown autoescape, so the environment's
  ``finalize`` hook plays that part: every ``{{ value }}`` passes through
  `md_escape` unless it is `MdRaw` (text we built from our own characters,
  like a row of block characters). `md_escape` backslash-escapes what
  CommonMark and GitHub-flavoured Markdown would read as syntax: emphasis,
  code, links and images, raw HTML and entities, table pipes, headings,
  list markers, Liquid-style ``{{ }}``, and what autolinkers pick up
  (``://``, ``www.``, ``name.tld``, ``@``). Brackets are escaped, so
  parentheses cannot form a link and stay as they are; leading spaces become
  ``&#32;`` (no code block, and an SSID's spaces survive). Line breaks never
  reach it (`one_line` upstream), and any left would be flattened.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from .charts import bucket_unit, presence_svg, presence_text, timeline_svg
from .data import FacilityReport, percent

MIN_MEASURED_S = 1.0  # listening seconds below which a chart cell is "not measured"

_ALWAYS = re.compile(r"([\\`*{}\[\]<>#+!|~&$^=@])")
_UNDERSCORE = re.compile(r"_(?![A-Za-z0-9])|(?<![A-Za-z0-9])_")
_SCHEME = re.compile(r":(?=//)")
_DOT = re.compile(r"\.(?=[A-Za-z])")
_LEADING = re.compile(r"^(-(?=[\s-]|$)|\d+(?=[.)](?:\s|$)))")
_SPACES = re.compile(r"^ +")


class MdRaw(str):
    """Markdown we wrote ourselves: `md_escape` leaves it alone."""


def md_escape(text: str) -> str:
    """``text`` as literal Markdown text (see the module docstring)."""
    text = text.replace("\r", " ").replace("\n", " ")
    text = _ALWAYS.sub(r"\\\1", text)
    text = _UNDERSCORE.sub(r"\\_", text)
    text = _SCHEME.sub(r"\\:", text)
    text = _DOT.sub(r"\\.", text)
    text = _LEADING.sub(lambda m: m.group(1) + "\\" if m.group(1)[0].isdigit() else "\\-", text)
    return _SPACES.sub(lambda m: "&#32;" * len(m.group(0)), text)


def _md_finalize(value: Any) -> str:
    if isinstance(value, MdRaw):
        return str(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return md_escape(str(value))


def _environment(markdown: bool) -> Environment:
    common: dict[str, Any] = {
        "loader": PackageLoader("evil_twin_monitor.report", "templates"),
        "undefined": StrictUndefined, "trim_blocks": True, "lstrip_blocks": True,
        "keep_trailing_newline": True,
    }
    if markdown:
        env = Environment(autoescape=False, finalize=_md_finalize, **common)
    else:
        env = Environment(autoescape=True, **common)
    env.filters["percent"] = lambda v, digits=1: "–" if v is None else percent(v, digits)
    env.filters["thousands"] = lambda v: f"{round(v):,}"
    return env


_HTML = _environment(markdown=False)
_MARKDOWN = _environment(markdown=True)


def view(report: FacilityReport) -> dict[str, Any]:
    """What both templates get: the report, its charts, and the chart rows."""
    rows: list[tuple[str, list[float | None]]] = []
    listening = ([None] * len(report.buckets) if not report.has_samples
                 else list(report.listening_by_bucket))
    rows.append(("Sensor listening", listening))
    for ap in report.aps:
        if report.presence_recorded:
            fractions: list[float | None] = [
                min(1.0, heard / seconds) if seconds >= MIN_MEASURED_S else None
                for heard, seconds in zip(ap.heard_by_bucket, report.presence_by_bucket)]
        else:
            fractions = [None] * len(report.buckets)
        rows.append((ap.name, fractions))
    timeline_rows = [(bucket, counts) for bucket, counts in zip(report.buckets, report.alert_counts)
                     if counts]
    return {
        "r": report,
        "s": report.summary,
        "timeline_svg": timeline_svg(report.buckets, report.alert_counts, report.severities),
        "presence_svg": presence_svg(report.buckets, rows),
        "presence_rows": [(label, MdRaw(presence_text(fractions))) for label, fractions in rows],
        "timeline_rows": timeline_rows,
        "unit": bucket_unit(report.buckets),
        "first_bucket": report.buckets[0].title if report.buckets else "",
        "last_bucket": report.buckets[-1].title if report.buckets else "",
    }


def render_html(report: FacilityReport) -> str:
    return _HTML.get_template("report.html.j2").render(view(report))


def render_markdown(report: FacilityReport) -> str:
    return _MARKDOWN.get_template("report.md.j2").render(view(report))
