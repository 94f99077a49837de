"""Sidecar configuration: Go-exporter-style flags, ``TRAINING_ETA_EXPORTER_*`` environment variables and a YAML file.

Precedence, highest first: command-line flag, environment variable, config file (``--config.file``), default.
Every problem is reported as one ``ConfigError`` naming the key and what is wrong, before anything is bound or
opened, so ``serve`` can print one line and exit 2.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from exporter.errors import ConfigError, check_file
from exporter.gpu.selection import GpuSelection
from exporter.webconfig import BasicAuth, TlsConfig, parse_web_config, tls_files

ENV_PREFIX = "TRAINING_ETA_EXPORTER_"
DEFAULT_LISTEN_ADDRESS = ":9787"
DEFAULT_GPU_POLL_SECONDS = 1.0
DEFAULT_LOG_POLL_SECONDS = 0.25
MAX_LOG_POLL_SECONDS = 1.0

# Flag names (without "--") of the single-valued settings; the config file and the environment use them too.
_SCALAR_FLAGS = (
    "web.listen-address",
    "web.tls-cert-file",
    "web.tls-key-file",
    "web.config.file",
    "format",
    "total-iterations",
    "gpu.devices",
    "gpu.pid",
    "gpu.poll-interval",
    "log.poll-interval",
    "log.level",
)
LOG_LEVELS = ("debug", "info", "warning", "error")
_RUN_KEYS = ("run", "log", "format", "total_iterations", "deadline")
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True, slots=True)
class RunConfig:
    """One followed training run: its ``run`` label, the log path/glob and what the log may not say itself."""

    run: str
    log: str
    format: str | None = None
    total_iterations: int | None = None
    deadline_timestamp_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class Config:
    """The validated sidecar configuration."""

    runs: tuple[RunConfig, ...]
    listen: ListenAddress = field(default_factory=lambda: parse_listen_address(DEFAULT_LISTEN_ADDRESS))
    tls: TlsConfig | None = None
    basic_auth: BasicAuth | None = None
    """``basic_auth_users`` of the web config: every request must authenticate."""
    gpu: GpuSelection | None = field(default_factory=GpuSelection)
    """GPUs to report; None when GPU reporting is off (``--gpu.devices=none``)."""
    gpu_poll_seconds: float = DEFAULT_GPU_POLL_SECONDS
    log_poll_seconds: float = DEFAULT_LOG_POLL_SECONDS
    log_level: str = "info"

    @property
    def url(self) -> str:
        """The base URL a person can open (``localhost`` for a wildcard bind)."""
        return base_url(self.listen.host, self.listen.port, tls=self.tls is not None)


def base_url(host: str, port: int, *, tls: bool) -> str:
    """The URL a person can open for a server bound to ``host:port``: ``localhost`` for a wildcard bind."""
    if host in ("", "0.0.0.0", "::"):
        host = "localhost"
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if tls else 'http'}://{host}:{port}/"


def dest_name(flag: str) -> str:
    """``web.listen-address`` -> ``web_listen_address``, the flag's argparse dest."""
    return re.sub(r"[.-]", "_", flag)


def env_name(flag: str) -> str:
    """``web.listen-address`` -> ``TRAINING_ETA_EXPORTER_WEB_LISTEN_ADDRESS``."""
    return ENV_PREFIX + dest_name(flag).upper()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``serve`` flags. Defaults are None here so the environment and config file can fill them in."""
    parser.allow_abbrev = False

    def option(flag: str, metavar: str, help: str) -> None:
        parser.add_argument(f"--{flag}", dest=dest_name(flag), metavar=metavar, help=f"{help} (env {env_name(flag)})")

    option(
        "config.file", "FILE",
        "YAML file with any of these settings (flag names as keys) and a 'runs:' list, each entry with "
        "run, log, and optional format, total_iterations, deadline (RFC 3339)",
    )
    parser.add_argument(
        "--log", dest="log", action="append", metavar="[RUN=]PATH",
        help="training log to follow: a file, a glob (quote it) or '-' for stdin; repeat for several runs. "
        "RUN is the 'run' label (default: the file name without extension)"
        + " (env " + env_name("log") + ", comma-separated)",
    )
    option("format", "NAME", "log format of the --log runs (default: detected from the first lines)")
    option("total-iterations", "N", "total iterations of the --log runs when the log does not print them")
    option(
        "web.listen-address", "[HOST]:PORT",
        f"address to serve /metrics, /healthz and / on (default {DEFAULT_LISTEN_ADDRESS})",
    )
    option("web.tls-cert-file", "FILE", "serve HTTPS with this certificate (PEM); needs --web.tls-key-file")
    option("web.tls-key-file", "FILE", "private key (PEM) of --web.tls-cert-file")
    option(
        "web.config.file", "FILE",
        "Prometheus exporter-toolkit web config (tls_server_config: cert_file, key_file)",
    )
    option(
        "gpu.devices", "all|none|LIST",
        "GPUs to report: all (default), none, or comma-separated indices and/or UUIDs (GPU-..., MIG-...)",
    )
    option(
        "gpu.pid", "PID",
        "report only the GPUs this process (the trainer) uses; needs a shared PID namespace",
    )
    option("gpu.poll-interval", "DURATION", "NVML sampling interval, e.g. 1s, 500ms (default 1s)")
    option("log.poll-interval", "DURATION", "how often logs are read, at most 1s (default 250ms)")
    add_log_level(parser)


def add_log_level(parser: argparse.ArgumentParser) -> None:
    """``--log.level``; shared with ``demo``."""
    parser.add_argument(
        "--log.level", dest="log_level", metavar="LEVEL",
        help=f"exporter log verbosity on stderr: {', '.join(LOG_LEVELS)} (default info; env {env_name('log.level')})",
    )


def parse_duration(key: str, value: Any) -> float:
    """Go-style duration (``1s``, ``250ms``, ``1m30s``) or a plain number of seconds; must be > 0."""
    if isinstance(value, bool):
        raise ConfigError(key, f"{value!r} is not a duration (use e.g. 1s or 500ms)")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            pos = 0
            seconds = 0.0
            for match in _DURATION_RE.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
                pos = match.end()
            if pos != len(text) or not text:
                raise ConfigError(key, f"{value!r} is not a duration (use e.g. 1s or 500ms)") from None
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise ConfigError(key, f"{value!r} must be a positive duration")
    return seconds


def parse_positive_int(key: str, value: Any) -> int:
    """A positive whole number, given as an int or a decimal string."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ConfigError(key, f"{value!r} is not a positive whole number")
    try:
        number = int(str(value).strip().replace("_", ""))
    except ValueError:
        raise ConfigError(key, f"{value!r} is not a positive whole number") from None
    if number <= 0:
        raise ConfigError(key, f"{value!r} is not a positive whole number")
    return number


def parse_log_level(value: Any) -> str:
    """One of :data:`LOG_LEVELS`, any case; ``info`` when not given."""
    level = str(value or "info").lower()
    if level not in LOG_LEVELS:
        raise ConfigError("log.level", f"{level!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


def parse_listen_address(value: str, key: str = "web.listen-address") -> ListenAddress:
    """``[HOST]:PORT``; HOST may be an IPv6 literal in brackets; an empty HOST binds all interfaces."""
    text = str(value).strip()
    match = re.fullmatch(r"(?:\[([0-9A-Fa-f:.%\w]+)\]|([^:\[\]]*)):(\d{1,5})", text)
    if not match:
        raise ConfigError(key, f"{value!r} is not [HOST]:PORT (e.g. :9787 or 127.0.0.1:9787)")
    host = match.group(1) if match.group(1) is not None else match.group(2)
    port = int(match.group(3))
    if port > 65535:
        raise ConfigError(key, f"port {port} is out of range 0-65535")
    if match.group(1) is not None:
        try:
            ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            raise ConfigError(key, f"{host!r} is not an IPv6 address") from None
    elif host and not re.fullmatch(r"[A-Za-z0-9.-]+", host):
        raise ConfigError(key, f"{host!r} is not a host name or address")
    return ListenAddress(host, port)


def parse_deadline(key: str, value: Any) -> float:
    """RFC 3339 time with an offset (``2025-06-01T12:00:00Z``) to Unix seconds."""
    if isinstance(value, _dt.datetime):
        moment = value
    else:
        text = str(value).strip()
        try:
            moment = _dt.datetime.fromisoformat(re.sub(r"[zZ]$", "+00:00", text))
        except ValueError:
            raise ConfigError(key, f"{value!r} is not an RFC 3339 time (e.g. 2025-06-01T12:00:00Z)") from None
    if moment.tzinfo is None:
        raise ConfigError(key, f"{value!r} has no UTC offset (add Z or +HH:MM)")
    return moment.timestamp()


def parse_gpu_devices(value: Any, key: str = "gpu.devices") -> GpuSelection | None:
    """``all``, ``none`` (GPU reporting off) or comma-separated indices and GPU-/MIG- UUIDs."""
    text = str(value).strip()
    if text.lower() == "none":
        return None
    if text.lower() == "all":
        return GpuSelection()
    if text.startswith("pid:"):
        raise ConfigError(key, f"{text!r}: use --gpu.pid for a process's GPUs")
    try:
        return GpuSelection.parse(text)
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from None


def run_name_from_path(path: str) -> str:
    """A bounded, label-friendly run name from a log path: ``/logs/train.log`` -> ``train``."""
    if path == "-":
        return "stdin"
    base = os.path.basename(path.rstrip("/")) or path
    base = re.sub(r"(\.(log|txt|out|err|json|jsonl|tslog))+$", "", base, flags=re.IGNORECASE)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", base).strip("_.-")
    return name or "run"


def _check_format(name: str) -> None:
    """Fail at start-up, not in a worker, on an unknown format name or a bad custom-format file."""
    from exporter.pipeline import resolve_format

    try:
        resolve_format(name)
    except (ValueError, OSError) as exc:
        raise ConfigError("format", str(exc).splitlines()[0] if str(exc) else repr(name)) from None


def _load_yaml(key: str, path: str) -> Any:
    check_file(key, path)
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(key, f"cannot read {path!r}: {detail}") from None


def _flatten(prefix: str, mapping: Mapping[Any, Any], out: dict[str, Any]) -> None:
    """Nested YAML (``web: {listen-address: ...}``) and dotted keys both map to flag names."""
    for raw_key, value in mapping.items():
        key = f"{prefix}{raw_key}"
        if key == "runs":
            out[key] = value
        elif isinstance(value, Mapping):
            _flatten(key + ".", value, out)
        else:
            out[key.replace("_", "-")] = value


def _runs_from_file(entries: Any, base_dir: str) -> list[RunConfig]:
    if not isinstance(entries, list):
        raise ConfigError("runs", "must be a list of {run, log, ...} entries")
    runs: list[RunConfig] = []
    for number, entry in enumerate(entries):
        where = f"runs[{number}]"
        if not isinstance(entry, Mapping):
            raise ConfigError(where, "must be a mapping with at least 'log'")
        for name in entry:
            if name not in _RUN_KEYS:
                raise ConfigError(f"{where}.{name}", f"unknown key (allowed: {', '.join(_RUN_KEYS)})")
        log = entry.get("log")
        if not isinstance(log, str) or not log.strip():
            raise ConfigError(f"{where}.log", "is required and must be a path or glob")
        if log != "-" and not os.path.isabs(log):
            log = os.path.join(base_dir, log)
        run = entry.get("run")
        if run is not None and (not isinstance(run, (str, int)) or not str(run).strip()):
            raise ConfigError(f"{where}.run", "must be a non-empty name")
        total = entry.get("total_iterations")
        deadline = entry.get("deadline")
        fmt = entry.get("format")
        runs.append(
            RunConfig(
                run=str(run).strip() if run is not None else run_name_from_path(log),
                log=log,
                format=str(fmt) if fmt is not None else None,
                total_iterations=parse_positive_int(f"{where}.total_iterations", total) if total is not None else None,
                deadline_timestamp_seconds=parse_deadline(f"{where}.deadline", deadline)
                if deadline is not None
                else None,
            )
        )
    return runs


def _parse_log_flag(spec: str) -> tuple[str | None, str]:
    """``RUN=PATH`` or ``PATH``. A path containing '=' needs the ``RUN=`` form."""
    name, sep, path = spec.partition("=")
    if sep and re.fullmatch(r"[A-Za-z0-9_.-]+", name) and path:
        return name, path
    return None, spec


def load(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Config:
    """Merge flags, environment and config file into a validated ``Config``; raise ``ConfigError`` on any problem."""
    environ = os.environ if environ is None else environ
    config_file = getattr(args, "config_file", None) or environ.get(env_name("config.file"))
    file_values: dict[str, Any] = {}
    file_runs: list[RunConfig] = []
    if config_file:
        data = _load_yaml("config.file", config_file)
        if data is not None and not isinstance(data, Mapping):
            raise ConfigError("config.file", f"{config_file!r} must hold a mapping of settings")
        _flatten("", data or {}, file_values)
        for key in file_values:
            if key not in _SCALAR_FLAGS and key not in ("runs", "log"):
                raise ConfigError(key, f"unknown key in {config_file}")
        if "runs" in file_values:
            file_runs = _runs_from_file(file_values.pop("runs"), os.path.dirname(os.path.abspath(config_file)))
        if "log" in file_values:
            logs = file_values.pop("log")
            file_values["log"] = logs if isinstance(logs, list) else [logs]

    def value(flag: str) -> Any:
        cli = getattr(args, dest_name(flag), None)
        if cli is not None:
            return cli
        if env_name(flag) in environ and environ[env_name(flag)] != "":
            return environ[env_name(flag)]
        return file_values.get(flag)

    listen = parse_listen_address(value("web.listen-address") or DEFAULT_LISTEN_ADDRESS)
    fmt = value("format")
    total_raw = value("total-iterations")
    total = parse_positive_int("total-iterations", total_raw) if total_raw is not None else None

    log_specs: list[str] = list(getattr(args, "log", None) or [])
    if not log_specs and environ.get(env_name("log")):
        log_specs = [part.strip() for part in environ[env_name("log")].split(",") if part.strip()]
    if not log_specs and "log" in file_values:
        log_specs = [str(item) for item in file_values["log"]]
    runs: list[RunConfig] = []
    for spec in log_specs:
        name, path = _parse_log_flag(spec)
        runs.append(RunConfig(run=name or run_name_from_path(path), log=path, format=fmt, total_iterations=total))
    if not runs:
        # --format/--total-iterations fill in config-file runs that do not set their own.
        runs = [
            RunConfig(
                run=r.run,
                log=r.log,
                format=r.format or fmt,
                total_iterations=r.total_iterations or total,
                deadline_timestamp_seconds=r.deadline_timestamp_seconds,
            )
            for r in file_runs
        ]
    if not runs:
        raise ConfigError("log", "no log to follow: give --log PATH or a 'runs:' list in --config.file")
    checked: set[str] = set()
    for run in runs:
        if run.format is not None and run.format not in checked:
            _check_format(run.format)
            checked.add(run.format)
    seen: dict[str, str] = {}
    for run in runs:
        if run.run in seen:
            raise ConfigError("log", f"duplicate run name {run.run!r} ({seen[run.run]} and {run.log}); name them RUN=PATH")
        seen[run.run] = run.log
    if sum(1 for run in runs if run.log == "-") > 1:
        raise ConfigError("log", "stdin ('-') can be followed by one run only")

    cert, key = value("web.tls-cert-file"), value("web.tls-key-file")
    web_config = value("web.config.file")
    tls: TlsConfig | None = None
    auth: BasicAuth | None = None
    if (cert or key) and web_config:
        raise ConfigError("web.config.file", "use either --web.config.file or --web.tls-cert-file/--web.tls-key-file")
    if cert or key:
        if not cert:
            raise ConfigError("web.tls-cert-file", "is required with --web.tls-key-file")
        if not key:
            raise ConfigError("web.tls-key-file", "is required with --web.tls-cert-file")
        check_file("web.tls-cert-file", str(cert))
        check_file("web.tls-key-file", str(key))
        tls = tls_files(str(cert), str(key))
    elif web_config:
        data = _load_yaml("web.config.file", str(web_config))
        web = parse_web_config(data, os.path.dirname(os.path.abspath(str(web_config))))
        tls, auth = web.tls, web.basic_auth

    devices, pid = value("gpu.devices"), value("gpu.pid")
    if devices is not None and pid is not None:
        raise ConfigError("gpu.pid", "use either --gpu.pid or --gpu.devices, not both")
    gpu: GpuSelection | None = GpuSelection()
    if pid is not None:
        gpu = GpuSelection(pid=parse_positive_int("gpu.pid", pid))
    elif devices is not None:
        gpu = parse_gpu_devices(devices)

    gpu_poll_raw = value("gpu.poll-interval")
    log_poll_raw = value("log.poll-interval")
    gpu_poll = parse_duration("gpu.poll-interval", gpu_poll_raw) if gpu_poll_raw is not None else DEFAULT_GPU_POLL_SECONDS
    log_poll = parse_duration("log.poll-interval", log_poll_raw) if log_poll_raw is not None else DEFAULT_LOG_POLL_SECONDS
    if log_poll > MAX_LOG_POLL_SECONDS:
        raise ConfigError("log.poll-interval", f"{log_poll_raw!r} is longer than 1s (stalls would be seen late)")
    return Config(
        log_level=parse_log_level(value("log.level")),
        runs=tuple(runs),
        listen=listen,
        tls=tls,
        basic_auth=auth,
        gpu=gpu,
        gpu_poll_seconds=gpu_poll,
        log_poll_seconds=log_poll,
    )
