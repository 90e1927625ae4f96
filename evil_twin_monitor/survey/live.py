"""The live survey: the sensor's radio hops every channel of the domain for a while.

Theory of operation
-------------------
The building blocks are the daemon's: `radio.make_radio` (monitor mode,
tuning, restoring the adapter), `capture.LiveCapture` with the kernel filter
for the collector's frame kinds (beacons and probe responses only: nothing a
client device sends is captured), and a `channelplan.ChannelPlan`. What
differs is the plan: the daemon favours the facility's registered channels,
while a survey is how those channels are found, so it visits *every* 20 MHz
channel of the regulatory domain in turn, each for the same dwell (the
configuration's ``exclude:`` still applies: a channel the operator must never
tune stays untouched; ``only:`` and the home channels do not). A frequency the
adapter refuses leaves the plan, as in the daemon.

Frames are decoded by the same `Decoder` and fed to the `SurveyCollector`;
a frame whose radiotap header has no frequency gets the tuned one.

One thread, one ``poll`` on the capture socket and a self-pipe that SIGINT
and SIGTERM write to (``signal.set_wakeup_fd``): either signal ends the
survey early and the caller still gets what was heard; the radio is restored
and the previous handlers are put back in every case. Unlike the daemon, a
survey does not wait for a missing adapter: it is run by a person, who is
told at once (`SurveyError`). An adapter lost half-way ends the survey with
what was heard so far and the reason in `LiveResult.error`.

The survey takes the adapter the way the daemon does (nl80211 adopts a
monitor interface of the configured name and removes it on close), so the
two must not run at once on one adapter. Both hold the adapter's lock
(`radio.lock`: a ``flock`` on a file named after the interface, next to the
configuration's alert store) while the radio is open: a survey run with the
sensor's configuration while the sensor runs is refused before it touches
the adapter (`SurveyError`), and a sensor that starts meanwhile waits for
the survey to end. A lock that cannot be taken for another reason (no such
directory) is a warning, not a failure.
"""

from __future__ import annotations

import select
import signal
import socket
import time
from dataclasses import dataclass, field
from itertools import dropwhile
from typing import Any, Callable, Iterator

from ..capture import CaptureError, LiveCapture
from ..channelplan import DOMAINS, ChannelPlan, ChannelPlanError, ChannelSettings, Hop, build_plan
from ..config import SensorConfig
from ..decoding import Decoder
from ..radio import RadioError, make_radio
from ..radio.base import Radio, TuneFailed
from ..radio.lock import RadioBusy, RadioLock, lock_path
from .collect import SurveyCollector

DEFAULT_DWELL_S = 0.5   # about five beacons of an AP at the usual 102.4 ms interval
BATCH = 256


class SurveyError(Exception):
    """The live survey could not start; ``str()`` is one line for people."""


@dataclass
class LiveResult:
    plan: ChannelPlan
    interface: str
    capture_interface: str
    seconds: float = 0.0
    frames: int = 0                  # frames the kernel filter passed
    kernel_drops: int = 0
    stopped_by: str | None = None    # "SIGINT" / "SIGTERM" when a signal ended it early
    error: str | None = None         # the radio or capture failed half-way
    refused: list[int] = field(default_factory=list)  # frequencies the adapter refused


def survey_plan(config: SensorConfig, dwell_s: float,
                supported: frozenset[int] | None = None) -> ChannelPlan:
    """Every channel of the configuration's regulatory domain, ``dwell_s`` each,
    minus its ``exclude:`` and what the adapter cannot tune (`ChannelPlanError`
    when nothing is left)."""
    domain = DOMAINS[config.channels.regulatory_domain]
    settings = ChannelSettings(regulatory_domain=domain.code, home_dwell_s=dwell_s,
                               other_dwell_s=dwell_s, only=domain.frequencies,
                               exclude=config.channels.exclude)
    return build_plan(config.registry, config.facility, settings, supported)


class _Hopper:
    """Walks the plan; a refused frequency leaves it and the walk goes on after it."""

    def __init__(self, radio: Radio, plan: ChannelPlan) -> None:
        self.radio = radio
        self.plan = plan
        self.refused: list[int] = []
        self._steps: Iterator[Hop] = plan.steps()
        self.freq_mhz: int | None = None
        self.hop_at = 0.0

    def hop(self, now: float) -> None:
        while True:
            step = next(self._steps)
            try:
                self.radio.tune(step.freq_mhz, step.width_mhz)
            except TuneFailed as exc:
                self.refused.append(step.freq_mhz)
                try:
                    self.plan = self.plan.without(step.freq_mhz)
                except ChannelPlanError as empty:
                    raise RadioError(f"the adapter refused every channel: {empty}",
                                     permanent=True) from exc
                after = step.freq_mhz
                steps = self.plan.steps()
                if any(f > after for f in self.plan.home):
                    steps = dropwhile(lambda h: h.freq_mhz < after, steps)
                self._steps = steps
                continue
            self.freq_mhz = step.freq_mhz
            self.hop_at = now + step.dwell_s
            return


def survey_live(config: SensorConfig, collector: SurveyCollector, duration_s: float,
                dwell_s: float = DEFAULT_DWELL_S,
                say: Callable[[str], None] = lambda _line: None) -> LiveResult:
    """Listen with ``config``'s radio for ``duration_s`` seconds, feeding ``collector``.

    ``say`` gets a line or two for the person waiting. Raises `SurveyError`
    when the survey cannot start; a failure later ends it early
    (`LiveResult.error`). Must run in the main thread (signal handlers)."""
    settings = config.radio
    if settings is None:
        raise SurveyError(f"{config.source}: a live survey needs a radio: section naming the "
                          "interface (see config/sensor.example.yaml)")
    lock = RadioLock()
    try:
        skipped = lock.acquire(lock_path(config), settings.interface)
    except RadioBusy as exc:
        raise SurveyError(f"{exc}, the sensor service or another survey; stop the service "
                          "first: systemctl stop evil-twin-monitor") from None
    if skipped is not None:
        say(f"warning: cannot check whether the sensor is using {settings.interface} "
            f"({skipped}); stop the sensor service first")
    try:
        return _survey_locked(config, collector, duration_s, dwell_s, say)
    finally:
        lock.release()


def _survey_locked(config: SensorConfig, collector: SurveyCollector, duration_s: float,
                   dwell_s: float, say: Callable[[str], None]) -> LiveResult:
    settings = config.radio
    assert settings is not None
    stop: list[str] = []
    wake_r, wake_w = socket.socketpair()
    for sock in (wake_r, wake_w):
        sock.setblocking(False)

    def on_signal(signum: int, _frame: Any) -> None:
        stop.append(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, on_signal)
                for signum in (signal.SIGINT, signal.SIGTERM)}
    previous_wakeup = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    radio = make_radio(settings)
    capture: LiveCapture | None = None
    try:
        try:
            info = radio.open()
            plan = survey_plan(config, dwell_s, info.frequencies)
            capture = LiveCapture(info.capture_interface, collector.kinds,
                                  config.capture.buffer_mb << 20)
        except (RadioError, CaptureError) as exc:
            raise SurveyError(str(exc)) from exc
        except ChannelPlanError as exc:
            raise SurveyError(f"{settings.interface}: {exc}") from exc
        result = LiveResult(plan, settings.interface, info.capture_interface)
        say(f"surveying {len(plan.home)} channels of {plan.domain} on {settings.interface} for "
            f"{duration_s:g} s ({dwell_s:g} s per channel, every channel once in "
            f"{plan.sweep_s:.1f} s); Ctrl-C ends it early")
        if duration_s < plan.sweep_s:
            say(f"warning: {duration_s:g} s is shorter than one sweep ({plan.sweep_s:.1f} s): "
                "some channels are never listened to")
        _listen(capture, collector, _Hopper(radio, plan), duration_s, stop, wake_r, result)
        if stop:
            result.stopped_by = stop[0]
        return result
    finally:
        if capture is not None:
            capture.close()
        radio.close()
        signal.set_wakeup_fd(previous_wakeup)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        wake_r.close()
        wake_w.close()


def _listen(capture: LiveCapture, collector: SurveyCollector, hopper: _Hopper,
            duration_s: float, stop: list[str], wake: socket.socket, result: LiveResult) -> None:
    """The loop: hop when the dwell is over, read what arrives, until the time
    is up or a signal came; radio/capture failures end it with ``result.error``."""
    decoder = Decoder()
    feed = collector.feed
    decode = decoder.decode
    linktype = capture.linktype
    poller = select.poll()
    poller.register(capture.fileno(), select.POLLIN)
    poller.register(wake.fileno(), select.POLLIN)
    started = time.monotonic()
    deadline = started + duration_s

    def drain() -> None:
        freq = hopper.freq_mhz
        for _ in range(16):
            batch = capture.read(BATCH)
            for ts_ns, data in batch:
                result.frames += 1
                frame = decode(data, linktype, ts_ns, result.frames)
                if frame is not None:
                    if frame.freq_mhz is None:
                        frame.freq_mhz = freq
                    feed(frame)
            if len(batch) < BATCH:
                return

    try:
        hopper.hop(started)
        while not stop:
            now = time.monotonic()
            if now >= deadline:
                break
            if now >= hopper.hop_at:
                drain()  # what was heard before the hop keeps its frequency
                hopper.hop(now)
            timeout = min(hopper.hop_at, deadline) - time.monotonic()
            for fd, _ in poller.poll(max(0, int(timeout * 1000) + 1)):
                if fd == wake.fileno():
                    try:
                        while wake.recv(64):
                            pass
                    except BlockingIOError:
                        pass
                else:
                    drain()
        drain()
    except (CaptureError, RadioError) as exc:
        result.error = str(exc)
    finally:
        result.seconds = time.monotonic() - started
        result.refused = list(hopper.refused)
        result.kernel_drops = capture.kernel_stats()[1]
