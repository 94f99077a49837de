"""Sidecar configuration: Go-exporter-style flags, ``TRAINING_ETA_EXPORTER_*`` environment variables and a YAML file.

Precedence, highest first: command-line flag, environment variable, config file (``--config.file``), default.
Every problem is reported as one ``ConfigError`` naming the key and what is wrong, before anything is bound or
opened, so ``serve`` can print one line and exit 2.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from exporter.errors import ConfigError, check_file
from exporter.gpu.selection import GpuSelection
from exporter.http import base_url
from exporter.values import (
    LOG_LEVELS,
    ListenAddress,
    parse_deadline,
    parse_duration,
    parse_gpu_devices,
    parse_listen_address,
    parse_log_level,
    parse_positive_int,
    run_name_from_path,
)
from exporter.webconfig import BasicAuth, TlsConfig, parse_web_config, tls_files
from exporter.worker import RunConfig

__all__ = ["Settings", "ConfigError", "ListenAddress", "RunConfig", "SETTINGS", "add_arguments", "load"]

ENV_PREFIX = "TRAINING_ETA_EXPORTER_"
DEFAULT_LISTEN_ADDRESS = ":9787"
DEFAULT_GPU_POLL_SECONDS = 1.0
DEFAULT_LOG_POLL_SECONDS = 0.25
MAX_LOG_POLL_SECONDS = 1.0
_RUN_KEYS = ("run", "log", "format", "total_iterations", "total_epochs", "deadline")


def _text(key: str, value: Any) -> str:
    return str(value)


@dataclass(frozen=True, slots=True)
class Setting:
    """One single-valued setting: its flag (also its config-file key and, upper-cased, its environment name),
    how its value is parsed, its default and its help."""

    flag: str
    metavar: str
    help: str
    parse: Callable[[str, Any], Any] = _text
    default: Any = None


SETTINGS = (
    Setting("config.file", "FILE", "YAML file with any of these settings (flag names as keys) and a 'runs:' list, "
            "each entry with run, log, and optional format, total_iterations, total_epochs, deadline (RFC 3339)"),
    Setting("format", "NAME", "log format of the --log runs (default: detected from the first lines)"),
    Setting("total-iterations", "N", "total iterations of the --log runs when the log does not print them",
            parse_positive_int),
    Setting("total-epochs", "N", "total epochs of the --log runs, for logs that count iterations per epoch without "
            "printing the epochs", parse_positive_int),
    Setting("web.listen-address", "[HOST]:PORT",
            f"address to serve /metrics, /healthz and / on (default {DEFAULT_LISTEN_ADDRESS})",
            lambda key, value: parse_listen_address(value, key), parse_listen_address(DEFAULT_LISTEN_ADDRESS)),
    Setting("web.tls-cert-file", "FILE", "serve HTTPS with this certificate (PEM); needs --web.tls-key-file"),
    Setting("web.tls-key-file", "FILE", "private key (PEM) of --web.tls-cert-file"),
    Setting("web.config.file", "FILE", "Prometheus exporter-toolkit web config (tls_server_config: cert_file, "
            "key_file, client_auth_type, client_ca_file, min_version, max_version, cipher_suites; basic_auth_users)"),
    Setting("gpu.devices", "all|none|LIST", "GPUs to report: all (default), none, or comma-separated indices "
            "and/or UUIDs (GPU-..., MIG-...)", lambda key, value: parse_gpu_devices(value, key)),
    Setting("gpu.pid", "PID", "report only the GPUs this process (the trainer) uses; needs a shared PID namespace",
            parse_positive_int),
    Setting("gpu.poll-interval", "DURATION", "NVML sampling interval, e.g. 1s, 500ms (default 1s)",
            parse_duration, DEFAULT_GPU_POLL_SECONDS),
    Setting("log.poll-interval", "DURATION", "how often logs are read, at most 1s (default 250ms)",
            parse_duration, DEFAULT_LOG_POLL_SECONDS),
    Setting("state.directory", "DIR", "keep a small state file per run here (offset, file identity, the "
            "estimator's bounded state), so that a restarted sidecar continues where it stopped instead of reading "
            "the log again (default: none)", lambda key, value: _state_directory(key, value)),
    Setting("log.level", "LEVEL", f"exporter log verbosity on stderr: {', '.join(LOG_LEVELS)} (default info)",
            lambda key, value: parse_log_level(value), "info"),
)
"""Every single-valued ``serve`` setting; argparse options, environment names and config-file keys come from it.
``--log`` (repeatable, ``RUN=PATH``) and the config file's ``runs:`` list are the two multi-valued ones."""
_BY_FLAG = {setting.flag: setting for setting in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    """The validated sidecar settings (what ``serve`` runs with)."""

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
    state_directory: str | None = None
    """Where run state files live (``--state.directory``); None: a restart reads the logs again."""

    @property
    def url(self) -> str:
        """The base URL a person can open (``localhost`` for a wildcard bind)."""
        return base_url(self.listen.host, self.listen.port, tls=self.tls is not None)


def _state_directory(key: str, value: Any) -> str:
    path = os.path.abspath(str(value))
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ConfigError(key, f"cannot create {path!r}: {exc.strerror or exc}") from None
    if not os.path.isdir(path) or not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(key, f"{path!r} is not a writable directory")
    return path


def dest_name(flag: str) -> str:
    """``web.listen-address`` -> ``web_listen_address``, the flag's argparse dest."""
    return re.sub(r"[.-]", "_", flag)


def env_name(flag: str) -> str:
    """``web.listen-address`` -> ``TRAINING_ETA_EXPORTER_WEB_LISTEN_ADDRESS``."""
    return ENV_PREFIX + dest_name(flag).upper()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``serve`` flags, from ``SETTINGS``. Defaults are None here so the environment and config file can fill
    them in."""
    parser.allow_abbrev = False
    parser.add_argument(
        "--log", dest="log", action="append", metavar="[RUN=]PATH",
        help="training log to follow: a file, a glob (quote it) or '-' for stdin; repeat for several runs. "
        "RUN is the 'run' label (default: the file name without extension)"
        + " (env " + env_name("log") + ", comma-separated)",
    )
    for setting in SETTINGS:
        add_setting(parser, setting.flag)


def add_setting(parser: argparse.ArgumentParser, flag: str) -> None:
    """One setting's option (``demo`` shares ``log.level``)."""
    setting = _BY_FLAG[flag]
    parser.add_argument(f"--{flag}", dest=dest_name(flag), metavar=setting.metavar,
                        help=f"{setting.help} (env {env_name(flag)})")


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
        epochs = entry.get("total_epochs")
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
                total_epochs=parse_positive_int(f"{where}.total_epochs", epochs) if epochs is not None else None,
            )
        )
    return runs


def _parse_log_flag(spec: str) -> tuple[str | None, str]:
    """``RUN=PATH`` or ``PATH``. A path containing '=' needs the ``RUN=`` form."""
    name, sep, path = spec.partition("=")
    if sep and re.fullmatch(r"[A-Za-z0-9_.-]+", name) and path:
        return name, path
    return None, spec


def load(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """Merge flags, environment and config file into validated ``Settings``; raise ``ConfigError`` on any problem."""
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
            if key not in _BY_FLAG and key not in ("runs", "log"):
                raise ConfigError(key, f"unknown key in {config_file}")
        if "runs" in file_values:
            file_runs = _runs_from_file(file_values.pop("runs"), os.path.dirname(os.path.abspath(config_file)))
        if "log" in file_values:
            logs = file_values.pop("log")
            file_values["log"] = logs if isinstance(logs, list) else [logs]

    def given(flag: str) -> Any:
        """The flag's value as given (flag, then environment, then file), None when not given."""
        cli = getattr(args, dest_name(flag), None)
        if cli is not None:
            return cli
        if env_name(flag) in environ and environ[env_name(flag)] != "":
            return environ[env_name(flag)]
        return file_values.get(flag)

    def value(flag: str) -> Any:
        """The flag's parsed value, or its default."""
        setting, raw = _BY_FLAG[flag], given(flag)
        return setting.parse(flag, raw) if raw is not None else setting.default

    listen = value("web.listen-address")
    fmt = value("format")
    total = value("total-iterations")
    epochs = value("total-epochs")

    log_specs: list[str] = list(getattr(args, "log", None) or [])
    if not log_specs and environ.get(env_name("log")):
        log_specs = [part.strip() for part in environ[env_name("log")].split(",") if part.strip()]
    if not log_specs and "log" in file_values:
        log_specs = [str(item) for item in file_values["log"]]
    runs: list[RunConfig] = []
    for spec in log_specs:
        name, path = _parse_log_flag(spec)
        runs.append(RunConfig(run=name or run_name_from_path(path), log=path, format=fmt, total_iterations=total,
                              total_epochs=epochs))
    if not runs:
        # --format/--total-iterations/--total-epochs fill in config-file runs that do not set their own.
        runs = [
            RunConfig(
                run=r.run,
                log=r.log,
                format=r.format or fmt,
                total_iterations=r.total_iterations or total,
                deadline_timestamp_seconds=r.deadline_timestamp_seconds,
                total_epochs=r.total_epochs or epochs,
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

    if given("gpu.devices") is not None and given("gpu.pid") is not None:
        raise ConfigError("gpu.pid", "use either --gpu.pid or --gpu.devices, not both")
    gpu: GpuSelection | None = GpuSelection()
    if given("gpu.pid") is not None:
        gpu = GpuSelection(pid=value("gpu.pid"))
    elif given("gpu.devices") is not None:
        gpu = value("gpu.devices")

    gpu_poll = value("gpu.poll-interval")
    log_poll = value("log.poll-interval")
    if log_poll > MAX_LOG_POLL_SECONDS:
        raise ConfigError("log.poll-interval",
                          f"{given('log.poll-interval')!r} is longer than 1s (stalls would be seen late)")
    return Settings(
        log_level=value("log.level"),
        state_directory=value("state.directory"),
        runs=tuple(runs),
        listen=listen,
        tls=tls,
        basic_auth=auth,
        gpu=gpu,
        gpu_poll_seconds=gpu_poll,
        log_poll_seconds=log_poll,
    )
