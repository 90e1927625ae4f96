"""The survey: what is on the air, and a registry draft for a facility.

- `collect`  `SurveyCollector`: pure; fed decoded frames, keeps every network heard (bounded)
- `draft`    `render_draft`: registry YAML for people to review, safe for any SSID octets
- `table`    `render_table`: one line per network heard
- `live`     `survey_live`: the sensor's radio hopping every channel of the domain (I/O)
- `command`  ``evil-twin-monitor survey``: `add_survey_parser`, `survey_command`
"""

from __future__ import annotations

from .collect import DEFAULT_MAX_NETWORKS, Network, Station, SurveyCollector, is_hidden
from .command import add_survey_parser, survey_command
from .draft import Draft, render_draft, yaml_scalar
from .table import render_table

__all__ = [
    "DEFAULT_MAX_NETWORKS", "Draft", "Network", "Station", "SurveyCollector",
    "add_survey_parser", "is_hidden", "render_draft", "render_table", "survey_command",
    "yaml_scalar",
]
