"""Number reading shared by the parsers: tolerant of thousands separators and of non-finite values."""

from __future__ import annotations

import math

def to_float(text: str | None) -> float | None:
    """``"7,084"`` -> 7084.0, ``"nan"`` -> nan, ``"1.5E+00"`` -> 1.5; None for anything that is not a number."""
    if text is None:
        return None
    text = text.strip().replace(",", "").replace("_", "")
    if not text:
        return None
    try:
        return float(text)  # also reads "nan", "-nan", "inf"
    except ValueError:
        return None


def to_int(text: str | None) -> int | None:
    """An integer counter (``"00123"``, ``"7,084"``); None for anything else, including non-finite values."""
    value = to_float(text)
    if value is None or not math.isfinite(value) or value != int(value):
        return None
    return int(value)


def percent_to_ratio(text: str | None) -> float | None:
    """An MFU-style percentage as a 0-1 ratio; negative values are the trainers' "unknown" marker -> None."""
    value = to_float(text)
    if value is None or not math.isfinite(value) or value < 0:
        return None
    return value / 100.0
