"""The survey's table for people: one line per network heard, whatever its SSID holds.

SSIDs are shown in their printable form (`decoding.text.printable_ssid`), so a
newline, a terminal escape or a byte that is not UTF-8 becomes an escape and
every network stays on one line; columns are padded by display width, so
Japanese SSIDs (two columns per character) keep the table aligned.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone

from ..decoding.channels import BAND_6G, band_of, frequency_to_channel
from ..decoding.text import printable_ssid
from .collect import MAX_SSIDS_PER_BSSID, Network, SurveyCollector, is_hidden
from .draft import security_words, utc_text

COLUMNS = ("SSID", "BSSID", "CHANNEL", "SECURITY", "PMF", "BI", "SIGNAL", "FRAMES",
           "FIRST", "LAST", "NOTES")
_MAX_SSID_WIDTH = 34   # wider SSIDs (many escapes) overflow their column, still on one line


def display_width(text: str) -> int:
    """Terminal columns: wide East Asian characters take two, combining marks none."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def ssid_cell(ssid: bytes) -> str:
    """The SSID as shown in the table; hidden ones say so (their octets are not a name)."""
    if not ssid:
        return "<hidden>"
    if is_hidden(ssid):
        return f"<hidden: {len(ssid)} zero octets>"
    return printable_ssid(ssid)


def channel_cell(frequencies: set[int]) -> str:
    """'1,6' for 2.4/5 GHz channel numbers, 6 GHz as '5955MHz'."""
    parts = []
    for freq in sorted(frequencies):
        channel = frequency_to_channel(freq)
        if channel is None or band_of(freq) == BAND_6G:
            parts.append(f"{freq}MHz")
        else:
            parts.append(str(channel))
    return ",".join(parts) or "-"


def _clock(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=timezone.utc).strftime("%H:%M:%S")


def _row(network: Network, collector: SurveyCollector) -> list[str]:
    security = network.main_security
    notes = []
    if network.hidden:
        notes.append("hidden")
    if len(network.security) > 1:
        notes.append(f"{len(network.security)} security settings")
    station = collector.station(network.bssid)
    if station is not None:
        if len(station.learned) > 1:
            notes.append(f"{len(station.learned)} fingerprints")
        if station.ssids > 1:
            notes.append(f"{station.ssids} SSIDs on this BSSID")
    signal = "-"
    if network.signal_median is not None:
        signal = f"{network.signal_median}/{network.signal_max}"
    interval = network.beacon_interval
    return [
        ssid_cell(network.ssid),
        network.bssid.hex(":"),
        channel_cell(network.frequencies),
        "+".join(security_words(security[0])) or "?" if security else "?",
        security[1] if security else "?",
        str(interval) if interval is not None else "-",
        signal,
        str(network.frames),
        _clock(network.first_ns),
        _clock(network.last_ns),
        ", ".join(notes),
    ]


def render_table(collector: SurveyCollector) -> list[str]:
    """The lines of the table (header line first), sorted by SSID then BSSID, then
    a summary line; times are UTC, signal is median/max dBm, BI the beacon interval (TU)."""
    networks = collector.networks()
    rows = [list(COLUMNS)] + [_row(n, collector) for n in networks]
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(COLUMNS))]
    widths[0] = min(widths[0], _MAX_SSID_WIDTH)
    lines = ["  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip()
             for row in rows]
    bssids = len({n.bssid for n in networks})
    summary = (f"{len(networks)} networks on {bssids} BSSIDs from {collector.frames} beacons and "
               f"probe responses, {utc_text(collector.first_ns)} to {utc_text(collector.last_ns)}"
               " (times UTC; SIGNAL median/max dBm; BI beacon interval, TU)")
    lines.append(summary)
    if collector.untracked_frames:
        lines.append(f"not recorded: {collector.untracked_frames} frames of further networks "
                     f"(cap {collector.max_networks} networks, {MAX_SSIDS_PER_BSSID} SSIDs per BSSID)")
    return lines
