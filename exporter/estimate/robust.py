"""Small robust statistics: medians are biased low for ETA, so the pace uses a clipped (winsorized) mean.

The ``*_sorted`` variants take values already in ascending order (kept incrementally by a sliding window) and
return exactly what the plain functions return for the same values, without sorting anything.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence

MAD_TO_SIGMA = 1.4826
"""Scale that turns a median absolute deviation into a normal standard deviation."""


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    return median_sorted(sorted(values))


def median_sorted(ordered: Sequence[float]) -> float:
    """Median of a non-empty ascending sequence."""
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def mad_sorted(ordered: Sequence[float], centre: float) -> float:
    """Median of ``|v - centre|`` over an ascending, finite, non-empty sequence, in O(log n).

    The deviations form two ascending runs (``centre - v`` reading down from ``centre``, ``v - centre`` reading
    up), so their middle element is a k-th smallest of two sorted runs: a binary search, no sort. Each
    deviation is computed as the same float ``abs(v - centre)`` gives (IEEE rounding is sign-symmetric).
    """
    n = len(ordered)
    split = bisect_left(ordered, centre)
    mid = n // 2
    upper, lower = _kth_two_smallest(ordered, centre, split, mid)
    if n % 2:
        return upper
    return (lower + upper) / 2


def _kth_two_smallest(ordered: Sequence[float], centre: float, split: int, k: int) -> tuple[float, float]:
    """(k-th, (k-1)-th) smallest deviation, 0-based; the second is -inf for k = 0.

    Run A (i-th: ``centre - ordered[split - 1 - i]``) has ``split`` items, run B (j-th:
    ``ordered[split + j] - centre``) the rest. The k+1 smallest take i from A and k+1-i from B, for the i where
    neither run's last taken item exceeds the other's first untaken one.
    """
    na = split
    nb = len(ordered) - split
    lo = max(0, k + 1 - nb)
    hi = min(k + 1, na)
    while True:
        i = (lo + hi) // 2
        j = k + 1 - i
        if i > 0 and j < nb and centre - ordered[split - i] > ordered[split + j] - centre:
            hi = i - 1
        elif j > 0 and i < na and ordered[split + j - 1] - centre > centre - ordered[split - 1 - i]:
            lo = i + 1
        else:
            break
    a = centre - ordered[split - i] if i > 0 else -math.inf
    b = ordered[split + j - 1] - centre if j > 0 else -math.inf
    if a >= b:
        second = max(centre - ordered[split - i + 1] if i > 1 else -math.inf, b)
        return a, second
    second = max(a, ordered[split + j - 2] - centre if j > 1 else -math.inf)
    return b, second


def spread(values: Sequence[float], *, floor_ratio: float = 0.02) -> tuple[float, float]:
    """(median, ``robust_sigma``) of a non-empty sequence, the median computed once for both."""
    centre = median(values)
    mad = median([abs(v - centre) for v in values])
    return centre, max(MAD_TO_SIGMA * mad, floor_ratio * abs(centre))


def spread_sorted(ordered: Sequence[float], *, floor_ratio: float = 0.02) -> tuple[float, float]:
    """``spread`` of an ascending, finite, non-empty sequence in O(log n)."""
    centre = median_sorted(ordered)
    return centre, max(MAD_TO_SIGMA * mad_sorted(ordered, centre), floor_ratio * abs(centre))


def robust_sigma(values: Sequence[float], *, floor_ratio: float = 0.02) -> float:
    """Robust standard deviation (MAD based), never below ``floor_ratio`` x the median so that a run of
    identical values still tolerates small noise."""
    return spread(values, floor_ratio=floor_ratio)[1]


def clip_limit(values: Sequence[float], *, sigmas: float = 4.0) -> float:
    """Upper clipping level: median + ``sigmas`` robust standard deviations."""
    centre, sigma = spread(values)
    return centre + sigmas * sigma


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
