"""Serving the metrics: prometheus-client's HTTP(S) server, hardened a little.

Theory of operation
-------------------
`serve` checks the TLS files first (so a bad certificate fails before a port
is taken), then starts ``prometheus_client.start_http_server`` with the
sensor's own `CollectorRegistry` and, when configured, its built-in TLS:
``certfile``/``keyfile`` for HTTPS and ``client_cafile`` with
``client_auth_required`` for client-certificate authentication. The server
runs in prometheus-client's daemon thread and answers each scrape in a
thread of its own; `MetricsServer.shutdown` stops it and frees the port.

Two adjustments, made on the server object prometheus-client returns:

- **The TLS handshake moves out of the accept loop.** prometheus-client
  wraps the *listening* socket, so each handshake runs inside ``accept()``
  on the one serving thread, with no deadline: a client that connects and
  never speaks (a port scanner, a half-open connection) would stop every
  later scrape. Accepted sockets are now wrapped without a handshake, and
  the request thread performs it under the request timeout.
- **Every connection has a deadline** (``REQUEST_TIMEOUT_S``), so slow or
  silent clients cannot pile up threads; failed handshakes and timeouts are
  counted in `MetricsServer.client_errors`, not printed (stderr is the
  daemon's JSON log stream).

Errors are `MetricsError` with one line and ``permanent``: a port in use
(another sensor, the previous instance still shutting down) or an address
not yet configured may resolve itself; a privileged port, an unknown address
or a bad certificate will not.
"""

from __future__ import annotations

import errno
import socket
import ssl
import threading
from typing import Any

from prometheus_client import start_http_server

from .settings import MetricsError, MetricsSettings, tls_context

REQUEST_TIMEOUT_S = 10.0   # a scrape's whole exchange; Prometheus' default scrape timeout is 10 s


class MetricsServer:
    """A running metrics endpoint: ``address`` is what it is bound to."""

    def __init__(self, httpd: Any, thread: threading.Thread, settings: MetricsSettings) -> None:
        self._httpd = httpd
        self._thread = thread
        self.settings = settings
        self.client_errors = 0   # failed handshakes, refused client certificates, timeouts
        host, port = httpd.server_address[:2]
        self.address: tuple[str, int] = (host, port)

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def url(self) -> str:
        """A URL that reaches this server from this host."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.address[0], self.address[0])
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self.settings.tls else 'http'}://{host}:{self.port}/metrics"

    def shutdown(self) -> None:
        """Stop serving and free the port (idempotent; never raises)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        try:
            httpd.shutdown()
            httpd.server_close()
        except OSError:
            pass
        self._thread.join(timeout=REQUEST_TIMEOUT_S)

    def _client_error(self, _request: Any, _client_address: Any) -> None:
        self.client_errors += 1


def serve(metrics: Any, settings: MetricsSettings) -> MetricsServer:
    """Serve ``metrics`` (a `SensorMetrics`, or any object with a
    ``collector_registry``) as ``settings`` say. Raises `MetricsError`."""
    registry = getattr(metrics, "collector_registry", metrics)
    tls_context(settings)  # the files, checked before the port is taken
    where = f"{settings.listen_address}:{settings.port}"
    try:
        httpd, thread = start_http_server(
            settings.port, addr=settings.listen_address, registry=registry,
            certfile=settings.tls_certfile, keyfile=settings.tls_keyfile,
            client_cafile=settings.tls_client_cafile,
            client_auth_required=settings.client_auth)
    except socket.gaierror as exc:
        raise MetricsError(f"metrics: cannot listen on {where}: not an address of this host "
                           f"({exc.strerror})", permanent=True) from exc
    except ssl.SSLError as exc:  # checked above; the files changed in between
        raise MetricsError(f"metrics: TLS: {exc.reason or exc}", permanent=True) from exc
    except OSError as exc:
        raise _listen_error(exc, where, settings) from exc
    server = MetricsServer(httpd, thread, settings)
    _harden(httpd, server)
    return server


def _listen_error(exc: OSError, where: str, settings: MetricsSettings) -> MetricsError:
    if exc.errno == errno.EADDRINUSE:
        return MetricsError(f"metrics: cannot listen on {where}: the port is in use (another "
                            "program or sensor listens there); choose another metrics.port",
                            permanent=False)
    if exc.errno == errno.EADDRNOTAVAIL:
        return MetricsError(f"metrics: cannot listen on {where}: the address is not on this "
                            "host (yet); check metrics.listen_address", permanent=False)
    if exc.errno == errno.EACCES and settings.port < 1024:
        return MetricsError(f"metrics: cannot listen on {where}: ports below 1024 need "
                            "CAP_NET_BIND_SERVICE; use a port above 1023", permanent=True)
    if exc.filename:  # a TLS file (prometheus-client's own message names it)
        return MetricsError(f"metrics: TLS: {' '.join(str(exc).split())}", permanent=True)
    reason = exc.strerror or str(exc)
    return MetricsError(f"metrics: cannot listen on {where}: {reason[:1].lower()}{reason[1:]}",
                        permanent=True)


def _harden(httpd: Any, server: MetricsServer) -> None:
    """Handshake in the request thread, a deadline per connection, quiet failures."""
    base = httpd.RequestHandlerClass

    class Handler(base):  # type: ignore[misc, valid-type]
        timeout = REQUEST_TIMEOUT_S

        def setup(self) -> None:
            super().setup()  # sets the socket timeout
            if isinstance(self.connection, ssl.SSLSocket):
                self.connection.do_handshake()

    httpd.RequestHandlerClass = Handler
    httpd.handle_error = server._client_error
    if isinstance(httpd.socket, ssl.SSLSocket):
        httpd.socket.do_handshake_on_connect = False
