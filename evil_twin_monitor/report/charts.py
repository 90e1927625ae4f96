"""The report's charts as inline SVG (HTML) and as text (Markdown).

Theory of operation
-------------------
A report is mailed and archived as one file, so its charts are SVG elements
written straight into the page: no script, no external image, nothing fetched
when it is opened, and they print sharply. They are built here as strings, in
Python, with every piece of text (bucket labels, AP labels from the registry)
escaped by `markupsafe.escape`, and handed to the template as `Markup`; the
numbers are ours. Each bar and cell carries a ``<title>`` (a tooltip, and what
a screen reader says), and each chart a text alternative.

- `timeline_svg`: alerts per day (or hour, or week) stacked by severity.
- `presence_svg`: one row for the sensor (share of the time it listened) and
  one per registered AP (share of the listening time it was heard), one cell
  per bucket; grey where nothing was measured.

The Markdown report cannot carry SVG everywhere it is pasted, so it gets the
same numbers as a table and as one line of block characters per row
(`presence_text`).
"""

from __future__ import annotations

import math
from typing import Sequence

from markupsafe import Markup, escape

from .data import Bucket

WIDTH = 760
SEVERITY_COLOURS = {
    "critical": "#a50f15", "high": "#e6550d", "medium": "#fdae6b", "low": "#fdd0a2",
    "info": "#9ecae1",
}
OTHER_COLOUR = "#bdbdbd"
UNMEASURED = "#d9d9d9"
FONT = "font-family:sans-serif;font-size:11px"
MAX_LABEL = 34
TEXT_LEVELS = ((0.9, "█"), (0.5, "▓"), (1e-9, "▒"), (0.0, "·"))
TEXT_UNMEASURED = "-"


def _label_step(count: int, room: int) -> int:
    """Show every n-th axis label so that they do not overlap."""
    return max(1, math.ceil(count / max(1, room)))


def _nice_max(value: int) -> int:
    """The top of the count axis: the peak, rounded up to a round number."""
    if value <= 4:
        return max(1, value)
    step = max(2, 10 ** (len(str(value)) - 1) // 2)
    return -(-value // step) * step


def timeline_svg(buckets: Sequence[Bucket], counts: Sequence[dict[str, int]],
                 severities: Sequence[str]) -> Markup:
    """Stacked bars: alerts first seen per bucket, by severity."""
    left, right, top, bottom = 44, 10, 30, 36
    height = 220
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    n = max(1, len(buckets))
    totals = [sum(c.values()) for c in counts]
    peak = _nice_max(max(totals, default=0))
    slot = plot_w / n
    bar = max(1.0, slot * 0.8)
    total_alerts = sum(totals)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="timeline-chart" '
             f'viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
             f'aria-labelledby="timeline-title" style="{FONT};max-width:{WIDTH}px">',
             f'<title id="timeline-title">Alerts per {bucket_unit(buckets)}: '
             f'{total_alerts} in total</title>']
    # legend
    x = left
    for severity in severities:
        parts.append(f'<rect x="{x}" y="6" width="10" height="10" '
                     f'fill="{SEVERITY_COLOURS.get(severity, OTHER_COLOUR)}"/>'
                     f'<text x="{x + 14}" y="15">{escape(severity)}</text>')
        x += 24 + 7 * len(severity)
    # axes and grid
    for value in (range(peak + 1) if peak <= 4 else (0, peak // 2, peak)):
        y = top + plot_h - plot_h * value / peak
        parts.append(f'<line x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#e0e0e0"/><text x="{left - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{value}</text>')
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#999"/>')
    step = _label_step(n, plot_w // 48)
    for i, (bucket, count) in enumerate(zip(buckets, counts)):
        x0 = left + i * slot + (slot - bar) / 2
        y = top + plot_h
        known = [s for s in severities if count.get(s)]
        extra = sorted(set(count) - set(severities))
        for severity in known + extra:
            h = plot_h * count[severity] / peak
            y -= h
            tip = f"{bucket.title}: {count[severity]} {severity}"
            parts.append(f'<rect class="bar" x="{x0:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{SEVERITY_COLOURS.get(severity, OTHER_COLOUR)}">'
                         f'<title>{escape(tip)}</title></rect>')
        if i % step == 0:
            parts.append(f'<text x="{left + i * slot + slot / 2:.1f}" y="{top + plot_h + 14}" '
                         f'text-anchor="middle">{escape(bucket.label)}</text>')
    if not total_alerts:
        parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" '
                     'text-anchor="middle" fill="#555">No alerts in this period</text>')
    parts.append('</svg>')
    return Markup("".join(parts))


def heat_colour(fraction: float | None) -> str:
    """Grey when unmeasured; red (0) through amber (0.5) to green (1)."""
    if fraction is None:
        return UNMEASURED
    f = min(1.0, max(0.0, fraction))
    stops = ((0.0, (0xd7, 0x30, 0x27)), (0.5, (0xfe, 0xe0, 0x8b)), (1.0, (0x1a, 0x98, 0x50)))
    for (f0, c0), (f1, c1) in zip(stops, stops[1:]):
        if f <= f1:
            t = (f - f0) / (f1 - f0)
            return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(c0, c1))
    return "#1a9850"


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"


def presence_svg(buckets: Sequence[Bucket],
                 rows: Sequence[tuple[str, Sequence[float | None]]]) -> Markup:
    """A heat map: one row per (label, fraction per bucket)."""
    left, right, top, bottom = 230, 10, 34, 26
    row_h = 18
    height = top + bottom + row_h * max(1, len(rows))
    plot_w = WIDTH - left - right
    n = max(1, len(buckets))
    cell = plot_w / n
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="presence-chart" '
             f'viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
             f'aria-labelledby="presence-title" style="{FONT};max-width:{WIDTH}px">',
             f'<title id="presence-title">Sensor listening and registered access points heard, '
             f'per {bucket_unit(buckets)}</title>']
    legend = (("heard all the time", 1.0), ("half the time", 0.5), ("not heard", 0.0),
              ("not measured", None))
    x = left
    for text, value in legend:
        parts.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{heat_colour(value)}"/>'
                     f'<text x="{x + 14}" y="17">{escape(text)}</text>')
        x += 26 + 6 * len(text)
    for r, (label, fractions) in enumerate(rows):
        y = top + r * row_h
        parts.append(f'<text x="{left - 6}" y="{y + row_h - 5}" text-anchor="end">'
                     f'<title>{escape(label)}</title>{escape(_short(label))}</text>')
        for i, (bucket, fraction) in enumerate(zip(buckets, fractions)):
            shown = "not measured" if fraction is None else f"{fraction * 100:.0f} %"
            parts.append(f'<rect class="cell" x="{left + i * cell:.2f}" y="{y + 1}" '
                         f'width="{max(0.5, cell - 0.5):.2f}" height="{row_h - 2}" '
                         f'fill="{heat_colour(fraction)}"><title>'
                         f'{escape(f"{label}, {bucket.title}: {shown}")}</title></rect>')
    step = _label_step(n, plot_w // 48)
    base = top + row_h * max(1, len(rows)) + 14
    for i, bucket in enumerate(buckets):
        if i % step == 0:
            parts.append(f'<text x="{left + i * cell + cell / 2:.1f}" y="{base}" '
                         f'text-anchor="middle">{escape(bucket.label)}</text>')
    parts.append('</svg>')
    return Markup("".join(parts))


def presence_text(fractions: Sequence[float | None]) -> str:
    """One character per bucket: █ ≥ 90 %, ▓ ≥ 50 %, ▒ some, · none, - not measured."""
    out = []
    for fraction in fractions:
        if fraction is None:
            out.append(TEXT_UNMEASURED)
            continue
        out.append(next(ch for level, ch in TEXT_LEVELS if fraction >= level))
    return "".join(out)


def bucket_unit(buckets: Sequence[Bucket]) -> str:
    """'hour', 'day' or 'week': what one bucket spans."""
    if not buckets:
        return "day"
    span = buckets[0].end_ns - buckets[0].start_ns
    return "hour" if span <= 7_200 * 10**9 else "day" if span <= 90_000 * 10**9 else "week"
