"""Durations, points in time and the ETA's pace as people read them: shared by `report` and the status page."""

from __future__ import annotations

import datetime as _dt
import math

from exporter.estimate.candidates import DESCRIPTIONS, HEDGED
from exporter.estimate.model import Estimate


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


def pace_ahead(e: Estimate, *, recent: bool = True) -> str:
    """Which pace the ETA assumes for the rest of the run, and why; the recent pace first (``recent``) when the
    two differ (the status page shows it just before)."""
    if e.eta_seconds_per_iteration is None or e.pace_source is None or e.seconds_per_iteration is None:
        return ""
    why = DESCRIPTIONS.get(e.pace_source, e.pace_source)
    uses = f"the ETA uses {format_pace(e.eta_seconds_per_iteration)}"
    if abs(e.eta_seconds_per_iteration / e.seconds_per_iteration - 1) < 0.05:
        return f"{uses}: {why}"
    if e.pace_source != HEDGED:
        why += " (the pace that best predicted this run's own past at this horizon)"
    return (f"recent {format_pace(e.seconds_per_iteration)}; " if recent else "") + f"{uses}: {why}"


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``12th``, ``13th``, ``21st``, ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def total_hint(e: Estimate) -> str:
    """How to give a run of unknown total its total: in epochs where the lines count them (with an epoch's size
    when it is more than one iteration), else in iterations."""
    if e.batches_per_epoch is None:
        return "pass --total-iterations N for an ETA"
    if e.batches_per_epoch == 1:
        return "pass --total-epochs N for an ETA"
    return f"pass --total-epochs N for an ETA; {e.batches_per_epoch} per epoch"


BLOCKS_NOTE = ("the log arrives in blocks (the trainer's stdout is block-buffered): run it with python -u or "
               "PYTHONUNBUFFERED=1 to see each line as it is printed")
"""Said by ``report`` and the status page for a log that arrives in blocks (``Estimate.arrives_in_blocks``)."""
