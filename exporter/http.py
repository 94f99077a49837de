"""The sidecar's HTTP server: ``/metrics``, ``/healthz`` and the status page at ``/`` (``exporter.page``).

Plain ``http.server`` with a thread per request (at most ``MAX_HANDLERS``): every handler only reads cached state
through plain callables, so a request never waits on a log read or an NVML call. Kept on purpose:

- the TLS handshake is deferred to the handler thread (``do_handshake_on_connect=False``): with
  ``prometheus_client``'s own TLS server, one idle TCP client blocked every later scrape for 3 s in a side-by-side
  test (the handshake ran in the accept loop); ours answered in 8 ms;
- a dual-stack bind for ``:PORT`` (IPv4 and IPv6), ``TCP_NODELAY`` (a small body is not held back by Nagle) and
  HTTP/1.1 keep-alive (Prometheus reuses its connection);
- headers capped at ``MAX_HEADER_BYTES`` in total (431 beyond), a listen backlog of ``LISTEN_BACKLOG``.
"""

from __future__ import annotations

import http.client
import io
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO

from exporter import __version__
from exporter.page import render_page
from exporter.state import GpuState, RunState

log = logging.getLogger("exporter.http")

SHUTDOWN_POLL_SECONDS = 0.5
"""How often the idle server checks for ``stop()``: the longest ``stop()`` waits, and 2 wake-ups a second."""
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""``generate_latest`` writes the classic text format; say so, for Prometheus servers of every age."""


MAX_HEADER_BYTES = 64 * 1024
"""Request line and headers together, per request (Go's net/http allows 1 MB; a scrape sends a few hundred bytes):
``http.server`` alone accepts 100 lines of 64 KiB each, and 25 such requests in parallel took 400 MiB."""
LISTEN_BACKLOG = 1024
"""Pending connections the kernel holds (``http.server``'s default of 5 made 200 simultaneous scrapes wait seconds)."""
MAX_HANDLERS = 64
"""Requests handled at once; more wait in the listen backlog (bounded threads under a scrape storm)."""


def base_url(host: str, port: int, *, tls: bool) -> str:
    """The URL a person can open for a server bound to ``host:port``: ``localhost`` for a wildcard bind."""
    if host in ("", "0.0.0.0", "::"):
        host = "localhost"
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if tls else 'http'}://{host}:{port}/"


class _HeaderBudget:
    """The request's read side, failing ``readline`` once the request line and headers pass ``MAX_HEADER_BYTES``
    (``parse_request`` answers 431 to the ``HTTPException``)."""

    def __init__(self, raw: BinaryIO | io.BufferedIOBase) -> None:
        self._raw = raw
        self.left = MAX_HEADER_BYTES

    def readline(self, size: int = -1) -> bytes:
        line = self._raw.readline(size)
        self.left -= len(line)
        if self.left < 0:
            raise http.client.HTTPException(f"request line and headers over {MAX_HEADER_BYTES} bytes")
        return line

    def read(self, size: int = -1) -> bytes:
        return self._raw.read(size)

    def close(self) -> None:
        self._raw.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG
    ssl_context: ssl.SSLContext | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._handlers = threading.BoundedSemaphore(MAX_HANDLERS)
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Wait for a free handler here (in the accept loop): new connections queue in the listen backlog.
        self._handlers.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._handlers.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._handlers.release()

    def get_request(self) -> tuple[socket.socket, Any]:
        # Handshake in the request thread (not here): a client that never completes TLS must not block accept().
        conn, addr = super().get_request()
        try:
            # A response is complete when written: Nagle would hold its last segment for the client's delayed ACK.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            log.debug("TCP_NODELAY not set: %s", exc)
        if self.ssl_context is not None:
            conn = self.ssl_context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that disconnects mid-response is routine; keep tracebacks out of the exporter's log.
        log.debug("request from %s failed", client_address, exc_info=True)


class ExporterServer:
    """Serves the exporter over HTTP(S); ``start()`` binds and serves in a thread, ``stop()`` shuts down."""

    def __init__(
        self,
        *,
        metrics: Callable[[], bytes],
        runs: Callable[[], Sequence[RunState]],
        gpu: Callable[[], GpuState | None],
        healthy: Callable[[], bool],
        host: str = "",
        port: int = 9787,
        ssl_context: ssl.SSLContext | None = None,
        authorize: Callable[[str | None], bool] | None = None,
    ) -> None:
        self.authorize = authorize
        """Given a request's ``Authorization`` header (or None), whether to serve it; None: no authentication."""
        self.banner = ""
        """A line shown at the top of the status page (the demo says its times are simulated)."""
        self.render_metrics = metrics
        """The ``/metrics`` body (``metrics.CachedMetrics.render`` caches it per published state)."""
        self.runs = runs
        self.gpu = gpu
        self.healthy = healthy
        self.host = host
        self.requested_port = port
        self.ssl_context = ssl_context
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (useful after binding port 0)."""
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL of the bound server."""
        return base_url(self.host, self.port, tls=self.ssl_context is not None)

    def start(self) -> None:
        """Bind the address and serve in a background thread. Raises OSError when the address is taken."""
        handler = _make_handler(self)
        server_class: type[_Server] = _Server
        if ":" in self.host:
            server_class = _Server6
        elif self.host == "":
            server_class = _dual_stack_class()
        self._server = server_class((self.host, self.requested_port), handler)
        self._server.ssl_context = self.ssl_context
        # serve_forever wakes every poll_interval only to check for shutdown(): 0.5 s keeps an idle sidecar asleep.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS}, name="http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)


class _Server6(_Server):
    address_family = socket.AF_INET6


def _dual_stack_class() -> type[_Server]:
    """An empty host binds all interfaces: IPv6 with IPv4 mapped where the system has IPv6, else IPv4."""
    if not socket.has_ipv6:
        return _Server

    class _DualStack(_Server):
        address_family = socket.AF_INET6

        def server_bind(self) -> None:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            super().server_bind()

    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        probe.close()
    except OSError:
        return _Server
    return _DualStack


def _make_handler(server: ExporterServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = f"training-eta-exporter/{__version__}"
        protocol_version = "HTTP/1.1"

        timeout = 30
        handshake_failed = False

        def setup(self) -> None:
            if isinstance(self.request, ssl.SSLSocket):
                try:
                    self.request.settimeout(self.timeout)
                    self.request.do_handshake()
                except (ssl.SSLError, OSError) as exc:
                    log.debug("TLS handshake failed: %s", exc)
                    self.handshake_failed = True
            super().setup()
            self.rfile = _HeaderBudget(self.rfile)  # type: ignore[assignment]  # read side only: readline, read

        def handle_one_request(self) -> None:
            if isinstance(self.rfile, _HeaderBudget):
                self.rfile.left = MAX_HEADER_BYTES  # per request on a kept-alive connection
            super().handle_one_request()

        def handle(self) -> None:
            if self.handshake_failed:
                return
            try:
                super().handle()
            except (ConnectionError, TimeoutError, ssl.SSLError):
                return

        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            if server.authorize is not None and not server.authorize(self.headers.get("Authorization")):
                self._send(401, "text/plain; charset=utf-8", b"authentication required\n",
                           extra='WWW-Authenticate: Basic realm="training-eta-exporter"\r\n')
                return
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, METRICS_CONTENT_TYPE, server.render_metrics())
            elif path == "/healthz":
                if server.healthy():
                    self._send(200, "text/plain; charset=utf-8", b"ok\n")
                else:
                    self._send(503, "text/plain; charset=utf-8", b"a run worker has stopped\n")
            elif path == "/":
                page = render_page(server.runs(), server.gpu(), banner=server.banner)
                self._send(200, "text/html; charset=utf-8", page.encode("utf-8"))
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found: try /metrics, /healthz or /\n")

        def do_HEAD(self) -> None:  # noqa: N802
            self.do_GET()

        def _send(self, status: int, content_type: str, body: bytes, *, extra: str = "") -> None:
            payload = b"" if self.command == "HEAD" else body
            self.log_request(status)
            if self.request_version == "HTTP/0.9":  # no headers at all in HTTP/0.9
                self.wfile.write(payload)
                return
            # Status line, headers and body in one write (one send): a small second write would wait ~40 ms for
            # the client's delayed ACK of the first (``send_response`` + ``end_headers`` flush the headers alone).
            head = (
                f"{self.protocol_version} {status} {HTTPStatus(status).phrase}\r\n"
                f"Server: {self.version_string()}\r\nDate: {self.date_time_string()}\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\nCache-Control: no-store\r\n"
                f"{extra}\r\n"
            )
            self.wfile.write(head.encode("latin-1") + payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server signature
            log.debug("%s %s", self.address_string(), format % args)

    return Handler
