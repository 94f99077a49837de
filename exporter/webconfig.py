"""The exporter-toolkit web config (``--web.config.file``), as node_exporter and the other Go exporters read it:
TLS with optional client certificates, TLS versions, and HTTP basic auth with bcrypt hashes.

```yaml
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_auth_type: RequireAndVerifyClientCert   # or VerifyClientCertIfGiven, RequireAnyClientCert, NoClientCert
  client_ca_file: ca.crt
  min_version: TLS12                             # TLS10 .. TLS13
  max_version: TLS13
basic_auth_users:
  prometheus: $2y$10$...                         # htpasswd -nBC 10 "" | tr -d ':\\n'
```

``cipher_suites`` takes Go's names (``TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256``); as in Go they restrict TLS 1.2 and
older only (TLS 1.3 suites are not configurable), and a name Go does not offer is an error. ``prefer_server_cipher_suites``
is accepted (Go ignores it since 1.17; OpenSSL servers prefer their own order here too). ``curve_preferences`` and
``http_server_config`` are refused with a clear error rather than ignored. Certificates that are expired or signed with SHA-1
or MD5 are accepted with a warning, as they may be what a cluster has; a passphrase-protected key is an error
that says so.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import logging
import os
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import bcrypt

from exporter.errors import ConfigError, check_file

log = logging.getLogger("exporter.webconfig")

CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1, "TLS12": ssl.TLSVersion.TLSv1_2,
            "TLS13": ssl.TLSVersion.TLSv1_3}
_TLS_KEYS = ("cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version",
             "cipher_suites", "prefer_server_cipher_suites")
CIPHER_SUITES = {
    # Go's crypto/tls names (tls.CipherSuites() and tls.InsecureCipherSuites() without RC4) -> OpenSSL's.
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": "DES-CBC3-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256": "AES128-SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": "ECDHE-RSA-DES-CBC3-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "ECDHE-ECDSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": "ECDHE-RSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
}
"""Go also accepts the ``..._CHACHA20_POLY1305`` aliases without ``_SHA256``; see ``_cipher_names``."""
_WEAK_SIGNATURES = ("sha1", "md5")


@dataclass(frozen=True, slots=True)
class TlsConfig:
    cert_file: str
    key_file: str
    client_auth_type: str = "NoClientCert"
    client_ca_file: str | None = None
    min_version: str = "TLS12"
    max_version: str | None = None
    cipher_suites: tuple[str, ...] = ()
    """OpenSSL names of the allowed TLS 1.2-and-older suites; empty: OpenSSL's defaults."""

    def context(self) -> ssl.SSLContext:
        """A server-side SSL context with the configured certificate, client verification and versions."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = VERSIONS[self.min_version]
        if self.max_version:
            context.maximum_version = VERSIONS[self.max_version]
        if self.cipher_suites:
            try:
                context.set_ciphers(":".join(self.cipher_suites))
            except ssl.SSLError:
                raise ConfigError("cipher_suites", "none of them is available in this OpenSSL build "
                                  f"({ssl.OPENSSL_VERSION}); choose ECDHE_..._GCM suites") from None
        context.load_cert_chain(self.cert_file, self.key_file, password=_no_passphrase)
        context.verify_mode = CLIENT_AUTH[self.client_auth_type]
        if self.client_ca_file:
            context.load_verify_locations(self.client_ca_file)
        return context


def _no_passphrase() -> str:
    raise ConfigError("key_file", "is protected by a passphrase, which the exporter cannot ask for; "
                         "store it unencrypted (openssl pkey -in key.pem -out plain.pem) with tight file permissions")


@dataclass
class BasicAuth:
    """``basic_auth_users``: user -> bcrypt hash. A verified (user, password) is remembered by its SHA-256 so that
    a scrape every few seconds does not pay bcrypt's deliberate ~100 ms each time."""

    users: dict[str, bytes]
    _verified: set[tuple[str, bytes]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allows(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header value names a configured user with the right password."""
        if not authorization or not authorization.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        hashed = self.users.get(user)
        if not sep or hashed is None:
            return False
        key = (user, hashlib.sha256(password.encode()).digest())
        with self._lock:
            if key in self._verified:
                return True
        try:
            ok = bcrypt.checkpw(password.encode(), hashed)
        except ValueError:
            return False
        if ok:
            with self._lock:
                self._verified.add(key)
        return ok


@dataclass(frozen=True, slots=True)
class WebConfig:
    tls: TlsConfig | None = None
    basic_auth: BasicAuth | None = None


def parse_web_config(data: Any, base_dir: str) -> WebConfig:
    """The web config from a parsed YAML document; relative file names are relative to ``base_dir``."""
    if data is None:
        return WebConfig()
    if not isinstance(data, Mapping):
        raise ConfigError("web.config.file", "must hold a mapping")
    for name in data:
        if name not in ("tls_server_config", "basic_auth_users"):
            raise ConfigError(f"web.config.file: {name}", "is not supported (tls_server_config, basic_auth_users)")
    tls = _tls(data.get("tls_server_config"), base_dir)
    users = data.get("basic_auth_users")
    auth = None
    if users is not None:
        if not isinstance(users, Mapping) or not users:
            raise ConfigError("web.config.file: basic_auth_users", "must map user names to bcrypt hashes")
        hashes: dict[str, bytes] = {}
        for user, hashed in users.items():
            if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
                raise ConfigError(f"web.config.file: basic_auth_users.{user}", "must be a bcrypt hash ($2y$...)")
            hashes[str(user)] = hashed.encode()
        auth = BasicAuth(hashes)
    return WebConfig(tls, auth)


def tls_files(cert_file: str, key_file: str) -> TlsConfig:
    """TLS from the two flags (no client certificates), checked by loading it."""
    return _checked(TlsConfig(cert_file, key_file), "web.tls-cert-file")


def _tls(section: Any, base_dir: str) -> TlsConfig | None:
    where = "web.config.file: tls_server_config"
    if section is None:
        return None
    if not isinstance(section, Mapping):
        raise ConfigError(where, "must be a mapping with cert_file and key_file")
    for name in section:
        if name not in _TLS_KEYS:
            raise ConfigError(f"{where}.{name}", f"is not supported ({', '.join(_TLS_KEYS)})")
    files: dict[str, str | None] = {}
    for name in ("cert_file", "key_file", "client_ca_file"):
        value = section.get(name)
        if value is None and name == "client_ca_file":
            files[name] = None
            continue
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}.{name}", "is required")
        files[name] = check_file(f"{where}.{name}", value if os.path.isabs(value) else os.path.join(base_dir, value))
    auth = str(section.get("client_auth_type", "NoClientCert"))
    if auth not in CLIENT_AUTH:
        raise ConfigError(f"{where}.client_auth_type", f"must be one of {', '.join(CLIENT_AUTH)}")
    if auth in ("RequireAndVerifyClientCert", "VerifyClientCertIfGiven") and not files["client_ca_file"]:
        raise ConfigError(f"{where}.client_ca_file", f"is required with client_auth_type {auth}")
    versions = {}
    for name, default in (("min_version", "TLS12"), ("max_version", None)):
        value = section.get(name, default)
        if value is not None and value not in VERSIONS:
            raise ConfigError(f"{where}.{name}", f"must be one of {', '.join(VERSIONS)}")
        versions[name] = value
    tls = TlsConfig(str(files["cert_file"]), str(files["key_file"]), auth, files["client_ca_file"],
                    versions["min_version"] or "TLS12", versions["max_version"],
                    _cipher_names(section.get("cipher_suites"), f"{where}.cipher_suites"))
    return _checked(tls, where)


def _cipher_names(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ConfigError(where, "must be a list of cipher suite names (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ...)")
    names = []
    for name in value:
        openssl = CIPHER_SUITES.get(name) or CIPHER_SUITES.get(f"{name}_SHA256")
        if openssl is None:
            raise ConfigError(where, f"{name!r} is not a cipher suite Go's TLS offers (one of {', '.join(CIPHER_SUITES)})")
        names.append(openssl)
    return tuple(names)


def _checked(tls: TlsConfig, where: str) -> TlsConfig:
    try:
        tls.context()
    except ConfigError as exc:
        raise ConfigError(where, exc.problem) from None
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(where, f"cannot load certificate/key: {exc}") from None
    _warn_weak(tls.cert_file)
    return tls


def _warn_weak(cert_file: str) -> None:
    """Warn (do not refuse) about an expired, not yet valid or weakly signed certificate."""
    try:
        info = ssl._ssl._test_decode_cert(cert_file)  # type: ignore[attr-defined]
    except (ssl.SSLError, OSError, AttributeError, ValueError):
        return
    now = _dt.datetime.now(_dt.timezone.utc)
    for key, problem in (("notAfter", "expired"), ("notBefore", "not valid yet")):
        raw = info.get(key)
        if not raw:
            continue
        when = _dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(raw), _dt.timezone.utc)
        if (key == "notAfter" and when < now) or (key == "notBefore" and when > now):
            log.warning("TLS certificate %s is %s (%s %s)", cert_file, problem, key, raw)
    algorithm = _signature_algorithm(cert_file)
    if algorithm and any(weak in algorithm.lower() for weak in _WEAK_SIGNATURES):
        log.warning("TLS certificate %s is signed with %s, which clients may refuse", cert_file, algorithm)


def _signature_algorithm(cert_file: str) -> str | None:
    """The certificate's signature algorithm name, read from its DER (no third-party X.509 parser needed)."""
    try:
        der = ssl.PEM_cert_to_DER_cert(open(cert_file, encoding="ascii", errors="replace").read())
    except (OSError, ValueError):
        return None
    oids = {bytes.fromhex("2a864886f70d010105"): "sha1WithRSAEncryption",
            bytes.fromhex("2a864886f70d010104"): "md5WithRSAEncryption",
            bytes.fromhex("2a8648ce3d040301"): "ecdsa-with-SHA1"}
    for oid, name in oids.items():
        if b"\x06" + bytes([len(oid)]) + oid in der:
            return name
    return "sha256-or-better"
