"""Registry loading: what an operator sees for each kind of mistake, and what
a valid registry turns into."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evil_twin_monitor.decoding.text import printable_ssid
from evil_twin_monitor.registry import (
    Registry, RegistryError, load_registry, parse_bssid, summarize_registry,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "registry"

GOOD = """\
facilities:
  - id: city-hall
    name: "新宿区役所 本庁舎"
    networks:
      - ssid: Shinjuku_Free_Wi-Fi
        security: [wpa2-psk]
        pmf: optional
        access_points:
          - bssid: "00:1a:2b:3c:4d:50"
            label: "3F lobby"
            channels: [1, 6, 11]
          - bssid: "00:1a:2b:3c:4e:00/44"
            channels: [36, 40]
"""


def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> None:
    """Write files under tmp_path and work from there, so messages show short paths."""
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def errors(path: str) -> list[str]:
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    return str(info.value).splitlines()


def mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


# --- a valid registry --------------------------------------------------------

def test_good_file_builds_the_model(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD})
    registry = load_registry("reg.yaml")
    facility = registry.facility("city-hall")
    assert facility.name == "新宿区役所 本庁舎"
    assert facility.source == "reg.yaml"
    (network,) = facility.networks
    assert network.ssid == b"Shinjuku_Free_Wi-Fi"
    assert network.security == frozenset({"wpa2-psk"})
    assert network.pmf == "optional"
    first, prefix = network.access_points
    assert first.bssid == mac("00:1a:2b:3c:4d:50")
    assert first.prefix_len == 48
    assert first.frequencies == frozenset({2412, 2437, 2462})
    assert first.beacon_interval == 100
    assert first.label == "3F lobby"
    assert first.network is network and first.facility is facility
    assert prefix.bssid_text == "00:1a:2b:3c:4e:00/44"
    assert prefix.frequencies == frozenset({5180, 5200})
    assert registry.networks_for_ssid(b"Shinjuku_Free_Wi-Fi") == [network]


def test_prefix_entry_matches_inside_and_not_outside(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD})
    registry = load_registry("reg.yaml")
    prefix = registry.facility("city-hall").networks[0].access_points[1]
    assert registry.ap_for_bssid(mac("00:1a:2b:3c:4e:00")) is prefix
    assert registry.ap_for_bssid(mac("00:1a:2b:3c:4e:0f")) is prefix
    assert registry.ap_for_bssid(mac("00:1a:2b:3c:4e:10")) is None
    assert registry.ap_for_bssid(mac("00:1a:2b:3c:4d:ff")) is None
    assert registry.ap_for_bssid(mac("00:1a:2b:3c:4d:50")).label == "3F lobby"


def test_bssid_spellings():
    assert parse_bssid("00-1A-2B-3C-4D-50") == (mac("00:1a:2b:3c:4d:50"), 48)
    assert parse_bssid("00:1a:2b:3c:4e:00/44") == (mac("00:1a:2b:3c:4e:00"), 44)
    assert parse_bssid("00:1a:2b:3c:4e:00/48") == (
        "prefix length /48 is out of range; valid: 1-47 (write an exact BSSID without a /length)")


def test_frequencies_and_channels_are_merged(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace(
        "channels: [36, 40]", "channels: [36]\n            frequencies: [5955, 2484]")})
    ap = load_registry("reg.yaml").facility("city-hall").networks[0].access_points[1]
    assert ap.frequencies == frozenset({5180, 5955, 2484})


def test_japanese_and_escaped_ssids_round_trip(tmp_path, monkeypatch):
    text = GOOD.replace("ssid: Shinjuku_Free_Wi-Fi", 'ssid: "新宿フリーWi-Fi"')
    text += GOOD.split("networks:\n", 1)[1].replace(
        "Shinjuku_Free_Wi-Fi", r"'cafe\x00\xff\u200b'").replace("4d:50", "4d:51").replace(
        "4e:00/44", "4f:00/44")
    write(tmp_path, monkeypatch, {"reg.yaml": text})
    japanese, escaped = load_registry("reg.yaml").facility("city-hall").networks
    assert japanese.ssid == "新宿フリーWi-Fi".encode("utf-8")
    assert escaped.ssid == b"cafe\x00\xff\xe2\x80\x8b"
    assert summarize_registry(load_registry("reg.yaml")).splitlines()[1:3] == [
        "  新宿フリーWi-Fi  [wpa2-psk]  pmf optional  2 APs  2.4 GHz ch 1,6,11; 5 GHz ch 36,40",
        r"  cafe\x00\xff\u200b  [wpa2-psk]  pmf optional  2 APs  2.4 GHz ch 1,6,11; 5 GHz ch 36,40",
    ]


@pytest.mark.parametrize("security, expected", [
    ("[open]", "disabled"),
    ("[wpa2-psk]", "optional"),
    ("[wpa2-psk, wpa3-sae]", "optional"),
    ("[wpa3-sae]", "required"),
    ("[owe]", "required"),
])
def test_pmf_default_follows_security(tmp_path, monkeypatch, security, expected):
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace(
        "security: [wpa2-psk]\n        pmf: optional\n", f"security: {security}\n")})
    assert load_registry("reg.yaml").facility("city-hall").networks[0].pmf == expected


def test_unquoted_sexagesimal_looking_bssid_is_read_as_text(tmp_path, monkeypatch):
    # YAML 1.1 reads 10:20:30:40:50:59 as a base-60 integer; the loader keeps the text.
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace('"00:1a:2b:3c:4d:50"',
                                                           "10:20:30:40:50:59")})
    registry = load_registry("reg.yaml")
    assert registry.ap_for_bssid(mac("10:20:30:40:50:59")).label == "3F lobby"


def test_directory_merges_files_in_name_order(tmp_path, monkeypatch):
    other = GOOD.replace("city-hall", "library").replace("4d:50", "4d:99").replace(
        "4e:00/44", "4f:00/44")
    write(tmp_path, monkeypatch, {"reg/b.yaml": GOOD, "reg/a.yml": other,
                                  "reg/notes.txt": "not yaml"})
    registry = load_registry("reg")
    assert [f.id for f in registry.facilities] == ["library", "city-hall"]
    assert registry.sources == ("reg/a.yml", "reg/b.yaml")


def test_example_registry_loads_and_summarizes():
    registry = load_registry(EXAMPLE)
    assert isinstance(registry, Registry)
    assert [f.id for f in registry.facilities] == ["central-library", "city-hall", "sports-center"]
    lines = summarize_registry(registry).splitlines()
    assert lines[0] == f"central-library: 新宿区立中央図書館  ({EXAMPLE}/central-library.yaml)"
    assert lines[1] == ("  Shinjuku_Free_Wi-Fi  [wpa2-psk]  pmf optional  2 APs  "
                        "2.4 GHz ch 1,6,11; 5 GHz ch 100,104,108,112; 6 GHz 5955,6035 MHz")
    assert lines[4] == ("  Shinjuku_Staff  [wpa2-eap, wpa3-eap]  pmf required  2 APs  "
                        "2.4 GHz ch 1,6,11; 5 GHz ch 36,40,44,48")
    assert lines[-1] == ("total: 3 facilities, 4 networks, 2 distinct SSIDs, "
                         "11 access point entries (1 of them BSSID prefixes)")
    hall = registry.ap_for_bssid(mac("00:1a:2b:3c:4e:07"))
    assert hall.facility.id == "city-hall" and hall.prefix_len == 44
    assert registry.ap_for_bssid(mac("00:1a:2b:7a:00:20")).beacon_interval == 102


# --- mistakes ------------------------------------------------------------------

def test_typo_in_key_suggests_the_right_one(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace("channels: [1, 6, 11]",
                                                           "chanels: [1, 6, 11]")})
    assert errors("reg.yaml") == [
        "reg.yaml:9: facilities[0].networks[0].access_points[0]: an access point needs channels "
        "or frequencies (or both), e.g. channels: [1, 6, 11]",
        "reg.yaml:11: facilities[0].networks[0].access_points[0].chanels: unknown key 'chanels' "
        "(did you mean 'channels'?); valid keys: bssid, label, channels, frequencies, "
        "beacon_interval, fingerprints, model, notes",
    ]


def test_bad_bssid(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace('"00:1a:2b:3c:4d:50"',
                                                           '"00:1a:2b:3c:4d"')})
    assert errors("reg.yaml") == [
        "reg.yaml:9: facilities[0].networks[0].access_points[0].bssid: '00:1a:2b:3c:4d' is not "
        'a BSSID; write six hex octets like "00:1a:2b:3c:4d:50" or a prefix like '
        '"00:1a:2b:3c:4e:00/44"',
    ]


def test_prefix_with_host_bits_set(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace("4e:00/44", "4e:05/44")})
    assert errors("reg.yaml") == [
        "reg.yaml:12: facilities[0].networks[0].access_points[1].bssid: '00:1a:2b:3c:4e:05/44' "
        'has bits set beyond the 44-bit prefix; the prefix is written "00:1a:2b:3c:4e:00/44"',
    ]


def test_bad_channel_and_frequency(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace(
        "channels: [36, 40]", "channels: [36, 15]\n            frequencies: [2400]")})
    assert errors("reg.yaml") == [
        "reg.yaml:13: facilities[0].networks[0].access_points[1].channels[1]: 15 is not a "
        "channel in 2.4 or 5 GHz; valid: 1-14, 32-177 (use frequencies: for 6 GHz)",
        "reg.yaml:14: facilities[0].networks[0].access_points[1].frequencies[0]: 2400 is not a "
        "Wi-Fi centre frequency in MHz; valid: 2412-2472 and 2484 (2.4 GHz), 4910-5925 (5 GHz), "
        "5935 and 5955-7115 (6 GHz), in 5 MHz steps",
    ]


def test_duplicate_bssid_across_files_names_both(tmp_path, monkeypatch):
    other = GOOD.replace("city-hall", "library").replace("4e:00/44", "4f:00/44")
    write(tmp_path, monkeypatch, {"reg/a.yaml": GOOD, "reg/b.yaml": other})
    assert errors("reg") == [
        "reg/b.yaml:9: facilities[0].networks[0].access_points[0].bssid: 00:1a:2b:3c:4d:50 is "
        "listed twice; it is already listed at reg/a.yaml:9",
    ]


def test_bssid_inside_another_files_prefix(tmp_path, monkeypatch):
    other = GOOD.replace("city-hall", "library").replace("4d:50", "4e:0a").replace(
        "4e:00/44", "4f:00/44")
    write(tmp_path, monkeypatch, {"reg/a.yaml": GOOD, "reg/b.yaml": other})
    assert errors("reg") == [
        "reg/b.yaml:9: facilities[0].networks[0].access_points[0].bssid: 00:1a:2b:3c:4e:0a lies "
        "inside the prefix 00:1a:2b:3c:4e:00/44 already listed at reg/a.yaml:12",
    ]


def test_duplicate_facility_id(tmp_path, monkeypatch):
    other = GOOD.replace("4d:50", "4d:99").replace("4e:00/44", "4f:00/44")
    write(tmp_path, monkeypatch, {"reg/a.yaml": GOOD, "reg/b.yaml": other})
    assert errors("reg") == [
        "reg/b.yaml:2: facilities[0].id: facility 'city-hall' is already defined at reg/a.yaml:2",
    ]


def test_duplicate_yaml_key(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace(
        '            label: "3F lobby"\n',
        '            label: "3F lobby"\n            label: "4F lobby"\n')})
    assert errors("reg.yaml") == [
        "reg.yaml:11: facilities[0].networks[0].access_points[0].label: duplicate key 'label'; "
        "it is already set on line 10 (YAML would silently keep only the last one)",
    ]


def test_broken_yaml_syntax_gives_the_line(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace("channels: [1, 6, 11]",
                                                           "channels: [1, 6, 11")})
    assert errors("reg.yaml") == [
        # Inside the unclosed [...], "- bssid" is read as a plain word; the colon after it
        # (column 18 of line 12) is where YAML gives up.
        "reg.yaml:12: YAML syntax error: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence on line 11), column 18",
    ]


def test_string_where_a_list_is_expected(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace("security: [wpa2-psk]",
                                                           "security: wpa2-psk")})
    assert errors("reg.yaml") == [
        "reg.yaml:6: facilities[0].networks[0].security: expected a list like [wpa2-psk]; "
        "got a string 'wpa2-psk'",
    ]


def test_unknown_security_value(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace("[wpa2-psk]", "[wpa2-pks]")})
    assert errors("reg.yaml") == [
        "reg.yaml:6: facilities[0].networks[0].security[0]: 'wpa2-pks' is not a security type "
        "(did you mean 'wpa2-psk'?); valid: open, owe, wep, wpa-psk, wpa-eap, wpa2-psk, "
        "wpa2-eap, wpa3-sae, wpa3-eap, wpa3-eap-192",
    ]


def test_wpa3_sae_requires_pmf(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace("[wpa2-psk]", "[wpa3-sae]")})
    assert errors("reg.yaml") == [
        "reg.yaml:7: facilities[0].networks[0].pmf: pmf: optional contradicts security "
        "[wpa3-sae]: WPA3 and OWE require protected management frames, so an AP in this mode "
        "always advertises PMF required; use pmf: required",
    ]


def test_open_network_cannot_require_pmf(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace("[wpa2-psk]", "[open]").replace(
        "pmf: optional", "pmf: required")})
    assert errors("reg.yaml") == [
        "reg.yaml:7: facilities[0].networks[0].pmf: pmf: required is impossible with security "
        "[open]: PMF is negotiated in the RSN element, which open, WEP and WPA1 networks do not "
        "send; use pmf: disabled",
    ]


def test_ssid_longer_than_32_octets(tmp_path, monkeypatch):
    long_ssid = "新宿区役所本庁舎フリーWi-Fi"  # 11 kana/kanji x 3 octets + 5 = 38 octets
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace("Shinjuku_Free_Wi-Fi", long_ssid)})
    assert errors("reg.yaml") == [
        f"reg.yaml:5: facilities[0].networks[0].ssid: '{long_ssid}' is 38 octets in UTF-8; "
        "an SSID holds at most 32",
    ]


def test_all_problems_of_a_file_are_reported(tmp_path, monkeypatch):
    text = GOOD.replace("id: city-hall", "id: City_Hall").replace("[1, 6, 11]", "[1, 6, 0]")
    text = text.replace("label: \"3F lobby\"", "label: \"3F lobby\"\n            beacon_interval: 0")
    write(tmp_path, monkeypatch, {"reg.yaml": text})
    assert errors("reg.yaml") == [
        "reg.yaml:2: facilities[0].id: 'City_Hall' is not a valid facility id; use lowercase "
        "letters, digits and '-' (like city-hall)",
        "reg.yaml:11: facilities[0].networks[0].access_points[0].beacon_interval: 0 is out of "
        "range; valid: 1-65535",
        "reg.yaml:12: facilities[0].networks[0].access_points[0].channels[2]: 0 is not a channel "
        "in 2.4 or 5 GHz; valid: 1-14, 32-177 (use frequencies: for 6 GHz)",
    ]


def test_empty_file(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"reg.yaml": "# nothing yet\n"})
    assert errors("reg.yaml") == [
        "reg.yaml: the file is empty; a registry file starts with 'facilities:' followed by a "
        "list of facilities",
    ]


def test_missing_facilities_key(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"reg.yaml": "facility:\n  - id: city-hall\n"})
    assert errors("reg.yaml") == [
        "reg.yaml:1: facility: unknown key 'facility' (did you mean 'facilities'?); "
        "valid keys: facilities",
        "reg.yaml:1: missing required key 'facilities'",
    ]


def test_missing_path_and_empty_directory(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"empty/readme.txt": "x"})
    assert errors("nowhere") == ["nowhere: no such file or directory"]
    assert errors("empty") == ["empty: no *.yaml or *.yml files in this directory"]


def test_recursive_alias_is_rejected_not_looped(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"reg.yaml": "facilities: &a [*a]\n"})
    assert errors("reg.yaml")[0] == "reg.yaml:1: facilities[0]: an alias refers to itself"


def test_merge_keys_share_settings(tmp_path, monkeypatch):
    text = GOOD.replace("          - bssid: \"00:1a:2b:3c:4d:50\"\n",
                        "          - &lobby\n            bssid: \"00:1a:2b:3c:4d:50\"\n")
    text += "          - <<: *lobby\n            bssid: \"00:1a:2b:3c:4d:52\"\n"
    write(tmp_path, monkeypatch, {"reg.yaml": text})
    aps = load_registry("reg.yaml").facility("city-hall").networks[0].access_points
    assert [(ap.bssid_text, ap.label) for ap in aps] == [
        ("00:1a:2b:3c:4d:50", "3F lobby"), ("00:1a:2b:3c:4e:00/44", ""),
        ("00:1a:2b:3c:4d:52", "3F lobby")]


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ssid=st.binary(min_size=1, max_size=32))
def test_any_ssid_can_be_registered_in_its_printable_form(tmp_path, monkeypatch, ssid):
    quoted = "'" + printable_ssid(ssid).replace("'", "''") + "'"
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace("Shinjuku_Free_Wi-Fi", quoted)})
    assert load_registry("reg.yaml").facility("city-hall").networks[0].ssid == ssid


# --- values YAML cannot build: a problem with file:line, never a traceback ----

def test_impossible_date_is_a_problem_and_quoting_fixes_it(tmp_path, monkeypatch):
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace('"新宿区役所 本庁舎"', "2024-13-45")})
    assert errors("reg.yaml") == [
        "reg.yaml:3: facilities[0].name: cannot read '2024-13-45' as the date YAML takes it for "
        "(month must be in 1..12); put it in quotes if it is text",
    ]
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace('"新宿区役所 本庁舎"', "'2024-13-45'")})
    assert load_registry("reg.yaml").facility("city-hall").name == "2024-13-45"


@pytest.mark.parametrize("ssid", [r'"\ud800"', r'"Free\udfff"'])
def test_lone_surrogate_from_a_yaml_escape_is_a_problem(tmp_path, monkeypatch, ssid):
    write(tmp_path, monkeypatch, {"reg.yaml": GOOD.replace("Shinjuku_Free_Wi-Fi", ssid)})
    assert errors("reg.yaml") == [
        r"reg.yaml:5: facilities[0].networks[0].ssid: a \uD800-\uDFFF escape is half of a "
        r"UTF-16 pair, not a character; write the character itself or its \U0001xxxx escape",
    ]


def test_lone_surrogate_in_a_label_or_key_is_a_problem(tmp_path, monkeypatch):
    # A label reaches alert messages: it must be refused here, not crash the engine later.
    text = GOOD.replace('"3F lobby"', r'"\ud83d lobby"')
    text = text.replace("    networks:", '    "\\udc00": 1\n    networks:')
    write(tmp_path, monkeypatch, {"reg.yaml": text})
    assert [line.split(": ", 2)[:2] for line in errors("reg.yaml")] == [
        ["reg.yaml:4", "facilities[0]"],
        ["reg.yaml:11", "facilities[0].networks[0].access_points[0].label"],
    ]


@pytest.mark.parametrize("escape", [r"\ud800", r"\U0000dfff", r"\U00110000", r"\Uffffffff"])
def test_printable_escape_of_no_character_is_a_problem(tmp_path, monkeypatch, escape):
    text = GOOD.replace("Shinjuku_Free_Wi-Fi", f"'Free{escape}'")
    write(tmp_path, monkeypatch, {"reg.yaml": text})
    assert errors("reg.yaml") == [
        f"reg.yaml:5: facilities[0].networks[0].ssid: 'Free{escape}' holds an escape of no "
        r"character (\uD800-\uDFFF is half of a UTF-16 pair, \U beyond 0010ffff is not Unicode); "
        r"write the octets as \xNN escapes instead",
    ]
