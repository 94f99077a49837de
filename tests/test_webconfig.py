"""The exporter-toolkit web config served for real: basic auth with bcrypt hashes, client certificates (mTLS),
TLS versions, and the errors a user meets (a passphrase-protected key)."""

from __future__ import annotations

import base64
import http.client
import ssl
import subprocess
from pathlib import Path

import bcrypt
import pytest

from exporter.errors import ConfigError
from exporter.http import ExporterServer
from exporter.webconfig import TlsConfig, parse_web_config


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"),
            "-days", "1", "-subj", "/CN=test-ca")
    for name in ("server", "client"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"),
                "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1")
        openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.crt"), "-CAkey", str(d / "ca.key"),
                "-CAcreateserial", "-out", str(d / f"{name}.crt"), "-days", "1", "-copy_extensions", "copy")
    return d


def serve(web: dict, base: Path) -> ExporterServer:
    config = parse_web_config(web, str(base))
    server = ExporterServer(metrics=bytes, runs=list, gpu=lambda: None, healthy=lambda: True,
                            host="127.0.0.1", port=0, ssl_context=config.tls.context() if config.tls else None,
                            authorize=config.basic_auth.allows if config.basic_auth else None)
    server.start()
    return server


def status(server: ExporterServer, *, auth: str | None = None, context: ssl.SSLContext | None = None) -> int:
    conn = (http.client.HTTPSConnection("127.0.0.1", server.port, timeout=10, context=context) if context
            else http.client.HTTPConnection("127.0.0.1", server.port, timeout=10))
    try:
        conn.request("GET", "/metrics", headers={"Authorization": auth} if auth else {})
        return conn.getresponse().status
    finally:
        conn.close()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_auth_with_bcrypt_hashes(tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2y$", 1)
    server = serve({"basic_auth_users": {"prometheus": hashed}}, tmp_path)
    try:
        assert status(server) == 401
        assert status(server, auth=basic("prometheus", "wrong")) == 401
        assert status(server, auth=basic("nobody", "s3cret")) == 401
        assert status(server, auth="Basic !!!") == 401
        assert status(server, auth=basic("prometheus", "s3cret")) == 200
        assert status(server, auth=basic("prometheus", "s3cret")) == 200  # remembered: no second bcrypt
    finally:
        server.stop()


def test_client_certificates_are_required_and_verified(pki: Path) -> None:
    web = {"tls_server_config": {"cert_file": "server.crt", "key_file": "server.key", "client_ca_file": "ca.crt",
                                 "client_auth_type": "RequireAndVerifyClientCert", "min_version": "TLS12"}}
    server = serve(web, pki)
    try:
        trusting = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            status(server, context=trusting)  # no client certificate
        trusting.load_cert_chain(str(pki / "client.crt"), str(pki / "client.key"))
        assert status(server, context=trusting) == 200
    finally:
        server.stop()


def test_a_passphrase_protected_key_says_so(pki: Path, tmp_path: Path) -> None:
    encrypted = tmp_path / "enc.key"
    openssl("pkey", "-in", str(pki / "server.key"), "-out", str(encrypted), "-aes256", "-passout", "pass:x")
    with pytest.raises(ConfigError, match="passphrase"):
        parse_web_config({"tls_server_config": {"cert_file": str(pki / "server.crt"), "key_file": str(encrypted)}},
                         str(tmp_path))


def test_tls_versions_are_applied(pki: Path) -> None:
    context = TlsConfig(str(pki / "server.crt"), str(pki / "server.key"), min_version="TLS13").context()
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3


def test_cipher_suites_take_go_names_and_restrict_tls12(pki: Path) -> None:
    web = {"tls_server_config": {"cert_file": "server.crt", "key_file": "server.key", "max_version": "TLS12",
                                 "cipher_suites": ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"],
                                 "prefer_server_cipher_suites": True}}
    server = serve(web, pki)
    try:
        client = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        client.maximum_version = ssl.TLSVersion.TLSv1_2
        with ssl.create_connection(("127.0.0.1", server.port), timeout=10) as raw, \
                client.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.cipher()[0] == "ECDHE-RSA-AES256-GCM-SHA384"
        client.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")  # a suite the server does not allow
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            status(server, context=client)
    finally:
        server.stop()
    with pytest.raises(ConfigError, match="not a cipher suite Go's TLS offers"):
        parse_web_config({"tls_server_config": {"cert_file": "server.crt", "key_file": "server.key",
                                                "cipher_suites": ["TLS_RSA_WITH_RC4_128_SHA"]}}, str(pki))
