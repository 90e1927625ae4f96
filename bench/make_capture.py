"""Build the benchmark capture: a large, deterministic, realistic mixed capture.

Theory of operation
-------------------
The benchmark needs a file that looks like a busy city block heard by a
monitor radio: ~300 access points beaconing ten times a second with the
elements real products send, about half of all frames encrypted data, probe
requests and their responses, a few deauthentications, and a handful of
impostors (a twin without a registered BSSID, lookalike SSIDs, a pentest
router, a clone of a registered BSSID on a foreign channel, a KARMA responder,
one deauthentication burst) so the rules do real work and alerts come out.

Scapy is too slow to build half a million frames, so it builds *templates*
once (per AP: beacon, probe response, deauthentication; per client pair:
the data header), and the writer copies a template and patches the few
bytes that change per frame with ``struct.pack_into``: sequence number, TSF,
DTIM count, receiver address, radiotap TSFT and signal, CCMP packet number.

Time advances in beacon rounds of 102.4 ms. Every AP beacons once per round
at its own phase, which follows from its TSF (beacons go out at target
beacon transmission times, TSF multiples of the interval) and drifts with its
clock error; the other frames of the round are placed at random instants and
the round is written in time order.

Everything comes from one seeded `random.Random`, iterations are over lists
(never over sets of strings, whose order depends on the hash seed), and the
pcap header and records carry no wall-clock time: reruns are byte-identical.

Run ``python bench/make_capture.py`` (``--help`` for options); it also
rewrites ``bench/registry.yaml`` with ``--write-registry``.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from scapy.layers.dot11 import (
    Dot11, Dot11Beacon, Dot11Deauth, Dot11Elt, Dot11ProbeReq, Dot11ProbeResp, Dot11QoS,
    RadioTap,
)

SEED = 20240611
DEFAULT_FRAMES = 500_000
HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "out" / "mixed.pcap"
REGISTRY_PATH = HERE / "registry.yaml"

LINKTYPE_RADIOTAP = 127
T0_S = 1717203600            # 2024-06-01T01:00:00Z: the capture's first round
ROUND_US = 102_400           # 100 TU
BROADCAST = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"

CITY_SSID = "Shinjuku_Free_Wi-Fi"
STAFF_SSID = "Shinjuku_Staff"
FACILITIES = (
    ("city-hall", "新宿区役所 本庁舎"), ("central-library", "新宿区立中央図書館"),
    ("sports-center", "新宿スポーツセンター"), ("east-branch", "東出張所"),
    ("west-branch", "西新宿出張所"), ("culture-center", "新宿文化センター"),
    ("health-center", "新宿区保健所"), ("ochiai-branch", "落合第一出張所"),
    ("yotsuya-branch", "四谷特別出張所"),
    ("park-office", "新宿中央公園管理事務所"),
)
CITY_OUIS = ("00:1a:1e", "94:b4:0f")           # Aruba-like enterprise gear
NEIGHBOUR_OUIS = ("10:66:82", "c0:25:a2", "34:3d:c4", "b0:be:76", "f0:9f:c2",
                  "00:3a:9d", "cc:2d:21", "04:ab:18", "a8:5e:45", "18:c2:bf")
PINEAPPLE_OUI = "00:13:37"

CH_24 = (1, 6, 11)
W52 = (36, 40, 44, 48)
W53 = (52, 56, 60, 64)
W56 = (100, 104, 108, 112, 116, 120, 124, 128, 132, 136, 140)

# RSN building blocks (00-0f-ac:N suites).
CCMP = b"\x00\x0f\xac\x04"
AKM = {"psk": 2, "eap": 1, "eap256": 5, "sae": 8}
SECURITY_AKMS = {  # security profile -> (AKM numbers, RSN capabilities)
    "wpa2-psk": ((2,), 0x0080),
    "wpa2-psk-nopmf": ((2,), 0x0000),
    "wpa2/wpa3": ((2, 8), 0x0080),
    "wpa3-sae": ((8,), 0x00c0),
    "wpa2-eap": ((1,), 0x0000),
    "staff": ((1, 5), 0x00c0),
    "open": ((), 0),
}


@dataclass
class AP:
    """One simulated transmitter of beacons (legitimate or not)."""

    index: int
    bssid: str
    ssid: bytes
    channel: int
    security: str
    role: str                       # city | staff | neighbour | rogue-*
    facility: str = ""
    allowed: tuple[int, ...] = ()
    label: str = ""
    hidden: str = ""                # "" | "empty" | "zeros"
    wps: bool = False
    tsf0: int = 0
    ppm: float = 0.0
    signal: int = -60
    clients: list[str] = field(default_factory=list)
    gateway: str = ""
    dtim_period: int = 1
    busy: float = 1.0
    # filled by the template builder
    beacon: bytes = b""
    probe_resp: bytes = b""
    tim_offset: int = -1            # offset of the DTIM count byte in `beacon`
    radiotaps: list[bytes] = field(default_factory=list)

    @property
    def freq(self) -> int:
        return 2407 + 5 * self.channel if self.channel <= 14 else 5000 + 5 * self.channel

    @property
    def is_5g(self) -> bool:
        return self.channel > 14


def _mac(rng: random.Random, oui: str, local: bool = False) -> str:
    tail = [rng.randrange(256) for _ in range(3)]
    if local:
        head = [(rng.randrange(256) | 0x02) & 0xFE, rng.randrange(256), rng.randrange(256)]
        return ":".join(f"{b:02x}" for b in head + tail)
    return oui + ":" + ":".join(f"{b:02x}" for b in tail)


# --------------------------------------------------------------------------
# The population: city APs, neighbours, impostors, clients


def make_aps(rng: random.Random) -> list[AP]:
    aps: list[AP] = []

    def add(**kw) -> AP:  # type: ignore[no-untyped-def]
        ap = AP(index=len(aps), **kw)
        ap.tsf0 = rng.randrange(10**9, 3 * 10**12)       # uptime between 17 min and 35 days
        ap.ppm = rng.uniform(-20.0, 20.0)
        ap.signal = rng.randrange(-88, -38)
        ap.dtim_period = rng.choice((1, 1, 2, 3))
        ap.gateway = _mac(rng, rng.choice(NEIGHBOUR_OUIS))
        aps.append(ap)
        return ap

    # 10 facilities x (8 public + 2 staff) registered APs.
    for f_index, (fid, _name) in enumerate(FACILITIES):
        oui = CITY_OUIS[f_index % 2]
        for k in range(10):
            staff = k >= 8
            five = k % 2 == 1
            if five:
                allowed = W52 if f_index % 3 else W53 + W56
            else:
                allowed = CH_24
            add(bssid=_mac(rng, oui), ssid=(STAFF_SSID if staff else CITY_SSID).encode(),
                channel=rng.choice(allowed), security="staff" if staff else "wpa2-psk",
                role="staff" if staff else "city", facility=fid, allowed=allowed,
                label=f"{'5' if five else '2.4'} GHz radio {k + 1}", busy=2.0)

    # Neighbours: home routers, shops, carriers' hotspots, printers, hidden ones.
    names = (
        lambda: f"aterm-{rng.randrange(16**6):06x}-g",
        lambda: f"aterm-{rng.randrange(16**6):06x}-a",
        lambda: f"Buffalo-G-{rng.randrange(16**4):04X}",
        lambda: f"Buffalo-A-{rng.randrange(16**4):04X}",
        lambda: f"elecom2g-{rng.randrange(16**6):06x}",
        lambda: f"TP-Link_{rng.randrange(16**4):04X}",
        lambda: f"HUAWEI-{rng.randrange(16**4):04X}", lambda: "0000docomo", lambda: "au_Wi-Fi2",
        lambda: "Softbank Wi-Fi", lambda: "7SPOT", lambda: "Famima_Wi-Fi", lambda: "STARBUCKS",
        lambda: f"DIRECT-{rng.randrange(100):02d}-HP OfficeJet", lambda: "カフェ・ゲスト",
        lambda: f"Rakuten-{rng.randrange(16**4):04X}",
        lambda: f"SPWN_N36_{rng.randrange(16**6):06x}",
    )
    securities = ("wpa2-psk", "wpa2-psk", "wpa2-psk-nopmf", "wpa2/wpa3", "wpa3-sae", "wpa2-eap",
                  "open")
    for n in range(190):
        hidden = "empty" if n % 23 == 5 else ("zeros" if n % 47 == 11 else "")
        ssid = rng.choice(names)().encode()
        five = rng.random() < 0.4
        channel = rng.choice(W52 + W53 + W56) if five else rng.choice(CH_24 * 3 + (3, 4, 8, 9, 13))
        security = rng.choice(securities)
        add(bssid=_mac(rng, rng.choice(NEIGHBOUR_OUIS)), ssid=ssid, channel=channel,
            security=security, role="neighbour", hidden=hidden,
            wps=security in ("wpa2-psk", "wpa2-psk-nopmf") and rng.random() < 0.5,
            busy=rng.choice((0.0, 0.2, 0.5, 1.0, 1.0, 3.0)))

    # Impostors: each one is meant to trip a rule.
    add(bssid=_mac(rng, "", local=True), ssid=CITY_SSID.encode(), channel=6, security="open",
        role="rogue-twin", busy=0.5)
    add(bssid=_mac(rng, "c0:25:a2"), ssid=b"Shinjuku_Free_WiFi", channel=11, security="wpa2-psk",
        role="rogue-lookalike", busy=0.3)
    add(bssid=_mac(rng, "04:ab:18"), ssid="Shinjuku_Free_Wi\u2010Fi".encode(), channel=36,
        security="open", role="rogue-confusable", busy=0.3)
    add(bssid=_mac(rng, PINEAPPLE_OUI), ssid=CITY_SSID.encode(), channel=1, security="open",
        role="rogue-pineapple", busy=0.3)
    cloned = aps[0]
    add(bssid=cloned.bssid, ssid=cloned.ssid, channel=13, security="open", role="rogue-clone",
        busy=0.3)
    add(bssid=_mac(rng, "", local=True), ssid=b"FREE_WIFI", channel=6, security="open",
        role="rogue-karma", busy=0.0)

    for ap in aps:
        if ap.busy:
            ap.clients = [_mac(rng, rng.choice(NEIGHBOUR_OUIS), local=rng.random() < 0.5)
                          for _ in range(rng.randrange(1, 7))]
    return aps


# --------------------------------------------------------------------------
# Templates (scapy, once)


def _rsn(security: str) -> bytes | None:
    akms, caps = SECURITY_AKMS[security]
    if not akms:
        return None
    return (struct.pack("<H", 1) + CCMP + struct.pack("<H", 1) + CCMP
            + struct.pack("<H", len(akms)) + b"".join(b"\x00\x0f\xac" + bytes([a]) for a in akms)
            + struct.pack("<H", caps))


def _wps(ap: AP, rng: random.Random) -> bytes:
    def attr(kind: int, value: bytes) -> bytes:
        return struct.pack(">HH", kind, len(value)) + value

    maker, model = rng.choice(((b"NEC AccessTechnica", b"Aterm WG1200HS4"),
                               (b"BUFFALO INC.", b"WSR-1166DHPL2"),
                               (b"TP-Link", b"Archer C6")))
    return (b"\x00\x50\xf2\x04" + attr(0x104A, b"\x10") + attr(0x1044, b"\x02")
            + attr(0x1021, maker) + attr(0x1023, model) + attr(0x1011, model + b" router")
            + attr(0x1049, b"\x00\x37\x2a\x00\x01\x20"))


def _elements(ap: AP, rng: random.Random, probe_response: bool) -> list:
    """The element list of a beacon or probe response (scapy layers)."""
    if ap.hidden == "empty" and not probe_response:
        ssid = b""
    elif ap.hidden == "zeros" and not probe_response:
        ssid = b"\x00" * len(ap.ssid)
    else:
        ssid = ap.ssid
    els = [Dot11Elt(ID=0, info=ssid)]
    if ap.is_5g:
        els.append(Dot11Elt(ID=1, info=bytes((0x8C, 0x12, 0x98, 0x24, 0xB0, 0x48, 0x60, 0x6C))))
    else:
        els.append(Dot11Elt(ID=1, info=bytes((0x82, 0x84, 0x8B, 0x96, 0x0C, 0x12, 0x18, 0x24))))
    els.append(Dot11Elt(ID=3, info=bytes((ap.channel,))))
    if not probe_response:
        els.append(Dot11Elt(ID=5, info=bytes((0, ap.dtim_period, 0, 0))))
    country = b"JP\x20" + (bytes((1, 13, 20)) if not ap.is_5g
                           else bytes((36, 4, 23, 52, 4, 23, 100, 11, 23)))
    els.append(Dot11Elt(ID=7, info=country))
    if not ap.is_5g:
        els.append(Dot11Elt(ID=42, info=b"\x00"))
        els.append(Dot11Elt(ID=50, info=bytes((0x30, 0x48, 0x60, 0x6C))))
    ht_cap = struct.pack("<HB", 0x19AD if ap.is_5g else 0x11AC, 0x17) + b"\xff\xff" + b"\x00" * 14
    ht_cap += b"\x00\x00" + b"\x00" * 4 + b"\x00"
    els.append(Dot11Elt(ID=45, info=ht_cap))
    rsn = _rsn(ap.security)
    if rsn is not None:
        els.append(Dot11Elt(ID=48, info=rsn))
    secondary = (1 if (ap.channel // 4) % 2 else 3) if ap.is_5g else 0
    els.append(Dot11Elt(ID=61, info=bytes((ap.channel, secondary | (4 if secondary else 0)))
                        + b"\x00" * 20))
    els.append(Dot11Elt(ID=127, info=bytes((0x04, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x40))))
    if ap.is_5g:
        els.append(Dot11Elt(ID=191, info=struct.pack("<IHHHH", 0x0F8259B2, 0xFFFA, 0, 0xFFFA, 0)))
        els.append(Dot11Elt(ID=192, info=bytes((1, 42 if ap.channel <= 48 else ap.channel + 6, 0,
                                                 0xFA, 0xFF))))
    if ap.wps:
        els.append(Dot11Elt(ID=221, info=_wps(ap, rng)))
    els.append(Dot11Elt(ID=221, info=b"\x00\x10\x18\x02\x00\x00\x1c\x00\x00"))  # Broadcom
    els.append(Dot11Elt(ID=221, info=b"\x00\x50\xf2\x02\x01\x01\x80\x00\x03\xa4\x00\x00\x27\xa4"
                                    b"\x00\x00\x42\x43\x5e\x00\x62\x32\x2f\x00"))  # WMM parameters
    return els


_RT_BASE: list[bytes] = []


def _radiotap(freq: int, five: bool, rate: int, signal: int) -> bytes:
    """A radiotap header (TSFT, flags, rate, channel, signal, antenna).

    Scapy builds it once; the variants are patched copies (scapy takes
    milliseconds per header, and the benchmark needs thousands)."""
    if not _RT_BASE:
        _RT_BASE.append(bytes(RadioTap(
            present="TSFT+Flags+Rate+Channel+dBm_AntSignal+Antenna", mac_timestamp=0, Flags=0,
            Rate=2, ChannelFrequency=2412, ChannelFlags=0x00A0, dBm_AntSignal=-50, Antenna=1)))
    rt = bytearray(_RT_BASE[0])
    rt[RT_RATE] = rate
    struct.pack_into("<HHb", rt, RT_FREQ, freq, 0x0140 if five else 0x00A0, signal)
    return bytes(rt)


RT_LEN = 24          # TSFT(8) Flags Rate Channel(4) signal antenna, after the 8-byte header
RT_TSFT = 8
RT_RATE = 17
RT_FREQ = 18
RT_SIGNAL = 22


def build_templates(aps: list[AP], rng: random.Random) -> None:
    for ap in aps:
        cap = 0x0401 | (0x0010 if ap.security != "open" else 0) | (0 if ap.is_5g else 0x0020)
        els = _elements(ap, rng, probe_response=False)
        frame = Dot11(type=0, subtype=8, addr1=BROADCAST, addr2=ap.bssid, addr3=ap.bssid)
        frame = frame / Dot11Beacon(timestamp=0, beacon_interval=100, cap=cap)
        for el in els:
            frame = frame / el
        ap.beacon = bytes(frame)
        tim = ap.beacon.find(bytes((5, 4, 0, ap.dtim_period)), 36)
        assert tim > 0, "TIM element not found in the beacon template"
        ap.tim_offset = tim + 2
        frame = Dot11(type=0, subtype=5, addr1=BROADCAST, addr2=ap.bssid, addr3=ap.bssid)
        frame = frame / Dot11ProbeResp(timestamp=0, beacon_interval=100, cap=cap)
        for el in _elements(ap, rng, probe_response=True):
            frame = frame / el
        ap.probe_resp = bytes(frame)
        base_rate = 12 if ap.is_5g else 2
        ap.radiotaps = [_radiotap(ap.freq, ap.is_5g, base_rate, max(-95, ap.signal + d))
                        for d in range(-3, 5)]
        assert len(ap.radiotaps[0]) == RT_LEN


def data_templates(ap: AP) -> tuple[bytes, bytes]:
    """QoS data headers of this AP (uplink, downlink) with a zero client address."""
    up = bytes(Dot11(type=2, subtype=8, FCfield=0x41, addr1=ap.bssid, addr2=ZERO_MAC,
                     addr3=ap.gateway) / Dot11QoS(TID=0))
    down = bytes(Dot11(type=2, subtype=8, FCfield=0x42, addr1=ZERO_MAC, addr2=ap.bssid,
                       addr3=ap.gateway) / Dot11QoS(TID=0))
    assert len(up) == len(down) == 26
    return up, down


def _data_header(templates: tuple[bytes, bytes], client: bytes, uplink: bool, tid: int) -> bytes:
    if uplink:
        hdr = bytearray(templates[0])
        hdr[10:16] = client
    else:
        hdr = bytearray(templates[1])
        hdr[4:10] = client
    hdr[24] = tid
    return bytes(hdr)

# --------------------------------------------------------------------------
# Writing


class Writer:
    """Buffered classic-pcap writer (microsecond timestamps)."""

    def __init__(self, path: Path) -> None:
        self.file = open(path, "wb")
        self.file.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_RADIOTAP))
        self.chunks: list[bytes] = []
        self.count = 0

    def add(self, t_us: int, radiotap: bytes, body: bytes) -> None:
        size = len(radiotap) + len(body)
        self.chunks.append(struct.pack("<IIII", T0_S + t_us // 1_000_000, t_us % 1_000_000,
                                       size, size))
        self.chunks.append(radiotap)
        self.chunks.append(body)
        self.count += 1
        if len(self.chunks) >= 30_000:
            self.flush()

    def flush(self) -> None:
        self.file.write(b"".join(self.chunks))
        self.chunks.clear()

    def close(self) -> None:
        self.flush()
        self.file.close()


# event kinds
BEACON, DATA, PROBE_REQ, PROBE_RESP, DEAUTH = range(5)


def _octets(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def _with_ssid(template: bytes, receiver_or_sender: bytes, ssid: bytes, at: int = 24) -> bytes:
    """Copy of a template whose empty SSID element (at ``at``) carries ``ssid``.

    A probe request template gets the sender (addr2) patched, a probe
    response template the receiver (addr1)."""
    frame = bytearray(template[:at])
    if at == 24:
        frame[10:16] = receiver_or_sender
    else:
        frame[4:10] = receiver_or_sender
    return bytes(frame) + bytes((0, len(ssid))) + ssid + template[at + 2:]


def build(path: Path = DEFAULT_OUT, frames: int = DEFAULT_FRAMES, seed: int = SEED) -> dict:
    """Write the capture; return counts by kind (and the AP population size)."""
    rng = random.Random(seed)
    aps = make_aps(rng)
    build_templates(aps, rng)
    by_channel: dict[int, list[AP]] = {}
    for ap in aps:
        if ap.role != "rogue-karma":
            by_channel.setdefault(ap.channel, []).append(ap)
    karma = next(ap for ap in aps if ap.role == "rogue-karma")
    busy = [ap for ap in aps if ap.busy]
    busy_weights = [ap.busy for ap in busy]
    seqs = [rng.randrange(4096) for _ in aps]
    client_seq: dict[str, int] = {}
    pn = [rng.randrange(1, 10**6) for _ in aps]

    data_headers: dict[tuple[int, str, bool, int], bytes] = {}
    data_tpls: dict[int, tuple[bytes, bytes]] = {}
    pool = rng.randbytes(1 << 16)
    pool_max = len(pool) - 1600

    # Devices that only probe (phones walking by), and what they ask for.
    probers = [_mac(rng, "", local=True) for _ in range(240)]
    probe_tpls: dict[tuple[str, bytes], bytes] = {}
    wanted = [b"", b"", b"", CITY_SSID.encode(), b"0000docomo", b"au_Wi-Fi2", b"home-net",
              b"aterm-5c3a1b-g", b"Starbucks_Free", b"eduroam", b"FreeSpot", b"JR-EAST_FREE_Wi-Fi"]
    probe_req_tpl = bytes(
        Dot11(type=0, subtype=4, addr1=BROADCAST, addr2=ZERO_MAC, addr3=BROADCAST)
        / Dot11ProbeReq() / Dot11Elt(ID=0, info=b"")
        / Dot11Elt(ID=1, info=b"\x02\x04\x0b\x16\x0c\x12\x18\x24")
        / Dot11Elt(ID=50, info=b"\x30\x48\x60\x6c")
        / Dot11Elt(ID=45, info=b"\x2d\x40\x1b" + b"\xff" + b"\x00" * 22))
    karma_tpl = bytes(
        Dot11(type=0, subtype=5, addr1=BROADCAST, addr2=karma.bssid, addr3=karma.bssid)
        / Dot11ProbeResp(timestamp=0, beacon_interval=100, cap=0x0421)
        / Dot11Elt(ID=0, info=b"")
        / Dot11Elt(ID=1, info=b"\x82\x84\x8b\x96\x0c\x12\x18\x24")
        / Dot11Elt(ID=3, info=bytes((karma.channel,))))
    rt_probe_24 = _radiotap(2437, False, 2, -70)
    rt_probe_5 = _radiotap(5180, True, 12, -70)
    ap_rt_data: dict[int, list[bytes]] = {}

    deauth_tpls: dict[tuple[int, str, str, int], bytes] = {}

    def deauth_frame(ap: AP, src: str, dst: str, reason: int) -> bytes:
        key = (ap.index, src, dst, reason)
        tpl = deauth_tpls.get(key)
        if tpl is None:
            tpl = bytes(Dot11(type=0, subtype=12, addr1=dst, addr2=src, addr3=ap.bssid)
                        / Dot11Deauth(reason=reason))
            deauth_tpls[key] = tpl
        return tpl

    victim = next(ap for ap in aps if ap.role == "city" and ap.clients)
    burst_round = 300
    out = Writer(path)
    counts = {"beacon": 0, "data": 0, "probe_req": 0, "probe_resp": 0, "deauth": 0}
    names = ("beacon", "data", "probe_req", "probe_resp", "deauth")
    pack_into = struct.pack_into
    rnd = rng.random
    randrange = rng.randrange
    r = 0
    written = 0
    while written < frames:
        base = r * ROUND_US
        events: list[tuple] = []
        for ap in aps:
            # TBTT in the AP's own clock, mapped to capture time through its drift.
            skew = 1.0 + ap.ppm * 1e-6
            local_now = ap.tsf0 + int(base * skew)
            next_tbtt = local_now + (-local_now) % ROUND_US
            t = base + int((next_tbtt - local_now) / skew) + randrange(0, 400)
            events.append((t, BEACON, ap))
        n_probes = randrange(6, 16)
        responses = 0
        for _ in range(n_probes):
            t = base + randrange(ROUND_US)
            who = probers[randrange(len(probers))]
            ssid = wanted[randrange(len(wanted))]
            channel = (1, 6, 11, 36, 40, 44, 48)[randrange(7)]
            events.append((t, PROBE_REQ, (who, ssid, channel)))
            candidates = by_channel.get(channel, [])
            if ssid:
                answering = [ap for ap in candidates if ap.ssid == ssid][:3]
                if channel == karma.channel or channel == 6:
                    answering.append(karma)
            else:
                answering = [ap for ap in candidates if not ap.hidden]
                if len(answering) > 3:
                    answering = rng.sample(answering, 3)
            for k, ap in enumerate(answering):
                events.append((t + 300 + 250 * k + randrange(200), PROBE_RESP, (ap, who, ssid)))
                responses += 1
        n_data = len(aps) + n_probes + responses + randrange(-20, 21)
        for ap in rng.choices(busy, busy_weights, k=n_data):
            events.append((base + randrange(ROUND_US), DATA, ap))
        if randrange(40) == 0:
            ap = busy[randrange(len(busy))]
            client = ap.clients[randrange(len(ap.clients))]
            events.append((base + randrange(ROUND_US), DEAUTH, (ap, ap.bssid, client, 3, False)))
        if r == burst_round:  # aireplay-ng -0: 64 frames each way, spoofed from the AP
            client = victim.clients[0]
            for k in range(128):
                t = base + 700 * k
                if k % 2 == 0:
                    events.append((t, DEAUTH, (victim, victim.bssid, client, 7, True)))
                else:
                    events.append((t, DEAUTH, (victim, client, victim.bssid, 7, True)))
        events.sort(key=lambda e: e[0])

        for t, kind, arg in events:
            if written >= frames:
                break
            if kind == BEACON:
                ap = arg
                body = bytearray(ap.beacon)
                seqs[ap.index] = s = (seqs[ap.index] + 1) & 0xFFF
                pack_into("<H", body, 22, s << 4)
                skew = 1.0 + ap.ppm * 1e-6
                pack_into("<Q", body, 24, ap.tsf0 + int(t * skew))
                body[ap.tim_offset] = r % ap.dtim_period
                rt = bytearray(ap.radiotaps[randrange(8)])
            elif kind == DATA:
                ap = arg
                client = ap.clients[randrange(len(ap.clients))]
                uplink = rnd() < 0.4
                tid = 0 if rnd() < 0.8 else 5
                key = (ap.index, client, uplink, tid)
                hdr = data_headers.get(key)
                if hdr is None:
                    tpls = data_tpls.get(ap.index)
                    if tpls is None:
                        tpls = data_tpls[ap.index] = data_templates(ap)
                    hdr = data_headers[key] = _data_header(tpls, _octets(client), uplink, tid)
                body = bytearray(hdr)
                if uplink:
                    s = client_seq[client] = (client_seq.get(client, randrange(4096)) + 1) & 0xFFF
                else:
                    seqs[ap.index] = s = (seqs[ap.index] + 1) & 0xFFF
                pack_into("<H", body, 22, s << 4)
                pn[ap.index] += 1
                p = pn[ap.index]
                body += bytes((p & 0xFF, (p >> 8) & 0xFF, 0, 0x20, (p >> 16) & 0xFF,
                               (p >> 24) & 0xFF, 0, 0))
                size = randrange(100, 1501)
                start = randrange(pool_max)
                body += pool[start:start + size]
                rates = ap_rt_data.get(ap.index)
                if rates is None:
                    rates = ap_rt_data[ap.index] = [
                        _radiotap(ap.freq, ap.is_5g, rate, ap.signal + (0 if up else -6))
                        for rate in ((108, 48, 36) if ap.is_5g else (108, 22, 11))
                        for up in (True, False)]
                rt = bytearray(rates[randrange(len(rates))])
            elif kind == PROBE_REQ:
                who, ssid, channel = arg
                tpl = probe_tpls.get((who, ssid))
                if tpl is None:
                    tpl = probe_tpls[(who, ssid)] = _with_ssid(probe_req_tpl, _octets(who), ssid)
                body = bytearray(tpl)
                s = client_seq[who] = (client_seq.get(who, randrange(4096)) + 1) & 0xFFF
                pack_into("<H", body, 22, s << 4)
                rt = bytearray(rt_probe_5 if channel > 14 else rt_probe_24)
                pack_into("<H", rt, 18, 5000 + 5 * channel if channel > 14 else 2407 + 5 * channel)
            elif kind == PROBE_RESP:
                ap, who, ssid = arg
                if ap.role == "rogue-karma" and ssid:
                    # KARMA: answer with whatever SSID was asked for.
                    body = bytearray(_with_ssid(karma_tpl, _octets(who), ssid, at=36))
                else:
                    body = bytearray(ap.probe_resp)
                    body[4:10] = bytes.fromhex(who.replace(":", ""))
                seqs[ap.index] = s = (seqs[ap.index] + 1) & 0xFFF
                pack_into("<H", body, 22, s << 4)
                pack_into("<Q", body, 24, ap.tsf0 + int(t * (1.0 + ap.ppm * 1e-6)))
                rt = bytearray(ap.radiotaps[randrange(8)])
            else:
                ap, src, dst, reason, spoofed = arg
                body = bytearray(deauth_frame(ap, src, dst, reason))
                if src == ap.bssid and not spoofed:
                    seqs[ap.index] = s = (seqs[ap.index] + 1) & 0xFFF
                else:
                    s = randrange(4096)
                pack_into("<H", body, 22, s << 4)
                rt = bytearray(ap.radiotaps[randrange(8)])
            pack_into("<Q", rt, RT_TSFT, 7_000_000_000 + t)
            out.add(t, bytes(rt), bytes(body))
            counts[names[kind]] += 1
            written += 1
        r += 1
    out.close()
    counts["frames"] = written
    counts["access_points"] = len(aps)
    counts["duration_s"] = round(r * ROUND_US / 1e6, 1)
    return counts


# --------------------------------------------------------------------------
# The registry of the simulated city


def _yaml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def registry_yaml(seed: int = SEED) -> str:
    """bench/registry.yaml: the 100 registered APs of the simulated city."""
    aps = make_aps(random.Random(seed))
    lines = [
        "# Registry of the simulated city in bench/out/mixed.pcap.",
        "# Generated by `python bench/make_capture.py --write-registry`; do not edit by hand.",
        "# The capture also holds ~190 neighbours (not listed) and six impostors that",
        "# should raise alerts: an open twin with an unknown BSSID, two lookalike SSIDs,",
        "# a 00:13:37 pentest router, a clone of the first BSSID on channel 13, a KARMA",
        "# responder, plus one deauthentication burst against a registered AP.",
        "facilities:",
    ]
    for fid, name in FACILITIES:
        lines += [f"  - id: {fid}", f"    name: {_yaml_str(name)}", "    networks:"]
        for ssid, security, pmf, role in ((CITY_SSID, "[wpa2-psk]", "optional", "city"),
                                          (STAFF_SSID, "[wpa2-eap, wpa3-eap]", "required",
                                           "staff")):
            lines += [f"      - ssid: {ssid}", f"        security: {security}",
                      f"        pmf: {pmf}", "        access_points:"]
            for ap in aps:
                if ap.facility == fid and ap.role == role:
                    channels = ", ".join(str(c) for c in ap.allowed)
                    lines += [f"          - bssid: \"{ap.bssid}\"",
                              f"            label: {_yaml_str(ap.label)}",
                              f"            channels: [{channels}]"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--write-registry", action="store_true",
                        help=f"also rewrite {REGISTRY_PATH.relative_to(HERE.parent)}")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    counts = build(args.out, args.frames, args.seed)
    elapsed = time.perf_counter() - started
    size = args.out.stat().st_size
    print(f"{args.out}: {counts['frames']} frames, {size / 1e6:.1f} MB, "
          f"{counts['duration_s']} s of air time, {counts['access_points']} APs, "
          f"built in {elapsed:.1f} s", file=sys.stderr)
    print("  " + ", ".join(f"{k}={v}" for k, v in counts.items()
                           if k not in ("frames", "access_points", "duration_s")), file=sys.stderr)
    if args.write_registry:
        REGISTRY_PATH.write_text(registry_yaml(args.seed), encoding="utf-8")
        print(f"wrote {REGISTRY_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
