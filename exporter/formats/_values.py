"""Small value parsers shared by the format families (numbers as trainers print them, loss picking)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

SCAN_LIMIT = 16384
"""Characters of a record searched for fields: real progress lines are far shorter, and capping keeps
pathological records (megabytes of repeated field names) cheap."""

_STEP_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ns": 1e-9}


def number(text: str | None) -> float | None:
    """A float from printed text: quotes and thousands separators removed; ``nan``/``inf`` kept; else None."""
    if text is None:
        return None
    cleaned = text.strip().strip("'\"").replace(",", "")
    if not cleaned:
        return None
    try:
        return float(cleaned)
    except ValueError:
        return None


def integer(text: str | None) -> int | None:
    """A non-negative integer from printed text (thousands separators allowed), else None."""
    if text is None:
        return None
    cleaned = text.strip().replace(",", "")
    return int(cleaned) if cleaned.isdigit() else None


def finite(value: float | None) -> float | None:
    """``value`` if it is a finite float, else None (for timings, where nan/inf mean "not measured")."""
    return value if value is not None and math.isfinite(value) else None


def step_seconds(value: str, unit: str) -> float | None:
    """Seconds from a number and a time unit (``s``, ``ms``, ``us``/``µs``, ``ns``); None if unknown."""
    scale = _STEP_UNITS.get(unit)
    amount = finite(number(value))
    if scale is None or amount is None:
        return None
    return amount * scale


_EVAL_KEY = re.compile(r"^(?:val|valid|validation|eval|test)[_/]", re.IGNORECASE)


def pick_loss(pairs: Iterable[tuple[str, str]]) -> float | None:
    """The training loss among printed ``(key, value)`` metrics.

    Prefers ``loss`` and ``train_loss`` (Lightning's step value ``*_step`` over its epoch mean), then any other
    key containing ``loss`` that is not a validation metric. Non-finite values are returned as such.
    """
    best: tuple[int, float] | None = None
    for key, raw in pairs:
        lowered = key.lower()
        if "loss" not in lowered or _EVAL_KEY.match(lowered):
            continue
        value = number(raw)
        if value is None:
            continue
        if lowered in ("loss", "train_loss", "train/loss"):
            rank = 0
        elif lowered.endswith("loss_step"):
            rank = 1
        elif lowered.endswith("_epoch"):
            rank = 3
        else:
            rank = 2
        if best is None or rank < best[0]:
            best = (rank, value)
    return None if best is None else best[1]
