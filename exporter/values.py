"""Parsing one setting's value (a duration, a count, an address, a time, a GPU selection, a run name): each
problem a ``ConfigError`` that names the key. The flags of ``serve`` and the options of the other commands use them."""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Any

from exporter.errors import ConfigError
from exporter.gpu.selection import GpuSelection

LOG_LEVELS = ("debug", "info", "warning", "error")
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int


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
    """``none`` (GPU reporting off), else what ``GpuSelection.parse`` reads (the sampler's one rule): ``all``,
    comma-separated indices and GPU-/MIG- UUIDs, or ``pid:N`` (as ``--gpu.pid N``)."""
    text = str(value).strip()
    if text.lower() == "none":
        return None
    if text.lower() == "all":
        return GpuSelection()
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
