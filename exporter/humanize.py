"""Durations and points in time as people read them: shared by `report` and the status page."""

from __future__ import annotations

import datetime as _dt
import math


def format_duration(seconds: float | None) -> str:
    """``3725`` -> ``1h 02m``; ``None`` or non-finite -> ``unknown``; negative reads as zero."""
    if seconds is None or not math.isfinite(seconds):
        return "unknown"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def format_timestamp(timestamp: float | None) -> str:
    """Unix seconds as ``YYYY-MM-DD HH:MM:SS UTC``; ``None`` or non-finite -> ``unknown``."""
    if timestamp is None or not math.isfinite(timestamp):
        return "unknown"
    return _dt.datetime.fromtimestamp(timestamp, tz=_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_pace(seconds: float | None) -> str:
    """Seconds per iteration as people read them: ``74.0 ms/it`` below a second, ``2.50 s/it`` above; ``unknown``."""
    if seconds is None:
        return "unknown"
    return f"{seconds * 1000:.1f} ms/it" if seconds < 1 else f"{seconds:.2f} s/it"
