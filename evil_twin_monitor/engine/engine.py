"""The engine: frames in, alerts out, no I/O.

Theory of operation
-------------------
``feed(frame)`` hands a decoded frame to the rules that asked for its kind
(a dict from kind to a tuple of bound methods, built once), and turns their
findings into alerts:

- **Key.** An alert is identified by (rule, facility, ssid, bssid).
- **Open.** The first finding of a key opens an alert and every sink hears
  ``opened(alert)`` at once (the daemon logs and pages on this).
- **Repeat.** A finding for an open key only counts a repeat and moves the
  alert's ``last_ns``. Nobody is told again: that is the hold-down.
- **Close.** When no finding for a key arrived for ``hold_down_s`` of capture
  time, or at ``finish()``, the alert closes and sinks hear ``closed(alert)``
  with its final repeat count (``replay`` prints alerts here, complete).

Memo: rules marked ``memoizable`` (stateless, their verdict a function of
the frame's kind, transmitter, BSSID, elements and frequency) are not called
again for a frame identical in those respects to one already judged: an AP
repeats its beacon ten times a second, and the decoder hands out the same
`Elements` object for the same element bytes. The memo is a dict, cleared
when full or when the registry changes. The signal strength of the frame
that opened an alert is added to its evidence here, for every rule.

The clock is the capture time of the newest frame seen (never the wall
clock), so a replay is deterministic and an hour of capture replays in a
second. Captures are not always in order: the clock never runs backwards.
Every second of capture time the engine expires alerts (a heap ordered by
expiry) and runs the rules' ``on_tick`` when their interval is due.

Bounded, and fair: at most ``max_open_alerts`` alerts are open; findings for
new keys beyond that are counted in ``dropped_findings`` (an operator sees the
count; a beacon flood must not eat the memory), and per rule in
``dropped_by_rule``. A quarter of the slots is held back in equal shares,
one per enabled rule: a rule may always open alerts up to its share, and
beyond it only while the slots still free leave every other rule its unused
share. So a flood that advertises a registered SSID from 100,000 random
BSSIDs fills at most the other three quarters with ``unknown_bssid``
alerts, and a cloned BSSID or a deauth flood found meanwhile still opens.
(With fewer than four slots per rule the shares round to nothing and the
cap is simply shared.)

Within one rule, persistence wins: a flood's BSSIDs are heard once, a real
twin keeps beaconing. A key refused for lack of room and reported again at
least ``PERSISTENT_NS`` later takes the slot of that rule's oldest open
alert that never repeated (which closes: sinks hear ``closed``). So the
twin hiding in a flood of the city's SSID opens within about a second,
while the one-frame BSSIDs keep being refused and counted, and the sinks see
no churn. Refused keys are remembered in a capped table, most recently
refused last.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from typing import Any, Iterable, Mapping, Protocol, Sequence

from ..decoding.frame import Frame
from ..registry.model import Registry
from ..rules import ALL_RULES, BoundedDict, Finding, Rule, RuleContext
from .alert import Alert

NS = 1_000_000_000
TICK_NS = NS
STEP_BACK_NS = 3 * NS    # capture time this far behind the engine's clock: the clock was stepped
MEMO_CAP = 16_384
PERSISTENT_NS = NS       # refused, then reported again this much later: a transmitter that stays
REFUSED_CAP = 4096       # refused keys remembered (a flood churns this table, a twin stays in it)


class Sink(Protocol):
    """Where alerts go (log, metrics, store, stdout). One small object each."""

    def opened(self, alert: Alert) -> None: ...

    def closed(self, alert: Alert) -> None: ...


class RuleSetting(Protocol):
    enabled: bool
    severity: str | None
    settings: Mapping[str, Any]


class Engine:
    def __init__(
        self,
        registry: Registry,
        *,
        facility: str | None = None,
        sensor: str | None = None,
        rules: Mapping[str, RuleSetting] | None = None,
        hold_down_s: float = 300,
        max_open_alerts: int = 10_000,
        sinks: Sequence[Sink] = (),
        rule_classes: Sequence[type[Rule]] = ALL_RULES,
    ) -> None:
        self.ctx = RuleContext(registry=registry, facility=facility, sensor=sensor)
        self.hold_down_ns = int(hold_down_s * NS)
        self.max_open_alerts = max_open_alerts
        self.sinks = list(sinks)
        self.source: str | None = None  # set by a shell replaying several files
        self._rule_classes = tuple(rule_classes)
        self._rule_config: Mapping[str, RuleSetting] = {}
        self.rules: list[Rule] = []
        self._install_rules(rules or {}, keep={})
        self.open: dict[tuple, Alert] = {}
        self._expiry: list[tuple[int, int, tuple]] = []
        self._order = 0
        self.now_ns = 0
        self._next_tick = 0
        self.alerts_by_rule: dict[str, int] = {}
        self.dropped_findings = 0
        self.clock_steps_back = 0
        self.dropped_by_rule: dict[str, int] = {}
        self._open_by_rule: dict[str, int] = {}
        # per rule: keys of its open alerts that never repeated, oldest first
        self._one_shot: dict[str, OrderedDict[tuple, None]] = {}
        self._refused: BoundedDict[tuple, int] = BoundedDict(REFUSED_CAP)

    def _install_rules(self, config: Mapping[str, RuleSetting], keep: Mapping[str, Rule]) -> None:
        """Build the enabled rules (reusing the instances in ``keep``) and the dispatch tables."""
        self._rule_config = dict(config)
        self.rules = []
        self._severity: dict[str, str] = {}
        for cls in self._rule_classes:
            conf = config.get(cls.id)
            if conf is not None and not conf.enabled:
                continue
            rule = keep.get(cls.id)
            self.rules.append(rule if rule is not None
                              else cls(self.ctx, conf.settings if conf is not None else None))
            if conf is not None and conf.severity:
                self._severity[cls.id] = conf.severity
        dispatch: dict[str, tuple[list, list]] = {}
        for rule in self.rules:
            for kind in rule.kinds:
                dispatch.setdefault(kind, ([], []))[0 if rule.memoizable else 1].append(rule.on_frame)
        self._dispatch = {kind: (tuple(memo), tuple(plain)) for kind, (memo, plain) in dispatch.items()}
        self._memo: dict[tuple, tuple[Finding, ...]] = {}
        old_due = {id(entry[0]): entry[2] for entry in getattr(self, "_tick_rules", ())}
        self._tick_rules = [[rule, int(rule.tick_interval_s * NS), old_due.get(id(rule), 0)]
                            for rule in self.rules if rule.tick_interval_s]

    @property
    def kinds(self) -> frozenset[str]:
        """Frame kinds some enabled rule reads (the live capture filters on these)."""
        return frozenset(self._dispatch)

    # -- hot path -------------------------------------------------------
    def feed(self, frame: Frame) -> None:
        ts = frame.ts_ns
        if ts >= self._next_tick:
            self._advance(ts)
        elif ts < self._next_tick - STEP_BACK_NS:
            self._stepped_back(ts)
        entry = self._dispatch.get(frame.kind)
        if entry is None:
            return
        memo_handlers, handlers = entry
        if memo_handlers:
            key = (frame.kind, frame.addr2, frame.addr3, frame.elements, frame.freq_mhz)
            findings = self._memo.get(key)
            if findings is None:
                findings = self._judge(memo_handlers, frame)
                if len(self._memo) >= MEMO_CAP:
                    self._memo.clear()
                self._memo[key] = findings
            for finding in findings:
                self._accept(finding, ts, frame.number, frame.signal_dbm)
        for handler in handlers:             # stateful rules: called every time, no lists built
            result = handler(frame)
            if result is not None:
                if isinstance(result, Finding):
                    self._accept(result, ts, frame.number, frame.signal_dbm)
                else:
                    for finding in result:
                        self._accept(finding, ts, frame.number, frame.signal_dbm)

    @staticmethod
    def _judge(handlers: tuple, frame: Frame) -> tuple[Finding, ...]:
        findings: list[Finding] = []
        for handler in handlers:
            result = handler(frame)
            if result is not None:
                if isinstance(result, Finding):
                    findings.append(result)
                else:
                    findings.extend(result)
        return tuple(findings)

    # -- time -------------------------------------------------------------
    def advance(self, now_ns: int) -> None:
        """Let capture time pass without a frame (the daemon calls this when idle)."""
        if now_ns >= self._next_tick:
            self._advance(now_ns)

    def _advance(self, ts: int) -> None:
        if ts > self.now_ns:
            self.now_ns = ts
        now = self.now_ns
        self._next_tick = now - now % TICK_NS + TICK_NS
        self._expire(now)
        for entry in self._tick_rules:
            rule, interval, due = entry
            if due == 0:
                entry[2] = now + interval  # first tick one interval after the first frame
            elif now >= due:
                entry[2] = now + interval
                for finding in rule.on_tick(now):
                    self._accept(finding, now, 0, None)

    def _stepped_back(self, ts: int) -> None:
        """Capture time jumped back (an NTP step on a live sensor, replay files
        out of order). The engine's clock moves back with it, open alerts and
        due ticks by the same amount (so hold-downs do not stall until capture
        time catches up), and rules hear a gap: what they learned about timing
        cannot be continued across a step."""
        delta = self.now_ns - ts
        self.now_ns = ts
        self._next_tick = ts - ts % TICK_NS + TICK_NS
        for alert in self.open.values():
            alert.last_ns -= delta
        self._expiry = [(due - delta, order, key) for due, order, key in self._expiry]
        heapq.heapify(self._expiry)
        for entry in self._tick_rules:
            if entry[2]:
                entry[2] -= delta
        for rule in self.rules:
            rule.capture_gap(ts, ts)
        self.clock_steps_back += 1

    def _expire(self, now: int) -> None:
        heap = self._expiry
        while heap and heap[0][0] <= now:
            _, _, key = heapq.heappop(heap)
            alert = self.open.get(key)
            if alert is None:
                continue
            expiry = alert.last_ns + self.hold_down_ns
            if expiry > now:  # it repeated meanwhile: look again later
                self._order += 1
                heapq.heappush(heap, (expiry, self._order, key))
                continue
            self._close(key)

    # -- findings -> alerts -------------------------------------------------
    def _accept(self, finding: Finding, ts: int, number: int, signal_dbm: int | None) -> None:
        key = (finding.rule, self.ctx.facility, finding.ssid, finding.bssid)
        alert = self.open.get(key)
        if alert is not None:
            alert.repeats += 1
            if alert.repeats == 1:
                self._one_shot[finding.rule].pop(key, None)
            if ts > alert.last_ns:
                alert.last_ns = ts
            alert.last_frame = number
            return
        if not self._has_room(finding.rule) and not self._make_room(key, ts):
            self.dropped_findings += 1
            self.dropped_by_rule[finding.rule] = self.dropped_by_rule.get(finding.rule, 0) + 1
            return
        evidence = dict(finding.evidence)
        if signal_dbm is not None and "signal_dbm" not in evidence:
            evidence["signal_dbm"] = signal_dbm
        if self.source is not None:
            evidence["capture"] = self.source
        alert = Alert(
            rule=finding.rule,
            severity=self._severity.get(finding.rule, finding.severity),
            facility=self.ctx.facility,
            sensor=self.ctx.sensor,
            ssid=finding.ssid,
            bssid=finding.bssid,
            frequency_mhz=finding.freq_mhz,
            message=finding.message,
            evidence=evidence,
            time_ns=ts,
            first_frame=number,
            last_ns=ts,
            last_frame=number,
            key=key,
        )
        self.open[key] = alert
        self._open_by_rule[finding.rule] = self._open_by_rule.get(finding.rule, 0) + 1
        self._one_shot.setdefault(finding.rule, OrderedDict())[key] = None
        self.alerts_by_rule[finding.rule] = self.alerts_by_rule.get(finding.rule, 0) + 1
        self._order += 1
        heapq.heappush(self._expiry, (ts + self.hold_down_ns, self._order, key))
        for sink in self.sinks:
            sink.opened(alert)

    def _has_room(self, rule: str) -> bool:
        """May ``rule`` open one more alert? (The fair cap: see the module notes.)"""
        cap = self.max_open_alerts
        total = len(self.open)
        if total >= cap:
            return False
        if total + cap // 4 < cap:  # the held-back quarter is untouched: no need to look
            return True
        share = cap // (4 * max(1, len(self.rules)))
        counts = self._open_by_rule
        if counts.get(rule, 0) < share:
            return True
        unused = sum(max(0, share - counts.get(other.id, 0))
                     for other in self.rules if other.id != rule)
        return total + unused < cap

    def _make_room(self, key: tuple, ts: int) -> bool:
        """Persistence wins (module notes): close the rule's oldest never-repeated
        alert for a key refused at least ``PERSISTENT_NS`` ago. True if done."""
        refused = self._refused
        first = refused.get(key)
        if first is None:
            refused[key] = ts
            return False
        refused.touch(key)
        waiting = self._one_shot.get(key[0])
        if ts - first < PERSISTENT_NS or not waiting:
            return False
        victim = next(iter(waiting))
        del refused[key]
        self._close(victim)
        return True

    def _close(self, key: tuple) -> None:
        alert = self.open.pop(key)
        self._open_by_rule[alert.rule] -= 1
        self._one_shot[alert.rule].pop(key, None)
        alert.closed = True
        for sink in self.sinks:
            sink.closed(alert)

    def finish(self) -> None:
        """End of input: close every open alert, oldest first."""
        for key in sorted(self.open, key=lambda k: (self.open[k].time_ns, self.open[k].first_frame)):
            self._close(key)

    # -- reload ---------------------------------------------------------------
    def set_registry(self, registry: Registry) -> None:
        """Swap the registry (SIGHUP) keeping every rule's learned state."""
        self.ctx.registry = registry
        self._memo.clear()
        for rule in self.rules:
            rule.registry_changed()

    def reconfigure(self, *, facility: str | None, sensor: str | None,
                    rules: Mapping[str, RuleSetting], hold_down_s: float,
                    max_open_alerts: int) -> list[str]:
        """Apply a reloaded sensor configuration (SIGHUP).

        Rules whose configuration did not change keep their instance and so
        their learned state; the others start afresh. A different facility
        or sensor restarts every rule, since what they learned was learned
        there. Open alerts stay open. Returns the ids of restarted rules.
        """
        moved = (facility, sensor) != (self.ctx.facility, self.ctx.sensor)
        self.ctx.facility, self.ctx.sensor = facility, sensor
        keep = {} if moved else {
            rule.id: rule for rule in self.rules
            if rules.get(rule.id) == self._rule_config.get(rule.id)}
        self._install_rules(rules, keep)
        self.hold_down_ns = int(hold_down_s * NS)
        self.max_open_alerts = max_open_alerts
        return [rule.id for rule in self.rules if rule.id not in keep]

    def capture_gap(self, start_ns: int, end_ns: int) -> None:
        """The sensor heard nothing from ``start_ns`` to ``end_ns`` (radio lost).

        Rules that judge silence must not count a deaf sensor as a silent AP."""
        if end_ns > start_ns:
            for rule in self.rules:
                rule.capture_gap(start_ns, end_ns)

    @property
    def open_alerts(self) -> Iterable[Alert]:
        return self.open.values()
