"""Value parsers shared by every format family: numbers as trainers print them, unit scaling, loss picking."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

SCAN_LIMIT = 16384
"""Characters of a record searched for fields: real progress lines are far shorter, and capping keeps
pathological records (megabytes of repeated field names) cheap."""

_STEP_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ns": 1e-9}


def number(text: str | None) -> float | None:
    """A float from printed text, else None.

    Tolerates surrounding quotes (transformers 5.x prints ``'1.178'``) and thousands separators (``7,084``,
    ``1_000``); keeps ``nan``/``inf`` as such, since a non-finite loss is itself news.
    """
    if text is None:
        return None
    try:
        # Most printed numbers are plain: float() alone, and exactly what the cleaning below would give it
        # (float accepts surrounding spaces and digit-group underscores, and rejects quotes and commas).
        return float(text)
    except ValueError:
        pass
    cleaned = text.strip().strip("'\"").replace(",", "").replace("_", "")
    if not cleaned:
        return None
    try:
        return float(cleaned)
    except ValueError:
        return None


def integer(text: str | None) -> int | None:
    """An integer counter (``"00123"``, ``"7,084"``, ``"1e3"``); None for anything else, non-finite included."""
    value = number(text)
    if value is None or not math.isfinite(value) or value != int(value):
        return None
    return int(value)


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


def seconds_between(last: tuple[int, float] | None, position: int, elapsed: float) -> float | None:
    """Seconds per iteration from ``last`` (a position and the seconds since the start there) to ``position`` at
    ``elapsed``, or from the start (position 0) when there is no ``last`` or the counter went back: what a log that
    prints its clock (CatBoost's ``total``, Stable-Baselines3's ``time_elapsed``) says of its steps."""
    before, at = last if last is not None and last[0] < position else (0, 0.0)
    return max(0.0, elapsed - at) / (position - before) if position > before else None


def percent_to_ratio(text: str | None) -> float | None:
    """An MFU-style percentage as a 0-1 ratio; negative values are the trainers' "unknown" marker -> None."""
    value = number(text)
    if value is None or not math.isfinite(value) or value < 0:
        return None
    return value / 100.0


EVAL_KEY = re.compile(r"^(?:val|valid|validation|eval|test)[_/]", re.IGNORECASE)
"""The prefix of an evaluation's metric key (``val_loss``, ``eval/accuracy``)."""


def pick_loss(pairs: Iterable[tuple[str, str]]) -> float | None:
    """The training loss among printed ``(key, value)`` metrics.

    Prefers ``loss`` and ``train_loss`` (Lightning's step value ``*_step`` over its epoch mean), then any other
    key containing ``loss`` that is not a validation metric. Non-finite values are returned as such.
    """
    best: tuple[int, float] | None = None
    for key, raw in pairs:
        lowered = key.lower()
        if "loss" not in lowered or EVAL_KEY.match(lowered):
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
