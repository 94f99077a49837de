"""The HTTP server on a free port: /metrics, /healthz, the status page, 404, and TLS with a self-signed cert."""

from __future__ import annotations

import http.client
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.diagnosis import Diagnosis
from exporter.estimate.model import Estimate
from exporter.gpu.snapshot import GpuSnapshot
from exporter.http import ExporterServer
from exporter.humanize import format_duration, format_timestamp, ordinal
from exporter.metrics import make_registry
from exporter.page import render_page
from exporter.state import GpuState, RankState, RunState

sys.path.insert(0, str(Path(__file__).parent))


class View:
    def __init__(self) -> None:
        self.healthy = True
        self.run = RunState(
            run="gpt<1>", source="/logs/train.log", format="nanogpt",
            estimate=Estimate(state="regressed", iteration=1200, total_iterations=3000, progress_ratio=0.4,
                              seconds_per_iteration=0.25, pace_ratio=2.5, eta_seconds=3725.0,
                              eta_lower_seconds=3000.0, eta_upper_seconds=4500.0,
                              completion_timestamp_seconds=1_700_000_000.0, trend="slowing"),
            diagnosis=Diagnosis("input_bound", "GPU idle while iterations are slow"),
            up=True, last_success_timestamp_seconds=1.0,
        )
        self.gpu_state = GpuState(
            up=True, last_success_timestamp_seconds=1.0, errors={},
            snapshots=(GpuSnapshot(index=0, uuid="GPU-1", name="NVIDIA H100", utilization_ratio=0.3,
                                   utilization_min_ratio=0.02, memory_used_bytes=2**30,
                                   memory_total_bytes=80 * 2**30, power_watts=150.0,
                                   clocks_event_reasons={"gpu_idle": True, "hw_slowdown": False}),),
        )

    def runs(self) -> list[RunState]:
        return [self.run]

    def gpu(self) -> GpuState:
        return self.gpu_state


def make_server(view: View, context: ssl.SSLContext | None = None) -> ExporterServer:
    return ExporterServer(metrics=make_registry(view).render, runs=view.runs, gpu=view.gpu,
                          healthy=lambda: view.healthy, host="127.0.0.1", port=0, ssl_context=context)


@pytest.fixture
def served() -> Iterator[tuple[View, ExporterServer]]:
    view = View()
    server = make_server(view)
    server.start()
    try:
        yield view, server
    finally:
        server.stop()


def get(server: ExporterServer, path: str, method: str = "GET",
        context: ssl.SSLContext | None = None) -> tuple[int, str, str]:
    if context is None:
        conn: http.client.HTTPConnection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=10, context=context)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read().decode()
    finally:
        conn.close()


def test_metrics_endpoint(served: tuple[View, ExporterServer]) -> None:
    view, server = served
    status, ctype, body = get(server, "/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
    assert 'training_iteration{run="gpt<1>"} 1200.0' in body
    view.run = RunState(run="other", source="x")
    assert 'training_state{run="other",state="unknown_total"} 1.0' in get(server, "/metrics")[2]


def test_healthz(served: tuple[View, ExporterServer]) -> None:
    view, server = served
    assert get(server, "/healthz") == (200, "text/plain; charset=utf-8", "ok\n")
    view.healthy = False
    assert get(server, "/healthz")[0] == 503


def test_status_page(served: tuple[View, ExporterServer]) -> None:
    _, server = served
    status, ctype, body = get(server, "/")
    assert status == 200 and ctype == "text/html; charset=utf-8"
    assert '<meta http-equiv="refresh"' in body and "<script" not in body
    assert "gpt&lt;1&gt;" in body and "gpt<1>" not in body  # escaped
    for expected in ("1h 02m", "50m 00s", "1h 15m", "2023-11-14 22:13:20 UTC", "40.0%", "2.50× the baseline",
                     "slowing", "regressed", "input_bound", "GPU idle while iterations are slow", "NVIDIA H100",
                     "30%", "2%", "gpu_idle", "1.0 / 80.0 GiB"):
        assert expected in body, expected
    assert "hw_slowdown" not in body


def test_unknown_path_is_404_and_head_has_no_body(served: tuple[View, ExporterServer]) -> None:
    _, server = served
    assert get(server, "/metricsx")[0] == 404
    assert get(server, "/favicon.ico")[0] == 404
    assert get(server, "/metrics", method="HEAD")[::2] == (200, "")


def test_page_when_gpu_is_down_or_off() -> None:
    run = RunState(run="r", source="s", error="PermissionError: denied")
    down = GpuState(up=False, last_success_timestamp_seconds=None, snapshots=(), errors={},
                    down_reason="NVML library not found")
    page = render_page([run], down)
    assert "GPU collector is down: NVML library not found" in page
    assert "PermissionError: denied" in page and "unknown" in page
    assert "GPU reporting is off" in render_page([run], None)


def test_page_names_the_straggler_rank() -> None:
    ranks = (RankState("0", 500, 0.1, 50.0), RankState("1", 500, 0.1, 50.0), RankState("3", 480, 0.15, 80.0))
    run = RunState(run="r", source="s", estimate=Estimate(iteration=500, seconds_per_iteration=0.1), ranks=ranks)
    assert "3 ranks; slowest: 3 at 1.50× the median pace" in render_page([run], None)


def test_format_duration() -> None:
    assert [format_duration(s) for s in (None, float("nan"), -5, 4.25, 42, 125, 3725, 200000)] == [
        "unknown", "unknown", "0.0s", "4.2s", "42s", "2m 05s", "1h 02m", "2d 7h 33m"]


def test_ordinal() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111, 112)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th", "112th"]


def test_format_timestamp() -> None:
    assert format_timestamp(0) == "1970-01-01 00:00:00 UTC"
    assert format_timestamp(None) == format_timestamp(float("inf")) == "unknown"


def test_tls(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    view = View()
    server = make_server(view, server_context)
    server.start()
    try:
        client = ssl.create_default_context(cafile=str(cert))
        status, _, body = get(server, "/metrics", context=client)
        assert status == 200 and "training_iteration" in body
        assert server.url.startswith("https://")
        # A plain-HTTP client gets no metrics, and the server keeps serving TLS clients afterwards.
        with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
            get(server, "/metrics")
        assert get(server, "/healthz", context=client)[0] == 200
    finally:
        server.stop()


def test_bind_conflict_raises_oserror(served: tuple[View, ExporterServer]) -> None:
    _, server = served
    other = ExporterServer(metrics=make_registry(View()).render, runs=list, gpu=lambda: None, healthy=lambda: True,
                           host="127.0.0.1", port=server.port)
    with pytest.raises(OSError):
        other.start()


class RecordingConnection:
    """A connected socket stand-in: the request comes from a buffer, every send is recorded."""

    def __init__(self, request: bytes) -> None:
        import io

        self.request = io.BytesIO(request)
        self.sends: list[bytes] = []

    def settimeout(self, value: float | None) -> None:
        pass

    def makefile(self, mode: str, *args: object) -> object:
        assert mode == "rb"
        return self.request

    def sendall(self, data: bytes) -> None:
        self.sends.append(bytes(data))


@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/", "/nope"])
def test_a_response_goes_out_in_one_write(path: str) -> None:
    from exporter.http import _make_handler

    view = View()
    handler = _make_handler(make_server(view))
    conn = RecordingConnection(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    handler(conn, ("127.0.0.1", 1), None)
    assert len(conn.sends) == 1
    head, _, body = conn.sends[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 ")
    length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
                 .split(b":")[1])
    assert length == len(body) > 0


def test_head_response_has_headers_only_in_one_write() -> None:
    from exporter.http import _make_handler

    handler = _make_handler(make_server(View()))
    conn = RecordingConnection(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    handler(conn, ("127.0.0.1", 1), None)
    assert len(conn.sends) == 1 and conn.sends[0].endswith(b"\r\n\r\n")
    assert b"Content-Length: 0" not in conn.sends[0]


def test_accepted_connections_have_nagle_off() -> None:
    import socket

    from exporter.http import _Server

    server = _Server(("127.0.0.1", 0), lambda *args: None)
    try:
        client = socket.create_connection(server.server_address[:2], timeout=5)
        try:
            conn, _ = server.get_request()
            try:
                assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            finally:
                conn.close()
        finally:
            client.close()
    finally:
        server.server_close()


def test_metrics_scrape_shows_a_changed_state_at_once(served: tuple[View, ExporterServer]) -> None:
    import dataclasses

    view, server = served
    assert 'training_iteration{run="gpt<1>"} 1200.0' in get(server, "/metrics")[2]
    assert get(server, "/metrics")[2] == get(server, "/metrics")[2]
    view.run = dataclasses.replace(view.run, estimate=dataclasses.replace(view.run.estimate, iteration=1201))
    assert 'training_iteration{run="gpt<1>"} 1201.0' in get(server, "/metrics")[2]


def test_request_headers_over_64_kib_get_431_and_the_connection_is_not_served(
    served: tuple[View, ExporterServer],
) -> None:
    import socket

    from exporter.http import MAX_HEADER_BYTES

    _, server = served
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        # 100 headers of 60 KiB each are within http.server's own limits (100 lines of 64 KiB): 6 MB per request.
        conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"".join(
            b"X-Pad-%d: " % i + b"a" * 60_000 + b"\r\n" for i in range(3)) + b"\r\n")
        reply = conn.recv(4096)
    assert reply.startswith(b"HTTP/1.1 431 ")
    # Small requests on one kept-alive connection each get the full budget again.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        line = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * (MAX_HEADER_BYTES // 2) + b"\r\n\r\n"
        conn.sendall(line + line)
        replies = b""
        while replies.count(b"200 OK") < 2:
            chunk = conn.recv(65536)
            assert chunk
            replies += chunk


def test_listen_backlog_and_handlers_are_sized_for_a_scrape_storm(served: tuple[View, ExporterServer]) -> None:
    from exporter.http import LISTEN_BACKLOG, MAX_HANDLERS

    _, server = served
    assert server._server is not None and server._server.request_queue_size == LISTEN_BACKLOG >= 128
    # Handlers are bounded: with every slot taken, a new connection waits in the backlog instead of a thread.
    semaphore = server._server._handlers
    for _ in range(MAX_HANDLERS):
        assert semaphore.acquire(timeout=1)
    try:
        import socket
        import threading

        done = threading.Event()

        def scrape() -> None:
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if conn.recv(100).startswith(b"HTTP/1.1 200"):
                    done.set()

        thread = threading.Thread(target=scrape)
        thread.start()
        assert not done.wait(0.5)  # queued, not served
    finally:
        for _ in range(MAX_HANDLERS):
            semaphore.release()
    assert done.wait(5)  # served once a handler is free
    thread.join(5)
