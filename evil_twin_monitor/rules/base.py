"""What every detection rule looks like to the engine.

Theory of operation
-------------------
A rule is a small class with one job. The engine builds one instance per rule
and calls ``on_frame`` only for the frame kinds listed in ``kinds``; a rule
that needs the passing of time (``ap_missing``) also gets ``on_tick`` once per
``tick_interval_s`` of *capture* time. A rule never reads a clock, a file or a
socket: everything it knows arrives in frames and in its `RuleContext`.

``on_frame`` is on the hot path. It returns None for the vast majority of
frames, and a `Finding` (or a list of them) when the evidence is complete.
The engine, not the rule, decides whether a finding becomes a new alert or a
repeat of an open one (hold-down), so a rule may report the same problem on
every frame without flooding anyone.

A rule whose verdict depends only on the frame's kind, transmitter, BSSID,
elements and frequency (and the registry), with no state of its own, sets
``memoizable = True``: the engine then remembers its findings for that
combination and does not call it again for the next identical beacon. Such a
rule must not put per-frame values (signal, time, sequence number) into its
evidence; the engine adds the signal of the frame that opened the alert.

Every per-BSSID table a rule keeps must be capped (`BoundedDict`), because the
attacker decides how many BSSIDs we hear.

Settings: each rule lists its tunables with defaults in ``DEFAULTS``. The sensor
configuration may override them under ``rules: {<rule id>: {...}}``; unknown
keys are rejected at load time, so ``settings`` always holds exactly the keys
of ``DEFAULTS``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Iterable, Mapping, TypeVar

from ..decoding.frame import Frame
from ..registry.model import Registry

SEVERITIES = ("critical", "high", "medium", "low", "info")


@dataclass
class RuleContext:
    """What a rule may know about its surroundings. The engine owns it and
    swaps ``registry`` on reload, so rules must read it through the context."""

    registry: Registry
    facility: str | None = None   # the sensor's facility id, if known
    sensor: str | None = None


@dataclass(frozen=True)
class Finding:
    """A rule's report that its evidence is complete.

    ``bssid`` is the 6-byte address the finding is about (or None); ``ssid`` the
    raw SSID octets. ``freq_mhz`` is where the transmitter operates (its own
    DS/HT channel when it says so, else where it was heard). ``evidence`` holds
    JSON-ready values only (str, int, float, bool, None, lists, dicts); put
    expected vs observed values there.
    """

    rule: str
    severity: str
    message: str
    ssid: bytes | None = None
    bssid: bytes | None = None
    freq_mhz: int | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)


class Rule:
    """Base class: subclasses set the class attributes and override hooks."""

    id: ClassVar[str] = ""
    kinds: ClassVar[frozenset[str]] = frozenset()
    severity: ClassVar[str] = "medium"
    DEFAULTS: ClassVar[Mapping[str, Any]] = {}
    tick_interval_s: ClassVar[float | None] = None
    memoizable: ClassVar[bool] = False

    def __init__(self, ctx: RuleContext, settings: Mapping[str, Any] | None = None) -> None:
        self.ctx = ctx
        merged = dict(self.DEFAULTS)
        if settings:
            unknown = set(settings) - set(self.DEFAULTS)
            if unknown:
                raise ValueError(f"rule {self.id}: unknown setting(s) {sorted(unknown)}; "
                                 f"valid: {sorted(self.DEFAULTS)}")
            merged.update(settings)
        self.settings = merged

    def on_frame(self, frame: Frame) -> Finding | list[Finding] | None:
        return None

    def on_tick(self, now_ns: int) -> Iterable[Finding]:
        return ()

    def registry_changed(self) -> None:
        """Called after the engine swapped ``ctx.registry`` (reload). Rules that
        cache registry lookups clear those caches here; learned state stays."""

    def capture_gap(self, start_ns: int, end_ns: int) -> None:
        """The sensor was deaf from ``start_ns`` to ``end_ns`` (radio lost and
        recovered). Rules that judge silence shift their clocks past it."""


K = TypeVar("K")
V = TypeVar("V")


class BoundedDict(OrderedDict, Generic[K, V]):
    """A dict that keeps at most ``cap`` entries, evicting the least recently
    *inserted or touched* one. Call ``touch(key)`` to mark use. ``evicted``
    counts evictions so that a flood shows up in statistics."""

    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap
        self.evicted = 0

    def __setitem__(self, key, value) -> None:
        if key in self:
            OrderedDict.__setitem__(self, key, value)
            self.move_to_end(key)
            return
        OrderedDict.__setitem__(self, key, value)
        if len(self) > self.cap:
            self.popitem(last=False)
            self.evicted += 1

    def touch(self, key) -> None:
        self.move_to_end(key)
