"""Alerts written to a text stream: one JSON object per line, or one line for people.

Both print an alert when it closes, because only then is its repeat count
final; ``replay`` closes every alert at the end of the input. Attacker bytes
never reach the stream raw: SSIDs are already printable (see
`decoding.text`), and JSON escapes every control character, so one alert is
always exactly one line.
"""

from __future__ import annotations

import json
from typing import TextIO

from ..engine.alert import Alert


class JsonlSink:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def opened(self, alert: Alert) -> None:
        pass

    def closed(self, alert: Alert) -> None:
        self.stream.write(json.dumps(alert.to_dict(), ensure_ascii=False, sort_keys=False) + "\n")


class TextSink:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def opened(self, alert: Alert) -> None:
        pass

    def closed(self, alert: Alert) -> None:
        d = alert.to_dict()
        where = f"channel {d['channel']}" if d["channel"] else "channel ?"
        repeats = f" (seen {alert.repeats + 1} times until {d['evidence']['last_seen']})" if alert.repeats else ""
        self.stream.write(
            f"{d['time']}  {d['severity'].upper():8} {d['rule']:20} {d['bssid'] or '-'}  {where}\n"
            f"    {d['message']}{repeats}\n")
