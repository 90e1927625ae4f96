"""lookalike_ssid: an SSID a person could mistake for a registered one.

Theory of operation
-------------------
Attack: instead of copying the city's SSID exactly (which ``unknown_bssid``
catches), the attacker names the fake access point so that it *looks* the
same in a phone's Wi-Fi list: "Shinjuku Free Wi-Fi", "shinjuku_free_wifi",
"Shіnjuku_Free_Wi-Fi" with a Cyrillic "і", a trailing zero-width space, or a
small typo. People tap the name they recognise.

Signal: the SSID of beacons and probe responses. Both the observed and each
registered SSID are reduced to a *skeleton*:

  1. decode UTF-8 (undecodable octets become U+FFFD), NFKC (fullwidth and
     other compatibility forms become plain letters),
  2. casefold,
  3. drop invisible characters (format characters such as U+200B, controls,
     U+FFFD), whitespace, and punctuation/symbols,
  4. map every remaining character to its Latin look-alike, using the
     Unicode confusables data shipped with ``confusable_homoglyphs``.

Equal skeletons are a look-alike; otherwise a Levenshtein distance of at
most ``max_distance`` between skeletons is, but only when both skeletons are
at least ``min_length`` characters long (short names such as "iptime" are
too close to too many neighbours). The registered SSID itself (exact octets)
never fires, and neither does *any* registered SSID, so two registered
networks that resemble each other do not accuse one another. The finding
names the closest registered SSID.

Why: the reasons listed in the evidence are found by leaving each step out in
turn: a step that, when skipped, leaves the two names further apart was
needed to make them match ("case", "whitespace", "punctuation", "invisible
characters", "confusable characters"), plus "edit distance N" when the
skeletons still differ.

Hot path: the verdict is cached per SSID octets in a capped dict (an attacker
can flood random SSIDs; a flood only costs one skeleton per new name).

DEFAULTS: max_distance 2, min_length 6, max_cached 4096.

Blind spots: look-alikes outside the confusables data (e.g. "rn" for "m",
which is two characters), names that are similar in meaning rather than in
form ("Shinjuku_City_Free"), and the city's own access points advertising an
unregistered variant of its SSID (this fires too: the registry should list
it; the evidence says ``bssid_registered``).
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any, Mapping, NamedTuple

from rapidfuzz.distance import Levenshtein

from ..decoding.frame import BEACON, PROBE_RESP, Frame, mac_text
from ..decoding.text import printable_ssid
from ..registry.model import Registry
from .base import BoundedDict, Finding, Rule, RuleContext
from .common import channel_label, operating_frequency

CONFUSABLE = "confusable characters"
CASE = "case"
INVISIBLE = "invisible characters"
WHITESPACE = "whitespace"
PUNCTUATION = "punctuation"
# The normalisation steps, in the order the reasons are listed.
STEPS = (CASE, WHITESPACE, PUNCTUATION, INVISIBLE, CONFUSABLE)

# How a reason reads in a sentence.
REASON_WORDS = {
    CASE: "letter case",
    WHITESPACE: "spacing",
    PUNCTUATION: "punctuation",
    INVISIBLE: "invisible characters",
    CONFUSABLE: "look-alike characters",
}

_BIDI_MARKS = str.maketrans("", "", "\u200e\u200f")


@cache
def latin_lookalikes() -> dict[str, str]:
    """Non-ASCII character -> the lowercase ASCII letter or digit it imitates.

    Built once from the confusables data set, which lists, for each
    character, the characters that look like it (in both directions).
    Letters win over digits when a character imitates both.
    """
    from confusable_homoglyphs.confusables import confusables_data

    candidates: dict[str, set[str]] = {}
    for key, glyphs in confusables_data.items():
        for glyph in glyphs:
            other = glyph["c"].translate(_BIDI_MARKS)
            if len(key) != 1 or len(other) != 1:
                continue
            for src, dst in ((key, other), (other, key)):
                if not src.isascii() and dst.isascii() and dst.isalnum():
                    candidates.setdefault(src, set()).add(dst.lower())
    return {src: min(dsts, key=lambda c: (c.isdigit(), c)) for src, dsts in candidates.items()}


def skeleton(text: str, skip: str | None = None) -> str:
    """The form two names share when a person cannot tell them apart.

    ``skip`` leaves one step out (used to find out which steps mattered).
    """
    lookalikes = latin_lookalikes()
    if skip != CONFUSABLE:
        text = unicodedata.normalize("NFKC", text)
    if skip != CASE:
        text = text.casefold()
    out = []
    for ch in text:
        if ch.isspace():
            if skip != WHITESPACE:
                continue
        else:
            category = unicodedata.category(ch)
            if category in ("Cf", "Cc") or ch == "\ufffd":
                if skip != INVISIBLE:
                    continue
            elif category[0] in "PS":
                if skip != PUNCTUATION:
                    continue
        if skip != CONFUSABLE:
            ch = lookalikes.get(ch, ch)
        out.append(ch)
    return "".join(out)


def _decode(ssid: bytes) -> str:
    return ssid.decode("utf-8", "replace")


def reasons(observed: str, registered: str) -> list[str]:
    """Why ``observed`` passes for ``registered`` (see the module header)."""
    base = Levenshtein.distance(skeleton(observed), skeleton(registered))
    found = [step for step in STEPS
             if Levenshtein.distance(skeleton(observed, step), skeleton(registered, step)) > base]
    if base:
        found.append(f"edit distance {base}")
    return found


class _Match(NamedTuple):
    registered: bytes
    distance: int
    reasons: tuple[str, ...]


class LookalikeSsid(Rule):
    """An SSID that imitates a registered one."""

    id = "lookalike_ssid"
    kinds = frozenset({BEACON, PROBE_RESP})
    memoizable = True
    severity = "medium"
    DEFAULTS = {"max_distance": 2, "min_length": 6, "max_cached": 4096}

    def __init__(self, ctx: RuleContext, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(ctx, settings)
        self._registry: Registry | None = None
        self._registered: list[tuple[bytes, str]] = []   # (ssid octets, skeleton)
        self._registered_ssids: frozenset[bytes] = frozenset()
        self._verdicts: BoundedDict[bytes, _Match | None] = BoundedDict(self.settings["max_cached"])
        self._refresh(ctx.registry)  # loads the confusables table now, not on the first frame

    def registry_changed(self) -> None:
        self._registry = None

    def _refresh(self, registry: Registry) -> None:
        self._registry = registry
        self._registered_ssids = registry.ssids
        self._registered = sorted(
            (ssid, skeleton(_decode(ssid))) for ssid in self._registered_ssids)
        self._verdicts.clear()

    def on_frame(self, frame: Frame) -> Finding | None:
        elements = frame.elements
        if elements is None:
            return None
        ssid = elements.ssid
        if not ssid:
            return None
        registry = self.ctx.registry
        if registry is not self._registry:
            self._refresh(registry)
        try:
            match = self._verdicts[ssid]
        except KeyError:
            match = self._verdicts[ssid] = self._judge(ssid)
        if match is None:
            return None
        return self._finding(frame, ssid, match, registry)

    def _judge(self, ssid: bytes) -> _Match | None:
        """Closest registered SSID this one imitates, or None."""
        if ssid in self._registered_ssids:
            return None
        text = _decode(ssid)
        skel = skeleton(text)
        if not skel:
            return None
        max_distance = self.settings["max_distance"]
        min_length = self.settings["min_length"]
        best: tuple[int, bytes] | None = None
        for registered, reg_skel in self._registered:
            if not reg_skel:
                continue
            if skel == reg_skel:
                distance = 0
            elif min(len(skel), len(reg_skel)) < min_length:
                continue
            else:
                distance = Levenshtein.distance(skel, reg_skel, score_cutoff=max_distance)
                if distance > max_distance:
                    continue
            if best is None or distance < best[0]:
                best = (distance, registered)
        if best is None:
            return None
        distance, registered = best
        return _Match(registered, distance, tuple(reasons(text, _decode(registered))))

    def _finding(self, frame: Frame, ssid: bytes, match: _Match, registry: Registry) -> Finding:
        bssid = frame.addr3
        freq = operating_frequency(frame)
        why = [REASON_WORDS.get(r) or _edit_words(match.distance) for r in match.reasons]
        why_text = " and ".join(why) if why else "small details"
        message = (f'An access point ({mac_text(bssid)}) on {channel_label(freq)} is advertising '
                   f'"{printable_ssid(ssid)}", which differs from the city network '
                   f'"{printable_ssid(match.registered)}" only in {why_text}; people may mistake '
                   f"it for the city's Wi-Fi and connect to it.")
        evidence = {
            "registered_ssid": printable_ssid(match.registered),
            "observed_ssid": printable_ssid(ssid),
            "observed_ssid_hex": ssid.hex(),
            "reasons": list(match.reasons),
            "edit_distance": match.distance,
            "bssid": mac_text(bssid),
            "bssid_registered": registry.ap_for_bssid(bssid) is not None,
            "frame_kind": frame.kind,
        }
        return Finding(rule=self.id, severity=self.severity, message=message, ssid=ssid,
                       bssid=bssid, freq_mhz=freq, evidence=evidence)


def _edit_words(distance: int) -> str:
    return "1 changed character" if distance == 1 else f"{distance} changed characters"
