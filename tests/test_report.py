"""The periodic audit report: what it counts, what it says, and that hostile
SSIDs cannot break or inject anything into its HTML (checked in a real
headless Chromium) or its Markdown (checked with a CommonMark/GFM renderer)."""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from evil_twin_monitor.cli import _parser
from evil_twin_monitor.decoding.text import printable_ssid
from evil_twin_monitor.engine import Alert
from evil_twin_monitor.registry import load_registry
from evil_twin_monitor.report import report_command
from evil_twin_monitor.report.data import gather, parse_period
from evil_twin_monitor.report.render import md_escape, render_html, render_markdown, view
from evil_twin_monitor.store import AlertStore, HealthRow, PresenceRow, alert_row

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "fixtures" / "registry.yaml"
S = 1_000_000_000
H = 3600 * S


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()) * S


NOV = ts("2026-11-01T00:00:00")
DEC = ts("2026-12-01T00:00:00")
NOW = ts("2026-12-02T09:00:00") / S
LOBBY, ENTRANCE, MULTI = "00:1a:2b:3c:4d:50", "00:1a:2b:3c:4d:60", "00:1a:2b:3c:4e:00/44"
SECTIONS = ("summary", "access-points", "charts", "alerts", "sensor", "signoff")

# Attacker-chosen SSIDs (each at most 32 octets, as on the air).
HOSTILE = [
    b"<script>alert(1)</script>",
    b'"><img src=x onerror=alert(1)>',
    b"<svg onload=document.title=1>",
    b"line1\nline2\r\n# heading",
    b"\x1b[31mred\x1b[0m\x1b]0;pwned\x07",
    b"\xff\xfe not UTF-8 \xc3\x28",
    b"\x00" * 32,
    b"[x](javascript:alert(1))|a|b",
    b"www.evil.example **{{7*7}}**",
]
SMALL_REGISTRY = """\
facilities:
  - id: town-hall
    name: "Town hall <b>annex</b> | west"
    networks:
      - ssid: Town_Free_Wi-Fi
        security: [wpa2-psk]
        pmf: optional
        access_points:
          - {bssid: "00:1a:2b:3c:4d:50", label: "lobby <i>1F</i> | [x](http://e.example)", channels: [1]}
"""


# -- building stores ---------------------------------------------------------------------------
def alert(n: int, first_ns: int, *, last_ns: int | None = None, rule: str = "unknown_bssid",
          severity: str = "critical", facility: str | None = "city-hall",
          ssid: bytes | None = b"Shinjuku_Free_Wi-Fi", message: str | None = None,
          evidence: dict | None = None, bssid: int | None = None) -> Alert:
    return Alert(rule=rule, severity=severity, facility=facility, sensor="s1", ssid=ssid,
                 bssid=bytes.fromhex(f"02aabb{n if bssid is None else bssid:06x}"),
                 frequency_mhz=2462,
                 message=message or f"test alert {n}", evidence=dict(evidence or {"n": n}),
                 time_ns=first_ns, first_frame=n, last_ns=last_ns or first_ns, last_frame=n,
                 repeats=0, closed=True)


def hourly(first_end_ns: int, count: int, *, facility: str = "city-hall", down=(), no_presence=(),
           drops: int = 0) -> list[HealthRow]:
    """Hour-long health samples ending at first_end_ns + k hours."""
    return [HealthRow("s1", facility, first_end_ns + k * H, 3600.0, 0.0 if k in down else 3600.0,
                      1000, drops, 0 if k in no_presence else 1) for k in range(count)]


def heard(rows: list[HealthRow], bssid: str, which, facility: str = "city-hall") -> list[PresenceRow]:
    return [PresenceRow(facility, r.sensor, bssid, r.time_ns, r.interval_s, 50)
            for k, r in enumerate(rows) if which(k) and r.presence and r.up_s > 0]


def make_store(path: Path, alerts=(), health=(), presence=()) -> Path:
    store = AlertStore.open_writer(path)
    try:
        store.upsert([alert_row(a) for a in alerts])
        store.add_samples(list(health), list(presence))
    finally:
        store.close()
    return path


def report_of(store_path: Path, facility: str = "city-hall", first: str = "2026-11-01",
              last: str = "2026-11-30", tz: str = "UTC", registry: Path = REGISTRY):
    store = AlertStore.open_reader(store_path)
    try:
        return gather(store, load_registry(registry), facility, parse_period(first, last, tz),
                      now_ns=int(NOW * S), sources=[f"alert store {store_path}"])
    finally:
        store.close()


def report_args(store: Path, out_dir: Path, *more: str, first: str = "2026-11-01",
                last: str = "2026-11-30", registry: Path = REGISTRY) -> list[str]:
    return ["--from", first, "--to", last, "--store", str(store), "--registry", str(registry),
            "--out", str(out_dir), *more]


def run_report(*argv: str) -> tuple[int, str, str]:
    args: argparse.Namespace = _parser().parse_args(["report", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = report_command(args, out=out, err=err, now=lambda: NOW)
    return code, out.getvalue(), err.getvalue()


# -- the period ----------------------------------------------------------------------------------
def test_a_period_is_whole_days_in_the_chosen_time_zone():
    november = parse_period("2026-11-01", "2026-11-30", "Asia/Tokyo")
    assert november.start_ns == ts("2026-10-31T15:00:00")
    assert november.end_ns == ts("2026-11-30T15:00:00")
    assert (november.label, november.when) == ("November 2026", "in November 2026")
    assert parse_period("2026-11-03", "2026-11-03").when == "on 2026-11-03"
    assert parse_period("2026-01-01", "2026-12-31").label == "2026"
    assert parse_period("2026-11-01", "2026-11-15").when == "from 2026-11-01 to 2026-11-15"
    assert parse_period("2026-11-01", "2026-11-15").file_part == "2026-11-01-2026-11-15"


@pytest.mark.parametrize("argv, message", [
    (["--from", "2026-13-01", "--to", "2026-12-01"], "--from '2026-13-01': not a date; use YYYY-MM-DD"),
    (["--from", "yesterday", "--to", "2026-12-01"], "--from 'yesterday': not a date"),
    (["--from", "2026-11-01", "--to", "2026/11/30"], "--to '2026/11/30': not a date"),
    (["--from", "2026-11-02", "--to", "2026-11-01"], "--to 2026-11-01 is before --from 2026-11-02"),
    (["--from", "2026-11-01", "--to", "2026-11-30", "--timezone", "Mars/Olympus"],
     "--timezone 'Mars/Olympus': unknown time zone"),
    (["--from", "2026-11-01", "--to", "2026-11-30", "--format", "pdf"], "--format 'pdf'"),
    (["--from", "2026-11-01", "--to", "2026-11-30", "--facility", "nowhere"],
     "--facility nowhere: no such facility in the registry (known: city-hall, central-library)"),
    (["--from", "2030-01-01", "--to", "2030-01-31"], "the period has not begun yet"),
    # Dates beyond the store's nanosecond integers (1970 to 2262) are errors, not tracebacks.
    (["--from", "0001-01-01", "--to", "0001-01-05"],
     "--from 0001-01-01: outside the days the alert store can hold (1970-01-01 to 2262-04-10)"),
    (["--from", "9999-12-01", "--to", "9999-12-31"], "--from 9999-12-01: outside the days"),
    (["--from", "1969-12-31", "--to", "1970-01-02"], "--from 1969-12-31: outside the days"),
    (["--from", "2262-04-01", "--to", "2262-04-11"], "--to 2262-04-11: outside the days"),
    (["--from", "2262-04-01", "--to", "2262-04-10"], "the period has not begun yet"),
])
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(tmp_path, argv, message):
    store = make_store(tmp_path / "alerts.sqlite3", health=hourly(NOV + H, 3))
    out_dir = tmp_path / "out"
    code, out, err = run_report(*argv, "--store", str(store), "--registry", str(REGISTRY),
                                "--out", str(out_dir))
    assert (code, out) == (2, "")
    assert message in err and err.count("\n") == 1, err
    assert not out_dir.exists() or not list(out_dir.iterdir())


@pytest.mark.parametrize("argv, message", [
    (["--store", "STORE"], "--store needs --registry PATH"),
    (["--registry", str(REGISTRY)], "report needs --config PATH, or --store PATH with --registry"),
    (["--store", "MISSING", "--registry", str(REGISTRY)], "no alert store here"),
])
def test_missing_sources_exit_2_with_one_line(tmp_path, argv, message):
    store = make_store(tmp_path / "alerts.sqlite3", health=hourly(NOV + H, 3))
    argv = [a.replace("MISSING", str(tmp_path / "none.sqlite3")).replace("STORE", str(store))
            for a in argv]
    code, out, err = run_report("--from", "2026-11-01", "--to", "2026-11-30", *argv,
                                "--out", str(tmp_path / "out"))
    assert (code, out) == (2, "")
    assert message in err and err.count("\n") == 1, err


# -- what is counted -------------------------------------------------------------------------------
def test_only_alerts_of_the_period_and_the_facility_are_reported(tmp_path):
    alerts = [
        alert(1, ts("2026-10-31T20:00:00"), last_ns=ts("2026-10-31T23:00:00")),  # ended before
        alert(2, ts("2026-10-31T23:30:00"), last_ns=ts("2026-11-01T00:30:00")),  # still seen
        alert(3, ts("2026-11-15T12:00:00"), severity="medium", rule="lookalike_ssid"),
        alert(4, ts("2026-12-01T00:00:01")),                                        # after
        alert(5, ts("2026-11-10T08:00:00"), facility="central-library"),
    ]
    path = make_store(tmp_path / "alerts.sqlite3", alerts, hourly(NOV + H, 720))
    city = report_of(path)
    assert [a.id for a in city.alerts] == [2, 3]
    by_day = {b.title: counts for b, counts in zip(city.buckets, city.alert_counts) if counts}
    assert by_day == {"2026-11-01": {"critical": 1}, "2026-11-15": {"medium": 1}}
    assert len(city.buckets) == 30
    assert [a.id for a in report_of(path, "central-library").alerts] == [5]
    # Without --facility: one report per facility of the registry with data in the store.
    out_dir = tmp_path / "out"
    code, out, err = run_report("--from", "2026-11-01", "--to", "2026-11-30", "--store", str(path),
                                "--registry", str(REGISTRY), "--out", str(out_dir))
    assert (code, err) == (0, "")
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["report-central-library-2026-11-01-2026-11-30.html",
                     "report-central-library-2026-11-01-2026-11-30.md",
                     "report-city-hall-2026-11-01-2026-11-30.html",
                     "report-city-hall-2026-11-01-2026-11-30.md"]
    assert sorted(out.splitlines()) == sorted(str(out_dir / n) for n in names)
    code, out, _ = run_report("--from", "2026-11-01", "--to", "2026-11-30", "--store", str(path),
                              "--registry", str(REGISTRY), "--out", str(tmp_path / "one"),
                              "--facility", "city-hall", "--format", "md")
    assert code == 0 and out == f"{tmp_path / 'one' / 'report-city-hall-2026-11-01-2026-11-30.md'}\n"


def test_uptime_and_availability_arithmetic(tmp_path):
    # Hourly samples from 2026-10-31T23:30 to 2026-12-01T00:30: the first and the last lie half
    # outside November. Six hours without radio (k = 30..35), one hour without presence (k = 100).
    rows = hourly(NOV + H // 2, 721, down=range(30, 36), no_presence={100})
    presence = heard(rows, LOBBY, lambda k: True) + heard(rows, ENTRANCE, lambda k: k % 2 == 0)
    path = make_store(tmp_path / "alerts.sqlite3", health=rows, presence=presence)
    report = report_of(path)
    [sensor] = report.sensors
    assert sensor.up_s == pytest.approx((720 - 6) * 3600)
    assert sensor.uptime == pytest.approx(714 / 720)
    aps = {ap.bssid: ap for ap in report.aps}
    listening_h = 720 - 6 - 1                          # open, with presence recorded
    assert aps[LOBBY].listening_s == pytest.approx(listening_h * 3600)
    assert aps[LOBBY].availability == pytest.approx(1.0)
    # Even k: 361 samples, two of them half inside, minus 3 down and the one without presence.
    assert aps[ENTRANCE].heard_s == pytest.approx((360 - 3 - 1) * 3600)
    assert aps[ENTRANCE].availability == pytest.approx(356 / 713)
    assert aps[MULTI].availability == 0.0 and aps[MULTI].last_heard is None
    assert len(report.aps) == 6                         # city-hall's entries, not the library's
    s = report.summary
    assert s.headline == ("In November 2026 the sensor at 新宿区役所 本庁舎 (city-hall) ran 99.2 % of "
                          "the time; no fake access point imitated the ward's networks.")
    [note] = [n for n in s.notes if "heard less than 90 %" in n]
    assert f"1F entrance ({ENTRANCE}) 49.9 %" in note and f"({MULTI}) 0.0 %" in note
    assert f"3F lobby ({LOBBY})" not in note
    assert s.verdict == "attention"
    # The chart: 2026-11-02 lost six of its hours; its lobby cell is still "heard all the time".
    v = view(report)
    listening = dict(zip([b.title for b in report.buckets], v["presence_rows"][0][1]))
    assert listening["2026-11-02"] == "▓" and listening["2026-11-03"] == "█"
    assert set(v["presence_rows"][1][1]) == {"█"}


def test_a_sensor_that_kept_up_and_heard_everything_gets_a_clean_report(tmp_path):
    registry = tmp_path / "registry.yaml"
    registry.write_text(SMALL_REGISTRY)
    rows = hourly(NOV + H, 720, facility="town-hall")
    path = make_store(tmp_path / "alerts.sqlite3", health=rows,
                      presence=heard(rows, LOBBY, lambda k: True, "town-hall"))
    report = report_of(path, "town-hall", registry=registry)
    assert report.summary.verdict == "clear"
    assert report.summary.headline.endswith("ran 100.0 % of the time; no fake access point "
                                            "imitated the ward's networks.")
    html, md = render_html(report), render_markdown(report)
    assert '<p id="no-alerts">No alerts in this period.</p>' in html
    assert "## Alerts\n\nNo alerts in this period.\n" in md
    assert "Nothing to report" in html and "**Nothing to report**" in md


def test_a_period_without_any_record_of_the_sensor_cannot_be_signed_off_as_checked(tmp_path):
    path = make_store(tmp_path / "alerts.sqlite3", health=hourly(ts("2026-10-01T01:00:00"), 24))
    report = report_of(path)
    assert report.sensors == [] and report.summary.verdict == "unchecked"
    assert report.summary.headline.startswith("No record shows the sensor at 新宿区役所 本庁舎 "
                                              "(city-hall) listening in November 2026")
    assert "Not checked" in render_html(report)


def test_a_store_from_before_health_recording_says_uptime_is_unknown(tmp_path):
    path = tmp_path / "alerts.sqlite3"
    make_store(path, [alert(1, ts("2026-11-05T10:00:00"))])
    conn = AlertStore.open_writer(path).conn
    conn.execute("DROP TABLE health")
    conn.execute("DROP TABLE ap_presence")
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    report = report_of(path)
    assert not report.has_samples and report.summary.verdict == "attention"
    assert "uptime is unknown" in report.summary.headline
    assert "1 alert about devices imitating the ward's networks (1 critical)" in \
        report.summary.headline


def test_kernel_drops_and_a_long_outage_are_explained(tmp_path):
    rows = hourly(NOV + H, 720, down=range(0, 48), drops=10)
    path = make_store(tmp_path / "alerts.sqlite3", health=rows,
                      presence=heard(rows, LOBBY, lambda k: True))
    notes = report_of(path).summary.notes
    assert any(n.startswith("The sensor was not listening for 2 days in total") for n in notes)
    assert any("7,200 frames (1.0 %) were dropped" in n for n in notes), notes


# -- hostile text -----------------------------------------------------------------------------------
def hostile_store(path: Path) -> Path:
    alerts = []
    for n, raw in enumerate(HOSTILE, start=1):
        alerts.append(alert(
            n, ts("2026-11-03T10:00:00") + n * 60 * S, ssid=raw,
            message="twin says: " + raw.decode("latin-1") + "\u202e reversed",
            evidence={"names": [raw.decode("latin-1"), "<script>document.title='pwned'</script>"],
                      "evidence_file": f"evidence/2026-11-03/alert-{n}<b>.pcap"}))
    rows = hourly(NOV + H, 720)
    return make_store(path, alerts, rows, heard(rows, LOBBY, lambda k: True))


class Dom(HTMLParser):
    """Elements (tag, attributes) and text of an HTML document, in order."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._in_title = False
        self.title = ""
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in_title = tag == "title" and not any(t == "svg" for t, _ in self.elements[:-1])

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_title:
            self.title += data

    def tags(self, name: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.elements
                if t == name and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())]

    def classed(self, name: str, cls: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.elements if t == name and cls in (a.get("class") or "").split()]


def assert_nothing_injected(dom: Dom, alerts: int) -> None:
    tags = [t for t, _ in dom.elements]
    for forbidden in ("script", "img", "iframe", "object", "embed", "a", "link", "base", "form"):
        assert forbidden not in tags, forbidden
    assert tags.count("svg") == 2                        # our two charts, nothing else
    handlers = [(t, k) for t, a in dom.elements for k in a if k.lower().startswith("on")]
    assert handlers == []
    for section in SECTIONS:
        assert dom.tags("section", id=section), section
    assert len(dom.classed("tr", "alert")) == alerts
    text = "".join(dom.text)
    for raw in HOSTILE:
        assert f'"{printable_ssid(raw)}"' in text          # shown as text, exactly
    assert "<script>document.title='pwned'</script>" in text
    assert "\u202e" not in text and "\x1b" not in text and "\x00" not in text


def test_hostile_ssids_stay_text_in_the_html(tmp_path):
    report = report_of(hostile_store(tmp_path / "alerts.sqlite3"))
    html = render_html(report)
    dom = Dom(html)
    assert_nothing_injected(dom, len(HOSTILE))
    assert dom.title == "Wi-Fi audit report: 新宿区役所 本庁舎, November 2026"
    assert 'Content-Security-Policy" content="default-src \'none\'' in html
    files = [a for a in dom.classed("span", "evidence-file")]
    assert len(files) == len(HOSTILE)
    assert "evidence/2026-11-03/alert-1<b>.pcap" in "".join(dom.text)


def markdown_html(md: str) -> str:
    """The Markdown rendered as GitHub-flavoured CommonMark would: tables,
    strikethrough, and autolinks (linkify) on."""
    return MarkdownIt("commonmark", {"linkify": True}).enable(
        ["table", "strikethrough", "linkify"]).render(md)


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "[x](javascript:alert(1))",
    "![i](http://e.example/i.png)", "a|b|c", "*em* _em_ **strong** `code` ~~gone~~",
    "http://evil.example/x", "www.evil.example", "evil.example", "me@evil.example",
    "# heading", "- item", "1. item", "> quote", "&lt;b&gt; &amp;", "\\*not em\\*",
    "{{ site.secret }} {% include x %}", "<http://evil.example>", "    indented code",
])
def test_markdown_escaping_leaves_plain_text(text):
    escaped = md_escape(text)
    html = markdown_html(f"| a | b |\n|---|---|\n| {escaped} | x |\n\nsaid: {escaped}\n")
    dom = Dom(html)
    assert [t for t, _ in dom.elements] == ["table", "thead", "tr", "th", "th", "tbody", "tr",
                                            "td", "td", "p"], html
    cells = [d for d in dom.text if d.strip()]
    assert cells == ["a", "b", text, "x", f"said: {text}"], html   # spaces kept, too


def test_markdown_escaping_keeps_ordinary_text_readable():
    assert md_escape("2026-11-03 14:05:09 JST") == "2026-11-03 14:05:09 JST"
    assert md_escape("Shinjuku_Free_Wi-Fi, channel 11 (2462 MHz): 99.2 %") == \
        "Shinjuku_Free_Wi-Fi, channel 11 (2462 MHz): 99.2 %"
    assert md_escape("00:1a:2b:3c:4d:50") == "00:1a:2b:3c:4d:50"


def test_hostile_ssids_stay_text_in_the_markdown(tmp_path):
    registry = tmp_path / "registry.yaml"
    registry.write_text(SMALL_REGISTRY)
    alerts = [alert(n, ts("2026-11-03T10:00:00") + n * 60 * S, ssid=raw, facility="town-hall",
                    message="twin says: " + raw.decode("latin-1"),
                    evidence={"names": [raw.decode("latin-1")],
                              "evidence_file": f"alert-{n}|x*.pcap"})
              for n, raw in enumerate(HOSTILE, start=1)]
    rows = hourly(NOV + H, 720, facility="town-hall")
    path = make_store(tmp_path / "alerts.sqlite3", alerts, rows,
                      heard(rows, LOBBY, lambda k: True, "town-hall"))
    md = render_markdown(report_of(path, "town-hall", registry=registry))
    html = markdown_html(md)
    dom = Dom(html)
    tags = [t for t, _ in dom.elements]
    for forbidden in ("script", "img", "a", "svg", "em", "del", "h4", "h5", "h6", "pre"):
        assert forbidden not in tags, forbidden
    # Our own structure, and nothing more: h1, the sections, one h3 per alert (+ "What happened").
    assert tags.count("h1") == 1
    assert [t for t in tags if t == "h3"] == ["h3"] * (len(HOSTILE) + 1)
    assert tags.count("table") == 5                     # APs, timeline, presence, sensor, sign-off
    text = "".join(dom.text)
    for raw in HOSTILE:
        assert f'"{printable_ssid(raw)}"' in text
    assert "lobby <i>1F</i> | [x](http://e.example)" in text
    assert "Town hall <b>annex</b> | west" in text
    # Every table row has as many cells as its header.
    for table in html.split("<table>")[1:]:
        body = table.split("</table>")[0]
        header = len(re.findall(r"<th[ >]", body.split("</tr>")[0]))
        for row in body.split("</tr>")[1:-1]:
            assert len(re.findall(r"<td[ >]", row)) == header, row


# -- the real thing: a browser, and the installed command ------------------------------------------
def chromium_dom(page: Path, profile: Path) -> str:
    """The DOM Chromium built from ``page`` after loading it (scripts, if any, have run)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("needs Debian's chromium package (scripts/setup.sh --with-test-tools)")
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(profile)})
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_headless_chromium_renders_every_section_and_no_hostile_ssid_runs(tmp_path):
    # The harness can see a script run: a page whose script sets the title shows it changed.
    probe = tmp_path / "probe.html"
    probe.write_text("<title>before</title><script>document.title = 'after'</script>")
    assert Dom(chromium_dom(probe, tmp_path / "profile")).title == "after"

    path = hostile_store(tmp_path / "alerts.sqlite3")
    out_dir = tmp_path / "out"
    code, out, err = run_report("--from", "2026-11-01", "--to", "2026-11-30", "--store", str(path),
                                "--registry", str(REGISTRY), "--out", str(out_dir),
                                "--facility", "city-hall", "--format", "html")
    assert (code, err) == (0, "")
    page = Path(out.strip())
    dom = Dom(chromium_dom(page, tmp_path / "profile"))
    assert dom.title == "Wi-Fi audit report: 新宿区役所 本庁舎, November 2026"   # no script ran
    assert_nothing_injected(dom, len(HOSTILE))
    for n in range(1, len(HOSTILE) + 1):
        assert dom.tags("tr", id=f"alert-{n}") and dom.tags("tr", id=f"alert-{n}-detail")
    assert dom.tags("svg", id="timeline-chart") and dom.tags("svg", id="presence-chart")
    assert len(dom.classed("rect", "bar")) == 1           # all alerts on one day, one severity
    assert len(dom.classed("rect", "cell")) == 30 * (1 + 6)  # 30 days x (sensor + 6 APs)
    text = " ".join("".join(dom.text).split())
    assert "Sign-off" in text and "Prepared by (contractor)" in text and "Signature" in text
    assert "9 alerts about devices imitating the ward's networks (9 critical)" in text


def test_the_command_and_its_templates_work_from_the_installed_package(tmp_path):
    config = tmp_path / "sensor.yaml"
    config.write_text(f"sensor: {{id: s1, facility: city-hall}}\nregistry: {REGISTRY}\n"
                      "store: {path: alerts.sqlite3}\n")
    make_store(tmp_path / "alerts.sqlite3", [alert(1, ts("2026-11-05T10:00:00"))],
               hourly(NOV + H, 24))
    result = subprocess.run(
        [sys.executable, "-m", "evil_twin_monitor", "report", "--config", str(config),
         "--from", "2026-11-01", "--to", "2026-11-30", "--out", str(tmp_path / "out"),
         "--timezone", "Asia/Tokyo"],
        capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    html, md = [Path(line) for line in result.stdout.splitlines()]
    assert html.name == "report-city-hall-2026-11-01-2026-11-30.html" and md.suffix == ".md"
    assert "2026-11-05 19:00:00 JST" in html.read_text()  # 10:00 UTC in Tokyo
    assert "2026-11-05 19:00:00 JST" in md.read_text()


def test_the_first_and_last_days_the_store_can_hold_make_a_period():
    assert parse_period("1970-01-01", "1970-01-01").start_ns == 0
    assert parse_period("1970-01-01", "1970-01-01", "Asia/Tokyo").start_ns == -9 * H
    assert parse_period("2262-04-10", "2262-04-10", "America/Los_Angeles").end_ns < 2**63


# -- alerts without a facility ---------------------------------------------------------------------
def test_alerts_without_a_facility_are_reported_never_an_all_clear(tmp_path):
    """`replay` without --facility: alerts with no facility, health rows with an
    empty one; only the presence rows name the facility."""
    path = tmp_path / "alerts.sqlite3"
    subprocess.run([sys.executable, "-m", "evil_twin_monitor", "replay",
                    str(ROOT / "fixtures" / "pcaps" / "demo_evil_twin.pcap"), "--registry",
                    str(REGISTRY), "--quiet", "--store", str(path)], check=True,
                   capture_output=True)
    store = AlertStore.open_reader(path)
    assert {a.facility for a in store.query()} == {None}
    store.close()
    report = report_of(path, first="2026-04-01", last="2026-04-01")
    rules = sorted(a.rule for a in report.alerts)
    assert rules == ["deauth_flood", "lookalike_ssid", "unknown_bssid"]
    assert all(a.no_facility for a in report.alerts) and report.unattributed == 3
    s = report.summary
    assert s.verdict == "attention"
    assert "no fake access point" not in s.headline
    assert "2 alerts about devices imitating the ward's networks (1 critical, 1 medium)" in \
        s.headline
    assert any(n.startswith("3 alerts of this period carry no facility") for n in s.notes)
    code, out, err = run_report(*report_args(path, tmp_path / "out", "--format", "md",
                                             first="2026-04-01", last="2026-04-01"))
    assert (code, err) == (0, "")
    md = Path(out.strip()).read_text()
    assert "stored without a facility" in md and "no fake access point" not in md


def test_a_store_with_only_alerts_without_a_facility_asks_for_one(tmp_path):
    path = make_store(tmp_path / "alerts.sqlite3", [alert(1, ts("2026-11-05T10:00:00"),
                                                          facility=None)])
    code, out, err = run_report(*report_args(path, tmp_path / "out"))
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert "no data for any facility of the registry (it holds 1 alert without a facility" in err
    code, out, err = run_report(*report_args(path, tmp_path / "out", "--facility", "city-hall",
                                             "--format", "md"))
    assert (code, err) == (0, "")
    md = Path(out.strip()).read_text()
    assert "**Not checked**" in md and "The store still holds 1 alert about devices" in md


# -- bounded memory and size ---------------------------------------------------------------------
def flood_store(path: Path, alerts: int, days: int = 3, aps: int = 20) -> Path:
    """Per-minute samples of `aps` heard entries for `days` days, and a flood of
    alerts from random BSSIDs, a few BSSIDs repeating."""
    registry = path.parent / "registry.yaml"
    entries = [f"00:1a:2b:3c:{i // 256:02x}:{i % 256:02x}" for i in range(aps)]
    registry.write_text(
        "facilities:\n  - id: town-hall\n    name: Town hall\n    networks:\n"
        "      - ssid: Town_Free_Wi-Fi\n        security: [wpa2-psk]\n        pmf: optional\n"
        "        access_points:\n" + "".join(
            f'          - {{bssid: "{b}", label: "AP {i}", channels: [1]}}\n'
            for i, b in enumerate(entries)))
    health = [HealthRow("s1", "town-hall", NOV + m * 60 * S, 60.0, 60.0, 3000, 0, 1)
              for m in range(1, days * 1440 + 1)]
    presence = [PresenceRow("town-hall", "s1", b, h.time_ns, 60.0, 600)
                for h in health for b in entries]
    flood = [alert(n, NOV + (n * 7919 % (days * 86400)) * S, facility="town-hall",
                   bssid=n % 50 if n < 500 else n, severity="high" if n % 3 else "critical")
             for n in range(1, alerts + 1)]
    return make_store(path, flood, health, presence)


def test_memory_does_not_grow_with_samples_and_alerts(tmp_path):
    import tracemalloc
    path = flood_store(tmp_path / "alerts.sqlite3", alerts=5000)
    registry = load_registry(tmp_path / "registry.yaml")
    store = AlertStore.open_reader(path)
    tracemalloc.start()
    try:
        report = gather(store, registry, "town-hall", parse_period("2026-11-01", "2026-11-03"),
                        now_ns=int(NOW * S))
        html = render_html(report)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        store.close()
    # 86,400 presence rows and 5,000 alerts: loading them all took 45 MB here; now 2 MB.
    assert peak < 8 * 2**20, peak
    assert report.aps[0].availability == pytest.approx(1.0)
    assert report.aps[0].frames == 3 * 1440 * 600
    assert report.sensors[0].up_s == pytest.approx(3 * 86400)
    assert report.alert_total == 5000 and len(report.alerts) == 200
    assert len(Dom(html).classed("tr", "alert")) == 200


def test_a_flood_of_alerts_is_grouped_and_the_list_is_capped(tmp_path):
    path = flood_store(tmp_path / "alerts.sqlite3", alerts=3000, days=1, aps=1)
    code, out, err = run_report(*report_args(path, tmp_path / "out", first="2026-11-01",
                                             last="2026-11-01",
                                             registry=tmp_path / "registry.yaml"))
    assert (code, err) == (0, ""), err
    html_path, md_path = [Path(p) for p in out.split()]
    html = html_path.read_text()
    dom = Dom(html)
    assert len(dom.classed("tr", "alert")) == 200
    text = " ".join("".join(dom.text).split())
    assert "The 200 most severe of the 3,000 alerts" in text and "2,800 more are not listed" in text
    assert (f"evil-twin-monitor alerts --store {path} --facility town-hall "
            "--since 2026-11-01T00:00:00Z --until 2026-11-02T00:00:00Z --limit 0") in text
    assert "3,000 alerts in 2,551 groups of one rule and one address" in text
    # The most severe first: 1,000 alerts are critical, so all 200 listed are.
    assert html.count('<td class="sev sev-critical">critical</td>') == 200
    assert '<td class="sev sev-high">' not in html
    # Groups: the 50 BSSIDs that repeat (9 or 10 alerts) come first, the largest first.
    groups = html.split('<tr class="group">')[1:]
    counts = [int(re.search(r'<td class="num">(\d+)<br>', g).group(1)) for g in groups]
    assert counts[:50] == [10] * 49 + [9] and counts[50:] == [1] * 150
    assert "2,351 smaller groups not listed" in text
    md = md_path.read_text()
    assert md.count("### Alert ") == 200
    for table in markdown_html(md).split("<table>")[1:]:   # the groups' table is a table
        body = table.split("</table>")[0]
        header = len(re.findall(r"<th[ >]", body.split("</tr>")[0]))
        assert all(len(re.findall(r"<td[ >]", row)) == header for row in body.split("</tr>")[1:-1])
    # The size no longer grows with the alerts: 3,000 alerts once took 2.5 MB of HTML.
    assert len(html.encode()) < 400_000 and len(md.encode()) < 200_000


# -- file modes ---------------------------------------------------------------------------------------
def test_reports_are_private_to_their_owner(tmp_path):
    path = make_store(tmp_path / "alerts.sqlite3", [alert(1, ts("2026-11-05T10:00:00"))],
                      hourly(NOV + H, 24))
    old = os.umask(0o022)
    try:
        out_dir = tmp_path / "new" / "reports"
        code, out, err = run_report(*report_args(path, out_dir))
        assert (code, err) == (0, "")
        assert out_dir.stat().st_mode & 0o777 == 0o700
        for name in out.split():
            assert Path(name).stat().st_mode & 0o777 == 0o600, name
        # An existing directory keeps its mode; a report written again is 0600 again.
        shared = tmp_path / "shared"
        shared.mkdir(mode=0o755)
        target = shared / "report-city-hall-2026-11-01-2026-11-30.md"
        target.write_text("old")
        target.chmod(0o644)
        code, out, err = run_report(*report_args(path, shared, "--format", "md"))
        assert (code, out, err) == (0, f"{target}\n", "")
        assert shared.stat().st_mode & 0o777 == 0o755
        assert target.stat().st_mode & 0o777 == 0o600 and target.read_text() != "old"
    finally:
        os.umask(old)


# -- evidence files gone ------------------------------------------------------------------------------
def evidence_setup(tmp_path: Path) -> tuple[Path, Path]:
    """Three alerts with evidence files: one still there, one older than the
    retention (30 days before NOW), one recent but deleted by hand."""
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    names = ["2026-10-31T23-00-00Z_unknown_bssid_old.pcap",      # 31 days before NOW
             "2026-11-20T10-00-00Z_unknown_bssid_kept.pcap",
             "2026-11-21T10-00-00Z_unknown_bssid_lost.pcap"]
    (evidence / names[1]).write_bytes(b"pcap")
    alerts = [alert(1, ts("2026-10-31T23:00:00"), last_ns=ts("2026-11-01T01:00:00"),
                    evidence={"evidence_file": names[0]}),
              alert(2, ts("2026-11-20T10:00:00"), evidence={"evidence_file": names[1]}),
              alert(3, ts("2026-11-21T10:00:00"), evidence={"evidence_file": names[2]}),
              alert(4, ts("2026-11-22T10:00:00"), evidence={"evidence_file": "../../etc/passwd"})]
    store = make_store(tmp_path / "alerts.sqlite3", alerts, hourly(NOV + H, 720))
    config = tmp_path / "sensor.yaml"
    config.write_text(f"sensor: {{id: s1, facility: city-hall}}\nregistry: {REGISTRY}\n"
                      f"store: {{path: {store}}}\n"
                      f"evidence: {{directory: {evidence}, retention_days: 30}}\n")
    return config, evidence


def evidence_marks(html: str) -> dict[int, str | None]:
    marks = {}
    for n in range(1, 5):
        detail = html.split(f'id="alert-{n}-detail"')[1].split("</tr>")[0]
        found = re.search(r'class="evidence-gone">\((.*?)\)<', detail)
        marks[n] = found.group(1) if found else None
    return marks


def test_evidence_files_already_deleted_are_marked(tmp_path):
    config, evidence = evidence_setup(tmp_path)
    base = ["--from", "2026-11-01", "--to", "2026-11-30", "--facility", "city-hall"]
    code, out, err = run_report(*base, "--config", str(config), "--out", str(tmp_path / "a"))
    assert (code, err) == (0, "")
    html_path, md_path = [Path(p) for p in out.split()]
    html = html_path.read_text()
    assert evidence_marks(html) == {1: "deleted by retention", 2: None, 3: "missing",
                                    4: "missing"}
    assert f"Evidence files were looked up in {evidence}" in html
    assert "3 evidence files of the alerts listed below are no longer there." in html
    md = md_path.read_text()
    assert "old\\.pcap (**deleted by retention**)" in md and "lost\\.pcap (**missing**)" in md
    assert "kept\\.pcap\n" in md
    # --evidence DIR with --store: the retention is unknown, so gone is "missing".
    store = tmp_path / "alerts.sqlite3"
    code, out, err = run_report(*base, "--store", str(store), "--registry", str(REGISTRY),
                                "--evidence", str(evidence), "--out", str(tmp_path / "b"),
                                "--format", "html")
    assert (code, err) == (0, "")
    assert evidence_marks(Path(out.strip()).read_text()) == {1: "missing", 2: None, 3: "missing",
                                                             4: "missing"}
    # Without a directory nothing is marked, and the report says the files were not checked.
    code, out, err = run_report(*base, "--store", str(store), "--registry", str(REGISTRY),
                                "--out", str(tmp_path / "c"), "--format", "html")
    html = Path(out.strip()).read_text()
    assert evidence_marks(html) == {1: None, 2: None, 3: None, 4: None}
    assert "Evidence files were not checked: name the evidence directory with --evidence" in html
    # A directory named but not there.
    code, out, err = run_report(*base, "--store", str(store), "--registry", str(REGISTRY),
                                "--evidence", str(tmp_path / "nowhere"),
                                "--out", str(tmp_path / "d"))
    assert (code, out) == (2, "")
    assert err == f"evil-twin-monitor: error: --evidence {tmp_path / 'nowhere'}: no such directory\n"
