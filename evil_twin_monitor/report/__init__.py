"""The periodic audit report (``evil-twin-monitor report``).

- `data`     gathers one facility's period from the alert store and the registry
             (availability, uptime, alerts, the plain-language summary)
- `charts`   the charts as inline SVG, and as text for Markdown
- `render`   Jinja2 templates (``templates/*.j2``): HTML autoescaped, Markdown by `md_escape`
- `command`  the command line: `add_report_parser`, `report_command`
"""

from __future__ import annotations

from .command import add_report_parser, report_command

__all__ = ["add_report_parser", "report_command"]
