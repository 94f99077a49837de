"""Sidecar configuration: precedence, run names, and one clear error per kind of invalid setting."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from exporter import config as cfg
from exporter.config import ConfigError
from exporter.gpu.selection import GpuSelection


def parse(argv: list[str], environ: dict[str, str] | None = None) -> cfg.Settings:
    parser = argparse.ArgumentParser()
    cfg.add_arguments(parser)
    return cfg.load(parser.parse_args(argv), environ or {})


def error(argv: list[str], environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(argv, environ)
    return info.value


def test_defaults_and_run_names() -> None:
    config = parse(["--log", "/logs/train.log", "--log", "gpt=/x/a=b.log", "--log", "/logs/rank*.log"])
    assert [r.run for r in config.runs] == ["train", "gpt", "rank"]
    assert [r.log for r in config.runs] == ["/logs/train.log", "/x/a=b.log", "/logs/rank*.log"]
    assert config.listen == cfg.ListenAddress("", 9787)
    assert config.gpu == GpuSelection()
    assert config.gpu_poll_seconds == 1.0 and config.log_poll_seconds <= 1.0
    assert config.tls is None
    assert config.url == "http://localhost:9787/"


def test_flag_beats_env_beats_file(tmp_path: Path) -> None:
    file = tmp_path / "c.yml"
    file.write_text(
        "web:\n  listen-address: ':9001'\nformat: nanogpt\ngpu.poll-interval: 2s\nlog: a.log\nlog.level: debug\n"
    )
    env = {"TRAINING_ETA_EXPORTER_WEB_LISTEN_ADDRESS": "127.0.0.1:9002", "TRAINING_ETA_EXPORTER_FORMAT": "timm"}
    config = parse(["--config.file", str(file)], env)
    assert config.listen == cfg.ListenAddress("127.0.0.1", 9002)
    assert config.runs[0].format == "timm" and config.runs[0].log == "a.log"
    assert config.gpu_poll_seconds == 2.0 and config.log_level == "debug"
    config = parse(["--config.file", str(file), "--web.listen-address", "[::1]:9003", "--log", "b.log"], env)
    assert config.listen == cfg.ListenAddress("::1", 9003)
    assert [r.log for r in config.runs] == ["b.log"]


def test_runs_list_in_file(tmp_path: Path) -> None:
    file = tmp_path / "c.yml"
    file.write_text(
        "runs:\n"
        "  - {run: gpt, log: logs/train.log, format: nanogpt, total_iterations: 5000,"
        " deadline: '2025-06-01T12:00:00Z'}\n"
        "  - {log: /abs/other.log}\n"
        "  - {log: /abs/mnist.log, total_epochs: 14}\n"
        "total-iterations: 7\n"
        "total-epochs: 3\n"
    )
    config = parse(["--config.file", str(file)])
    first, second, third = config.runs
    assert first == cfg.RunConfig("gpt", str(tmp_path / "logs/train.log"), "nanogpt", 5000, 1748779200.0, 3)
    assert second == cfg.RunConfig("other", "/abs/other.log", None, 7, None, 3)
    assert third == cfg.RunConfig("mnist", "/abs/mnist.log", None, 7, None, 14)
    assert parse(["--log", "x", "--total-epochs", "9"]).runs[0].total_epochs == 9


def test_env_logs_and_gpu_selection() -> None:
    config = parse([], {"TRAINING_ETA_EXPORTER_LOG": "a=/l/a.log, /l/b.log", "TRAINING_ETA_EXPORTER_GPU_PID": "42"})
    assert [(r.run, r.log) for r in config.runs] == [("a", "/l/a.log"), ("b", "/l/b.log")]
    assert config.gpu == GpuSelection(pid=42)
    assert parse(["--log", "x", "--gpu.devices", "0,GPU-abc"]).gpu == GpuSelection(devices=(0, "GPU-abc"))
    assert parse(["--log", "x", "--gpu.devices", "none"]).gpu is None
    assert parse(["--log", "x", "--log.poll-interval", "250ms"]).log_poll_seconds == 0.25
    assert parse(["--log", "x", "--gpu.poll-interval", "1m30s"]).gpu_poll_seconds == 90.0


@pytest.mark.parametrize(
    ("argv", "key", "problem"),
    [
        (["--web.listen-address", "localhost"], "web.listen-address", "is not [HOST]:PORT"),
        (["--web.listen-address", ":70000"], "web.listen-address", "out of range"),
        (["--web.listen-address", "[zz]:80"], "web.listen-address", "not an IPv6 address"),
        (["--web.tls-cert-file", "/nonexistent/cert.pem", "--web.tls-key-file", "/nonexistent/k"],
         "web.tls-cert-file", "does not exist"),
        (["--web.tls-key-file", "/nonexistent/k"], "web.tls-cert-file", "is required"),
        (["--gpu.poll-interval", "fast"], "gpu.poll-interval", "is not a duration"),
        (["--gpu.poll-interval", "0s"], "gpu.poll-interval", "positive"),
        (["--log.poll-interval", "5s"], "log.poll-interval", "longer than 1s"),
        (["--total-iterations", "-3"], "total-iterations", "not a positive whole number"),
        (["--total-iterations", "12k"], "total-iterations", "not a positive whole number"),
        (["--gpu.devices", "first"], "gpu.devices", "neither an index nor a UUID"),
        (["--gpu.devices", "0", "--gpu.pid", "5"], "gpu.pid", "not both"),
        (["--gpu.pid", "abc"], "gpu.pid", "not a positive whole number"),
        (["--format", "nanogpt2"], "format", "unknown format 'nanogpt2'"),
        (["--log.level", "loud"], "log.level", "is not one of debug, info, warning, error"),
    ],
)
def test_invalid_flags(argv: list[str], key: str, problem: str) -> None:
    exc = error(["--log", "train.log", *argv])
    assert exc.key == key and problem in exc.problem
    assert "\n" not in str(exc) and str(exc).startswith(f"invalid configuration: {key}: ")


def test_duplicate_and_missing_runs() -> None:
    exc = error(["--log", "/a/train.log", "--log", "/b/train.log"])
    assert exc.key == "log" and "duplicate run name 'train'" in exc.problem
    assert error([]).key == "log"


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("web.listen-adress: ':1'\nlog: a\n", "web.listen-adress", "unknown key"),
        ("web:\n  tls: x\nlog: a\n", "web.tls", "unknown key"),
        ("runs:\n  - {log: a, totl: 3}\n", "runs[0].totl", "unknown key"),
        ("runs:\n  - {run: x}\n", "runs[0].log", "is required"),
        ("runs:\n  - {log: a, deadline: tomorrow}\n", "runs[0].deadline", "not an RFC 3339 time"),
        ("runs:\n  - {log: a, deadline: '2025-06-01T12:00:00'}\n", "runs[0].deadline", "no UTC offset"),
        ("runs:\n  - {log: a, total_iterations: 0}\n", "runs[0].total_iterations", "positive"),
        ("runs:\n  - {log: a, total_epochs: -2}\n", "runs[0].total_epochs", "positive"),
        ("runs:\n  - {log: /a/t.log}\n  - {log: /b/t.log}\n", "log", "duplicate run name 't'"),
        ("runs: {log: a}\n", "runs", "must be a list"),
        ("[1, 2]\n", "config.file", "must hold a mapping"),
        ("a: [unclosed\n", "config.file", "cannot read"),
    ],
)
def test_invalid_config_file(tmp_path: Path, text: str, key: str, problem: str) -> None:
    file = tmp_path / "c.yml"
    file.write_text(text)
    exc = error(["--config.file", str(file)])
    assert exc.key == key and problem in exc.problem


def test_missing_config_file() -> None:
    exc = error(["--config.file", "/nonexistent/c.yml"])
    assert exc.key == "config.file" and "does not exist" in exc.problem


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def test_tls_flags_and_web_config(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    config = parse(["--log", "a", "--web.tls-cert-file", str(cert), "--web.tls-key-file", str(key)])
    assert config.tls == cfg.TlsConfig(str(cert), str(key)) and config.url.startswith("https://")
    web = tmp_path / "web.yml"
    web.write_text("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n")
    assert parse(["--log", "a", "--web.config.file", str(web)]).tls == cfg.TlsConfig(str(cert), str(key))
    web.write_text("tls_server_config:\n  cert_file: cert.pem\n  key_file: missing.pem\n")
    exc = error(["--log", "a", "--web.config.file", str(web)])
    assert exc.key == "web.config.file: tls_server_config.key_file" and "does not exist" in exc.problem
    web.write_text("basic_auth_users: {a: b}\n")
    assert "must be a bcrypt hash" in error(["--log", "a", "--web.config.file", str(web)]).problem
    web.write_text("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  curve_preferences: [X25519]\n")
    assert "not supported" in error(["--log", "a", "--web.config.file", str(web)]).problem
    web.write_text("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
                   "  client_auth_type: RequireAndVerifyClientCert\n")
    assert error(["--log", "a", "--web.config.file", str(web)]).key.endswith("client_ca_file")
    web.write_text("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  min_version: TLS99\n")
    assert "must be one of" in error(["--log", "a", "--web.config.file", str(web)]).problem
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    exc = error(["--log", "a", "--web.tls-cert-file", str(garbage), "--web.tls-key-file", str(key)])
    assert exc.key == "web.tls-cert-file" and "cannot load certificate/key" in exc.problem


def test_serve_exits_2_with_one_line_before_binding() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--log", "x.log", "--gpu.poll-interval", "soon"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "training-eta-exporter: invalid configuration: gpu.poll-interval: 'soon' is not a duration (use e.g. 1s or 500ms)"
    ]


def test_state_directory_is_created_and_must_be_writable(tmp_path: Path) -> None:
    made = tmp_path / "state" / "run"
    assert parse(["--log", "a", "--state.directory", str(made)]).state_directory == str(made) and made.is_dir()
    assert parse(["--log", "a"]).state_directory is None
    blocker = tmp_path / "file"
    blocker.write_text("")
    exc = error(["--log", "a", "--state.directory", str(blocker / "x")])
    assert exc.key == "state.directory" and "cannot create" in exc.problem
