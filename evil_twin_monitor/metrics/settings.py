"""The ``metrics:`` section of the sensor configuration.

Theory of operation
-------------------
```yaml
metrics:
  enabled: true               # serve /metrics while `run` runs
  listen_address: 0.0.0.0     # an IP address: 0.0.0.0 (all IPv4), :: (IPv4 and IPv6), 127.0.0.1
  port: 18011
  max_alert_series: 100       # evil_twin_monitor_active_alert series at most (0-10000)
  tls_certfile: tls/sensor.pem      # HTTPS when set (with tls_keyfile); relative to this file
  tls_keyfile: tls/sensor.key
  tls_client_cafile: tls/ca.pem     # client-certificate authentication when set
```

Default port 18011: the Prometheus project's register of exporter ports
("Default port allocations" on its wiki) has handed out all of 9100-9999 and
now continues from 10000 upwards, and its guide for exporter authors
recommends that exporters of internal applications stay outside the
allocated range. 18011 is far above that growing range, below the Linux
ephemeral range (32768-60999, so an outgoing connection never holds it), and
is not among the services Debian knows (``/etc/services``).

The default address listens on every IPv4 interface, because the central
Prometheus scrapes the sensor over the network. Restrict who may scrape with
client certificates (``tls_client_cafile``), with the unit's
``IPAddressAllow=``, or by listening on one address only.

TLS files are loaded once when the configuration is read, so ``check-config``
and a SIGHUP reload catch a wrong path, a key that does not match its
certificate or a file the service user cannot read, before the server
needs them.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..registry.yamlsource import Located, Reader

DEFAULT_LISTEN_ADDRESS = "0.0.0.0"
DEFAULT_PORT = 18011
DEFAULT_MAX_ALERT_SERIES = 100
MAX_ALERT_SERIES_LIMIT = 10_000

METRICS_KEYS = ("enabled", "listen_address", "port", "max_alert_series",
                "tls_certfile", "tls_keyfile", "tls_client_cafile")


class MetricsError(Exception):
    """The metrics endpoint cannot be served (or its TLS files are unusable).

    ``str(error)`` is one line for the log. ``permanent`` says whether waiting
    can help: a port in use or an address not (yet) on this host may free up,
    a bad certificate or a privileged port will not."""

    def __init__(self, message: str, *, permanent: bool, field: str | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.field = field   # the settings key at fault, for configuration messages


@dataclass(frozen=True)
class MetricsSettings:
    """Where and how the metrics endpoint is served, and the bound on alert series."""

    enabled: bool = True
    listen_address: str = DEFAULT_LISTEN_ADDRESS
    port: int = DEFAULT_PORT            # 0: any free port (tests)
    max_alert_series: int = DEFAULT_MAX_ALERT_SERIES
    tls_certfile: str | None = None     # absolute, or relative to the working directory
    tls_keyfile: str | None = None
    tls_client_cafile: str | None = None

    @property
    def tls(self) -> bool:
        return self.tls_certfile is not None

    @property
    def client_auth(self) -> bool:
        return self.tls_client_cafile is not None

    @property
    def url(self) -> str:
        """Where a scraper on this host finds the metrics (the wildcard
        addresses are shown as the loopback address of their family)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.listen_address, self.listen_address)
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/metrics"

    def describe(self) -> str:
        """One line for ``check-config`` and the start-up log."""
        if not self.enabled:
            return "metrics: disabled"
        how = "plain HTTP"
        if self.client_auth:
            how = f"HTTPS, clients need a certificate signed by {self.tls_client_cafile}"
        elif self.tls:
            how = "HTTPS, no client certificates"
        address = f"[{self.listen_address}]" if ":" in self.listen_address else self.listen_address
        return (f"metrics: listening on {address}:{self.port}, {how}; at most "
                f"{self.max_alert_series} active-alert series (from this host: {self.url})")


def tls_context(settings: MetricsSettings) -> ssl.SSLContext | None:
    """The server's TLS context, as prometheus-client builds it, or None without TLS.

    Used to check the files (configuration load, `serve`); raises
    `MetricsError` naming the file and the problem."""
    if settings.tls_certfile is None and settings.tls_keyfile is None:
        if settings.tls_client_cafile is not None:
            raise MetricsError("metrics: tls_client_cafile needs tls_certfile and tls_keyfile "
                               "(client certificates are only checked over HTTPS)",
                               permanent=True, field="tls_client_cafile")
        return None
    if settings.tls_certfile is None or settings.tls_keyfile is None:
        missing = "tls_keyfile" if settings.tls_keyfile is None else "tls_certfile"
        raise MetricsError(f"metrics: {missing} missing; tls_certfile and tls_keyfile go "
                           "together (both for HTTPS, neither for plain HTTP)",
                           permanent=True, field=missing)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if settings.tls_client_cafile is not None:
        try:
            context.load_verify_locations(cafile=settings.tls_client_cafile)
        except (OSError, ssl.SSLError) as exc:
            raise MetricsError(f"metrics: tls_client_cafile {settings.tls_client_cafile}: "
                               f"{_reason(exc)}", permanent=True,
                               field="tls_client_cafile") from exc
        context.verify_mode = ssl.CERT_REQUIRED
    for key, path in (("tls_certfile", settings.tls_certfile), ("tls_keyfile", settings.tls_keyfile)):
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise MetricsError(f"metrics: {key} {path}: {_reason(exc)}", permanent=True,
                               field=key) from exc
    try:
        context.load_cert_chain(settings.tls_certfile, settings.tls_keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise MetricsError(f"metrics: tls_certfile {settings.tls_certfile} with tls_keyfile "
                           f"{settings.tls_keyfile}: {_reason(exc)}", permanent=True,
                           field="tls_certfile") from exc
    return context


def _reason(exc: BaseException) -> str:
    """One line from an OSError/SSLError, without Python's decorations."""
    if isinstance(exc, ssl.SSLError) and exc.reason:
        text = {"KEY_VALUES_MISMATCH": "the key does not belong to the certificate",
                "NO_CERTIFICATE_OR_CRL_FOUND": "no PEM certificate in the file",
                "PEM_LIB": "not a PEM certificate/key, or a key protected by a passphrase",
                "NO_START_LINE": "not a PEM file"}.get(exc.reason, exc.reason.lower().replace("_", " "))
        return text
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return " ".join(str(exc).split())


def read_metrics_section(reader: Reader, node: Located, path: str) -> MetricsSettings | None:
    """Validate a ``metrics:`` mapping; problems go to ``reader`` (file:line: field: message).

    Relative TLS paths are resolved against the directory of ``reader.file``.
    Returns None when anything is wrong (the problems say what)."""
    entries = reader.mapping(node, path, (), METRICS_KEYS)
    if entries is None:
        return None
    problems = len(reader.problems)
    values: dict[str, Any] = {}
    if "enabled" in entries:
        values["enabled"] = reader.boolean(entries["enabled"], f"{path}.enabled")
    if "listen_address" in entries:
        address_node = entries["listen_address"]
        text = reader.string(address_node, f"{path}.listen_address")
        if text is not None:
            try:
                values["listen_address"] = str(ipaddress.ip_address(text.strip("[]")))
            except ValueError:
                reader.problem(address_node.line, f"{path}.listen_address",
                               f"'{text}' is not an IP address; use 0.0.0.0 (every IPv4 "
                               "address), :: (IPv6 and IPv4), or one address of this host "
                               "such as 127.0.0.1")
    if "port" in entries:
        values["port"] = reader.integer(entries["port"], f"{path}.port", 1, 65535)
    if "max_alert_series" in entries:
        values["max_alert_series"] = reader.integer(
            entries["max_alert_series"], f"{path}.max_alert_series", 0, MAX_ALERT_SERIES_LIMIT)
    base = Path(reader.file).parent
    for key in ("tls_certfile", "tls_keyfile", "tls_client_cafile"):
        if key in entries:
            text = reader.string(entries[key], f"{path}.{key}")
            if text is not None:
                values[key] = str(base / text)
    if len(reader.problems) != problems:
        return None
    settings = MetricsSettings(**values)
    try:
        tls_context(settings)
    except MetricsError as exc:
        key = exc.field or "tls_certfile"
        where = entries[key].line if key in entries else next(
            (entries[k].line for k in METRICS_KEYS if k.startswith("tls_") and k in entries),
            node.line)
        message = str(exc).removeprefix("metrics: ").removeprefix(f"{key} ")
        reader.problem(where, f"{path}.{key}", message)
        return None
    return settings
