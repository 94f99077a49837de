"""Small robust statistics: medians are biased low for ETA, so the pace uses a clipped (winsorized) mean."""

from __future__ import annotations

import math
from collections.abc import Sequence

MAD_TO_SIGMA = 1.4826
"""Scale that turns a median absolute deviation into a normal standard deviation."""


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def robust_sigma(values: Sequence[float], *, floor_ratio: float = 0.02) -> float:
    """Robust standard deviation (MAD based), never below ``floor_ratio`` x the median so that a run of
    identical values still tolerates small noise."""
    centre = median(values)
    mad = median([abs(v - centre) for v in values])
    return max(MAD_TO_SIGMA * mad, floor_ratio * abs(centre))


def clip_limit(values: Sequence[float], *, sigmas: float = 4.0) -> float:
    """Upper clipping level: median + ``sigmas`` robust standard deviations."""
    return median(values) + sigmas * robust_sigma(values)


def clipped_mean(values: Sequence[float], weights: Sequence[float] | None = None, *, sigmas: float = 4.0) -> float:
    """Weighted mean with values above the robust clipping level pulled down to it.

    A mean (not a median) keeps real, recurring slowness in the pace; clipping keeps one-off hangs from
    dominating it.
    """
    if not values:
        raise ValueError("clipped_mean of no values")
    limit = clip_limit(values, sigmas=sigmas)
    ws = weights if weights is not None else [1.0] * len(values)
    total_w = sum(ws)
    return sum(min(v, limit) * w for v, w in zip(values, ws)) / total_w


def log_spread(values: Sequence[float]) -> float:
    """Robust standard deviation of log(values) for positive values; 0 for fewer than two."""
    logs = [math.log(v) for v in values if v > 0]
    if len(logs) < 2:
        return 0.0
    return robust_sigma(logs, floor_ratio=0.0)
