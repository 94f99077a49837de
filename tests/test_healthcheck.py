"""The container health check command: 0 for a healthy exporter over HTTP or HTTPS, 1 otherwise."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
from pathlib import Path

from exporter.http import ExporterServer


def check(port: int) -> int:
    return subprocess.run([sys.executable, "-m", "exporter", "healthcheck", "--port", str(port), "--timeout", "2"],
                          capture_output=True).returncode


def test_http_https_unhealthy_and_nothing_listening(tmp_path: Path) -> None:
    def server(healthy: bool, context: ssl.SSLContext | None = None) -> ExporterServer:
        srv = ExporterServer(metrics=bytes, runs=list, gpu=lambda: None, healthy=lambda: healthy,
                             host="127.0.0.1", port=0, ssl_context=context)
        srv.start()
        return srv

    plain = server(True)
    try:
        assert check(plain.port) == 0
    finally:
        plain.stop()
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    tls = server(True, context)
    try:
        assert check(tls.port) == 0
    finally:
        tls.stop()
    sick = server(False)
    try:
        assert check(sick.port) == 1
    finally:
        sick.stop()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert check(free) == 1
