"""The daemon: radio, capture and engine in one single-threaded loop.

Theory of operation
-------------------
One thread does everything, so nothing needs a lock and the engine stays the
same deterministic object ``replay`` drives:

- ``poll`` waits on the capture socket and on a self-pipe that signal
  handlers write to (``signal.set_wakeup_fd``), with a timeout that ends at the
  next channel hop or housekeeping moment, whichever is first.
- Frames are read in batches and go through the same `Decoder` and `Engine`
  as in ``replay``; a frame whose radiotap header has no frequency gets the
  frequency the radio is tuned to.
- Every ``HOUSEKEEPING_S`` the engine's clock advances even without frames (so
  hold-downs expire and silences are noticed), the kernel's drop counter is
  read, the systemd watchdog is fed and, less often, a ``stats`` event and
  the systemd status line are written.
- The radio hops along the channel plan; a frequency the driver refuses is
  dropped from the plan and logged once.

Failure handling follows who can fix it. Bad configuration, a missing
capability or an adapter without monitor mode end the daemon with status 2
(systemd does not restart it: ``RestartPreventExitStatus=2``). The adapter
vanishing or going down is normal in the field: the daemon says so, keeps
retrying with exponential backoff while feeding the watchdog, and resumes;
the deaf period is reported to the engine so that it does not count as
silence of the APs. SIGHUP loads the configuration and registry anew and
applies them only if both are valid, keeping what the rules learned;
SIGTERM/SIGINT stop the loop, restore the radio and close open alerts.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import time
from pathlib import Path
from typing import Any

from .. import __version__
from ..capture import CaptureError, LiveCapture, filter_expression
from ..channelplan import ChannelPlan, ChannelPlanError
from ..config import ConfigError, SensorConfig, load_config
from ..decoding import Decoder
from ..decoding.channels import frequency_to_channel
from ..engine import Engine
from ..evidence import EvidenceSink, replace_evidence_sink
from ..evidence.metrics import EvidenceCollector
from ..metrics import MetricsError, MetricsServer, SensorMetrics, ap_status_of, serve
from ..radio import RadioError, RadioInfo, make_radio
from ..radio.base import TuneFailed
from ..radio.lock import RadioLock, lock_path
from ..registry import RegistryError
from ..registry.yamlsource import Problem
from ..sinks import LogSink
from ..store import SensorSampler, StoreSink, replace_store_sink
from .logs import configure_logging
from .notify import Notifier

HOUSEKEEPING_S = 1.0
METRICS_RETRY_S = 30.0  # a metrics port in use: try again this often, capturing meanwhile
STATUS_INTERVAL_S = 5.0
BATCH = 256            # frames per read call
BATCHES_PER_WAKE = 16  # then look at the clock again
CLOCK_STEP_NS = 5_000_000_000  # a wall-clock jump beyond this is a step, not drift
EXIT_OK, EXIT_CONFIG = 0, 2
STORE_CLOSE_TIMEOUT_S = 5.0  # at shutdown; well within the unit's TimeoutStopSec


class Stop(Exception):
    """A signal asked the daemon to stop while it was waiting."""


def build_engine(config: SensorConfig, sinks: list[Any]) -> Engine:
    return Engine(config.registry, facility=config.facility, sensor=config.sensor_id,
                  rules=config.rules, hold_down_s=config.hold_down_s,
                  max_open_alerts=config.max_open_alerts, sinks=sinks)


class Sensor:
    def __init__(self, config_path: str | Path, config: SensorConfig, log: Any,
                 notifier: Notifier | None = None, log_format: str | None = None) -> None:
        self.config_path = Path(config_path)
        self.config = config
        self.log = log
        self.log_format = log_format   # --log-format, which wins over the file on reload too
        self.notifier = notifier or Notifier()
        self.decoder = Decoder()
        self.metrics = SensorMetrics(config.registry, config.facility, config.sensor_id,
                                     config.metrics)
        self.metrics_server: MetricsServer | None = None
        self._metrics_retry_at: float | None = None
        self.engine = build_engine(config, [LogSink(log), self.metrics])
        self.store: StoreSink | None = None  # started by run(); a thread of its own
        self.evidence: EvidenceSink | None = None  # started by run(); the engine's first sink
        self.metrics.collector_registry.register(EvidenceCollector(
            lambda: self.evidence, lambda: (self.config.facility, self.config.sensor_id)))
        self.radio = make_radio(config.radio)  # type: ignore[arg-type]
        self.radio_info: RadioInfo | None = None
        self._radio_lock = RadioLock()  # held while the radio is open: a live survey checks it
        self.capture: LiveCapture | None = None
        self.plan: ChannelPlan | None = None
        self._hops: Any = iter(())
        self.freq_mhz: int | None = None
        self._hop_at = 0.0
        self._signals: list[int] = []
        self._wake_r, self._wake_w = socket.socketpair()
        # counters
        self.frames = 0
        self.kernel_drops = 0
        self._period_frames = 0
        self._period_drops = 0
        self._period_start = time.monotonic()
        self._status_frames = 0
        self._status_at = self._period_start
        self._fps = 0.0
        self._deaf_since_ns: int | None = None  # set while the capture is closed
        self._clock = (time.monotonic(), time.time_ns())
        self._sampler = SensorSampler()  # health and AP presence per stats interval, for reports

    # -- signals ------------------------------------------------------------
    def _install_signals(self) -> None:
        for sock in (self._wake_r, self._wake_w):
            sock.setblocking(False)
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._signals.append(signum)

    def _handle_signals(self) -> None:
        """Act on the signals received so far; `Stop` ends the loop.

        The wake-up bytes are read before *and* after: a signal that arrives
        while a reload runs leaves a byte that would otherwise wake every
        ``poll`` at once, with nothing to do (a busy loop)."""
        while True:
            self._drain_wakeups()
            if not self._signals:
                return
            signum = self._signals.pop(0)
            if signum == signal.SIGHUP:
                self.reload()
            else:
                self.log.info("stopping", signal=signal.Signals(signum).name)
                raise Stop

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_r.recv(64):
                pass
        except BlockingIOError:
            pass

    # -- main ---------------------------------------------------------------------
    def run(self) -> int:
        self._install_signals()
        radio = self.config.radio
        assert radio is not None
        self.log.info("sensor_starting", version=__version__, sensor=self.config.sensor_id,
                      facility=self.config.facility, interface=radio.interface,
                      driver=radio.driver, config=str(self.config_path))
        self._set_store(replace_store_sink(None, self.config.store, self.log,
                                           sensor=self.config.sensor_id))
        self._set_evidence(replace_evidence_sink(None, self.config.evidence, self.log,
                                                 registry=lambda: self.engine.ctx.registry))
        status = EXIT_OK
        try:
            self._update_metrics()
            self._start_metrics(at_start=True)
            self._connect_with_retry("start")
            while True:
                try:
                    self._pump()
                except (CaptureError, RadioError) as exc:
                    if exc.permanent:
                        raise
                    self._lost(exc)
                    self._connect_with_retry("lost")
        except Stop:
            pass
        except (CaptureError, RadioError, MetricsError) as exc:
            self.log.error("sensor_failed", error=str(exc))
            status = EXIT_CONFIG
        except Exception:
            # A bug: say so in the log with the traceback; systemd restarts us.
            self.log.exception("sensor_crashed")
            raise
        finally:
            self._shutdown()
        return status

    def _pump(self) -> None:
        """Capture until a signal stops us or the capture is lost (raises)."""
        assert self.capture is not None
        capture = self.capture
        poller = select.poll()
        poller.register(capture.fileno(), select.POLLIN)
        poller.register(self._wake_r.fileno(), select.POLLIN)
        capture_fd = capture.fileno()
        next_housekeeping = time.monotonic() + HOUSEKEEPING_S
        while True:
            if self._signals:
                self._handle_signals()
                if self.capture is not capture:  # a reload reopened it
                    return
            now = time.monotonic()
            if now >= self._hop_at:
                self._process(capture)  # frames heard before the hop keep its frequency
                self._hop(now)
            if now >= next_housekeeping:
                self._housekeeping(now)
                next_housekeeping = now + HOUSEKEEPING_S
            timeout = min(self._hop_at, next_housekeeping) - time.monotonic()
            for fd, _ in poller.poll(max(0, int(timeout * 1000) + 1)):
                if fd == capture_fd:
                    self._process(capture)
                else:
                    self._drain_wakeups()  # the signals themselves are in self._signals

    def _process(self, capture: LiveCapture) -> None:
        """Decode and judge what is queued (at most a few batches, then look at the clock)."""
        read, decode, feed = capture.read, self.decoder.decode, self.engine.feed
        linktype, freq = capture.linktype, self.freq_mhz
        record = self.evidence.recorder.record if self.evidence is not None else None
        number = self.frames
        try:
            for _ in range(BATCHES_PER_WAKE):
                batch = read(BATCH)
                for ts_ns, data in batch:
                    number += 1
                    frame = decode(data, linktype, ts_ns, number)
                    if frame is not None:
                        if frame.freq_mhz is None:
                            frame.freq_mhz = freq
                        if record is not None:
                            record(frame, data, linktype)
                        feed(frame)
                if len(batch) < BATCH:
                    break
        finally:
            self._period_frames += number - self.frames
            self.frames = number

    # -- radio and capture ------------------------------------------------------------
    def _connect(self) -> None:
        """Open the radio, plan the channels, open the capture (may raise)."""
        # RadioBusy (not permanent) while a survey has the adapter: wait for it like for a
        # missing adapter. A lock that cannot be used must not keep the sensor from running.
        interface = self.config.radio.interface  # type: ignore[union-attr]
        skipped = self._radio_lock.acquire(lock_path(self.config), interface)
        if skipped is not None:
            self.log.warning("radio_lock_skipped", reason=skipped)
        self.radio_info = self.radio.open()
        info = self.radio_info
        self.log.info("radio_ready", interface=self.config.radio.interface,  # type: ignore[union-attr]
                      capture_interface=info.capture_interface, phy=info.phy, driver=info.driver,
                      frequencies=len(info.frequencies) if info.frequencies is not None else None)
        self._set_plan(self._planned(self.config))
        self._open_capture()

    def _open_capture(self) -> None:
        assert self.radio_info is not None
        interface = self.radio_info.capture_interface
        self.capture = LiveCapture(interface, self.engine.kinds, self.config.capture.buffer_mb << 20)
        self._sampler.uptime.opened(time.monotonic())
        self.log.info("capture_started", interface=interface, filter=self.capture.filter,
                      buffer_bytes=self.capture.buffer_bytes)
        self._hop(time.monotonic())
        self._update_metrics()

    def _planned(self, config: SensorConfig) -> ChannelPlan:
        """The plan for ``config`` on the open radio; an adapter that can tune none
        of its channels is a configuration problem (permanent)."""
        supported = self.radio_info.frequencies if self.radio_info else None
        try:
            return config.channel_plan(supported)
        except ChannelPlanError as exc:
            raise RadioError(f"the adapter can tune none of the planned channels: {exc}",
                             permanent=True) from exc

    def _set_plan(self, plan: ChannelPlan) -> None:
        """Follow ``plan``; the same plan again (after a reconnect or a reload that
        did not touch the channels) keeps its rotation, so the sweep still
        reaches every channel."""
        if plan == self.plan:
            return
        self.plan = plan
        self._hops = plan.steps()
        self._hop_at = 0.0
        self.log.info("channel_plan", plan=plan.describe(), home=list(plan.home),
                      others=len(plan.others), cycle_s=round(plan.cycle_s, 3),
                      sweep_s=round(plan.sweep_s, 3), notes=list(plan.notes()))

    def _hop(self, now: float) -> None:
        """Tune to the next channel of the plan; a refused frequency leaves the plan."""
        assert self.plan is not None
        while True:
            hop = next(self._hops)
            if hop.freq_mhz == self.freq_mhz:
                self._hop_at = now + hop.dwell_s
                return
            try:
                self.radio.tune(hop.freq_mhz, hop.width_mhz)
            except TuneFailed as exc:
                self.log.warning("tune_failed", frequency_mhz=hop.freq_mhz, error=str(exc))
                try:
                    self._set_plan(self.plan.without(hop.freq_mhz))
                except ChannelPlanError as empty:
                    # Refused one by one at run time: set the radio up again, which
                    # plans afresh from what the adapter reports then.
                    raise RadioError(f"every channel of the plan was refused: {empty}",
                                     permanent=False) from exc
                continue
            self.freq_mhz = hop.freq_mhz
            self._hop_at = now + hop.dwell_s
            return

    def _connect_with_retry(self, why: str) -> None:
        """Connect (``why``: start, lost or reload); while the interface is
        missing or down, wait with backoff. A reload while waiting changes
        ``self.config`` and ``self.radio``: the next attempt uses them."""
        assert self.config.radio is not None
        delay = self.config.radio.retry_initial_s
        attempts = 0
        while True:
            settings = self.config.radio
            assert settings is not None
            try:
                self._connect()
                break
            except (CaptureError, RadioError) as exc:
                if exc.permanent:
                    raise
                self._close_capture()
                self._close_radio(quiet=True)
                attempts += 1
                first_wait = why == "start" and attempts == 1
                self.log.warning("radio_waiting" if first_wait else "radio_retry_failed",
                                 error=str(exc), retry_in_s=round(delay, 3))
                self.notifier.status(f"waiting for {settings.interface}: {exc}")
                if first_wait:  # tell systemd we are up: a late USB adapter must not fail the boot
                    self.notifier.ready(f"waiting for {settings.interface}")
                self._sleep(delay)
                delay = min(delay * 2, settings.retry_max_s)
        if why == "start":
            self.notifier.ready(self._status_line())
        if self._deaf_since_ns is not None:
            now_ns = time.time_ns()
            self.engine.capture_gap(self._deaf_since_ns, now_ns)
            if why == "lost":
                self.log.info("radio_recovered", interface=settings.interface, attempts=attempts,
                              down_s=round((now_ns - self._deaf_since_ns) / 1e9, 3))
            self._deaf_since_ns = None

    def _lost(self, exc: CaptureError | RadioError) -> None:
        settings = self.config.radio
        assert settings is not None
        self.log.warning("radio_lost", interface=settings.interface, error=str(exc),
                         retry_in_s=settings.retry_initial_s)
        self.notifier.status(f"radio lost: {exc}")
        self._close_capture()
        self._close_radio(quiet=True)
        self._sleep(settings.retry_initial_s)

    def _sleep(self, seconds: float) -> None:
        """Wait, feeding the watchdog and answering signals (`Stop` ends it)."""
        deadline = time.monotonic() + seconds
        while True:
            self._handle_signals()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.notifier.watchdog()
            self._update_metrics()  # radio_up 0 while waiting for the adapter
            select.select([self._wake_r], [], [], min(remaining, HOUSEKEEPING_S))

    def _close_capture(self) -> None:
        """Close the capture; from now on the sensor is deaf (see `Engine.capture_gap`)."""
        if self.capture is not None:
            self._read_kernel_stats()
            self.capture.close()
            self._sampler.uptime.closed(time.monotonic())
            self.capture = None
            if self._deaf_since_ns is None:
                self._deaf_since_ns = time.time_ns()
        self.freq_mhz = None
        self._update_metrics()

    def _close_radio(self, quiet: bool = False) -> None:
        self.radio.close()
        self._radio_lock.release()
        if not quiet and self.radio_info is not None:
            self.log.info("radio_restored", interface=self.config.radio.interface)  # type: ignore[union-attr]
        self.radio_info = None

    # -- housekeeping -------------------------------------------------------------------
    def _read_kernel_stats(self) -> None:
        if self.capture is not None:
            _passed, dropped = self.capture.kernel_stats()
            self.kernel_drops += dropped
            self._period_drops += dropped

    def _housekeeping(self, now: float) -> None:
        now_ns = time.time_ns()
        self._notice_clock_step(now, now_ns)
        self.engine.advance(now_ns)
        self._read_kernel_stats()
        self.notifier.watchdog()
        self._update_metrics()
        if self._metrics_retry_at is not None and now >= self._metrics_retry_at:
            self._start_metrics()
        if now - self._status_at >= STATUS_INTERVAL_S:
            self._fps = (self.frames - self._status_frames) / (now - self._status_at)
            self._status_frames, self._status_at = self.frames, now
            self.notifier.status(self._status_line())
        if now - self._period_start >= self.config.logging.stats_interval_s:
            self._log_stats(now)

    def _notice_clock_step(self, now: float, now_ns: int) -> None:
        """The wall clock jumped forward (NTP on a box without a real-time clock):
        the engine's clock is the wall clock, so tell it that the jump was not
        heard silence."""
        mono, wall = self._clock
        self._clock = (now, now_ns)
        expected = wall + int((now - mono) * 1e9)
        if now_ns - expected > CLOCK_STEP_NS:
            self.log.warning("clock_step", seconds=round((now_ns - expected) / 1e9, 3))
            self.engine.capture_gap(expected, now_ns)

    def _log_stats(self, now: float) -> None:
        seconds = now - self._period_start
        self.log.info(
            "stats", seconds=round(seconds, 3), frames=self._period_frames,
            frames_per_s=round(self._period_frames / seconds, 1) if seconds > 0 else 0.0,
            frames_total=self.frames, kernel_drops=self._period_drops,
            kernel_drops_total=self.kernel_drops, frequency_mhz=self.freq_mhz,
            channel=frequency_to_channel(self.freq_mhz) if self.freq_mhz else None,
            by_type=dict(self.decoder.frames), malformed=dict(self.decoder.malformed),
            alerts_open=len(self.engine.open), alerts_total=sum(self.engine.alerts_by_rule.values()),
            dropped_findings=self.engine.dropped_findings,
            store=self.store.stats() if self.store is not None else None,
            evidence=self.evidence.stats() if self.evidence is not None else None)
        self._sample(now)
        self._period_start, self._period_frames, self._period_drops = now, 0, 0

    def _sample(self, now: float) -> None:
        """Hand the store this interval's health and registered-AP presence (reports)."""
        rows = self._sampler.sample(
            now=now, time_ns=time.time_ns(), interval_s=now - self._period_start,
            frames=self._period_frames, kernel_drops=self._period_drops,
            status=ap_status_of(self.engine), registry=self.config.registry,
            facility=self.config.facility, sensor=self.config.sensor_id)
        if self.store is not None:
            self.store.sample(*rows)

    def _status_line(self) -> str:
        channel = (f"channel {frequency_to_channel(self.freq_mhz)} ({self.freq_mhz} MHz)"
                   if self.freq_mhz else "no channel yet")
        store = (f", alert store failing: {self.store.last_error}"
                 if self.store is not None and not self.store.ok else "")
        return (f"{self._fps:,.0f} frames/s, {channel}, {len(self.engine.open)} alerts open, "
                f"{self.kernel_drops} kernel drops{store}")

    # -- metrics ------------------------------------------------------------------------
    def _update_metrics(self) -> None:
        """Hand the counters to the metrics (a copy; scrapes read it from their threads)."""
        self.metrics.update_health(self.decoder.frames, self.decoder.malformed, self.kernel_drops,
                                   self.capture is not None, self.freq_mhz,
                                   self.engine.dropped_findings)
        self.metrics.update_aps(ap_status_of(self.engine))
        self.metrics.update_store(self.store.stats() if self.store is not None else None)

    def _start_metrics(self, at_start: bool = False) -> None:
        """Serve the metrics as configured. A permanent problem (bad certificate,
        privileged port) at start ends the daemon with status 2 (`MetricsError`
        propagates); a port in use is logged and retried while capturing goes on."""
        settings = self.config.metrics
        self._metrics_retry_at = None
        if not settings.enabled:
            return
        try:
            self.metrics_server = serve(self.metrics, settings)
        except MetricsError as exc:
            if exc.permanent and at_start:
                raise
            retry = None if exc.permanent else METRICS_RETRY_S
            self.log.error("metrics_unavailable", error=str(exc), retry_in_s=retry)
            if retry is not None:
                self._metrics_retry_at = time.monotonic() + retry
            return
        self.log.info("metrics_serving", url=self.metrics_server.url, tls=settings.tls,
                      client_auth=settings.client_auth,
                      max_alert_series=settings.max_alert_series)

    def _stop_metrics(self) -> None:
        if self.metrics_server is not None:
            self.metrics_server.shutdown()
            self.metrics_server = None
        self._metrics_retry_at = None

    # -- reload -------------------------------------------------------------------------
    def reload(self) -> None:
        """SIGHUP: the new configuration and registry as a whole, or nothing."""
        self.notifier.reloading()
        old = self.config
        try:
            new = load_config(self.config_path)
            if new.radio is None:
                raise ConfigError([Problem(str(self.config_path), None, "radio",
                                           "section missing; `run` needs one")])
            plan = self._planned(new) if new.radio == old.radio and self.radio_info else None
        except (RegistryError, OSError, RadioError) as exc:
            self.log.error("reload_failed", error=str(exc), keeping=str(old.registry_path))
            self.metrics.reload(False)
            self.notifier.ready(self._status_line())
            return
        restarted = self._apply(new)
        reopen = self.capture is not None and (
            new.radio != old.radio or new.capture != old.capture
            or self.capture.filter != filter_expression(self.engine.kinds))
        self.log.info("reload_ok", registry=str(new.registry_path),
                      access_points=len(new.registry.access_points()),
                      rules_restarted=restarted, capture_reopened=reopen)
        if self.capture is None:
            # Waiting for the radio: the next attempt uses the new settings.
            if new.radio != old.radio:
                self.radio.close()
                self.radio = make_radio(new.radio)  # type: ignore[arg-type]
        elif reopen:
            try:
                self._reopen(new.radio != old.radio)
            except (CaptureError, RadioError) as exc:
                if not exc.permanent:
                    raise
                # The new radio settings cannot work: back to the old ones, whole.
                self.log.error("reload_failed", error=str(exc), keeping=str(old.registry_path))
                self._apply(old)
                self._reopen(True)
        elif plan is not None:
            self._set_plan(plan)
        if self.config is new:
            self.metrics.reload(True, new.registry, facility=new.facility, sensor=new.sensor_id)
            self.metrics.set_max_alert_series(new.metrics.max_alert_series)
            if new.metrics != old.metrics or new.metrics.tls:  # TLS: renewed certificates
                self._stop_metrics()
                self._start_metrics()
        else:  # the new radio settings could not work; the old configuration runs
            self.metrics.reload(False)
        self.notifier.ready(self._status_line())

    def _apply(self, config: SensorConfig) -> list[str]:
        """Make ``config`` the running configuration (registry, rules, logging)."""
        old = self.config
        self.config = config
        if (config.logging.level, config.logging.format) != (old.logging.level, old.logging.format):
            configure_logging(config.logging.level, self.log_format or config.logging.format)
        self.engine.set_registry(config.registry)
        self._set_store(replace_store_sink(self.store, config.store, self.log,
                                           sensor=config.sensor_id))
        self._set_evidence(replace_evidence_sink(self.evidence, config.evidence, self.log,
                                                 registry=lambda: self.engine.ctx.registry))
        return self.engine.reconfigure(
            facility=config.facility, sensor=config.sensor_id, rules=config.rules,
            hold_down_s=config.hold_down_s, max_open_alerts=config.max_open_alerts)

    def _set_store(self, store: StoreSink | None) -> None:
        """Make ``store`` the engine's store sink (None: no store)."""
        if store is self.store:
            return
        if self.store is not None:
            self.engine.sinks.remove(self.store)
        if store is not None:
            self.engine.sinks.append(store)
        self.store = store

    def _set_evidence(self, evidence: EvidenceSink | None) -> None:
        """Make ``evidence`` the engine's first sink (None: no evidence captures)."""
        if evidence is self.evidence:
            return
        if self.evidence is not None:
            self.engine.sinks.remove(self.evidence)
        if evidence is not None:
            self.engine.sinks.insert(0, evidence)  # it adds evidence_file for the others
        self.evidence = evidence

    def _reopen(self, new_radio: bool) -> None:
        """Open the capture again (new filter or buffer), and the radio too if it changed."""
        self._close_capture()
        if not new_radio:
            self._set_plan(self._planned(self.config))
            self._open_capture()
            self._deaf_since_ns = None  # a moment, not a gap worth reporting
            return
        self._close_radio()
        self.radio = make_radio(self.config.radio)  # type: ignore[arg-type]
        self._connect_with_retry("reload")

    # -- shutdown ------------------------------------------------------------------------
    def _shutdown(self) -> None:
        self.notifier.stopping()
        # First, so that no scrape sees the alerts close below: a stopped sensor
        # is "sensor down" to Prometheus, not "the evil twin went away".
        self._stop_metrics()
        self._close_capture()
        self._close_radio()
        if self.evidence is not None:  # before finish(): closing alerts learn of failed writes
            self.evidence.close(STORE_CLOSE_TIMEOUT_S)
        self.engine.finish()
        if self.store is not None:  # after finish(): the closing snapshots go in too
            self._sample(time.monotonic())  # the last, partial interval
            self.store.close(STORE_CLOSE_TIMEOUT_S)
        self.log.info("sensor_stopped", frames=self.frames, kernel_drops=self.kernel_drops,
                      alerts=sum(self.engine.alerts_by_rule.values()),
                      alerts_by_rule=dict(self.engine.alerts_by_rule))
        signal.set_wakeup_fd(-1)
        self.notifier.close()


def run(config_path: str, log_format: str | None = None) -> int:
    """``evil-twin-monitor run``: load, check, run until stopped. Returns the exit status."""
    config = load_config(config_path)  # errors go to the caller: one line each, status 2
    if config.radio is None:
        raise ConfigError([Problem(str(config_path), None, "radio",
                                   "`run` needs a radio: section naming the interface "
                                   "(see config/sensor.example.yaml)")])
    log = configure_logging(config.logging.level, log_format or config.logging.format)
    os.umask(0o077)
    return Sensor(config_path, config, log, log_format=log_format).run()
