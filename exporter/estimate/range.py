"""The ETA range: from the spread the run has shown so far, wider the more of the run remains."""

from __future__ import annotations

import math
from collections import deque

from exporter.estimate.robust import log_spread

Z_80 = 1.2816
"""Two-sided 80% interval of a normal distribution: the range aims to hold the truth ~80% of the time."""


class BlockSpread:
    """Pace of consecutive blocks of samples; their spread is how much the pace wanders over the run.

    Blocks cover everything but warm-up and periodic events (hangs and slow phases included), so a run that
    has wandered gets a wide range and a steady one a narrow range.
    """

    def __init__(self, *, block_samples: int = 8, max_blocks: int = 64) -> None:
        self._block_samples = block_samples
        self._blocks: deque[float] = deque(maxlen=max_blocks)
        self._seconds = 0.0
        self._iterations = 0.0
        self._count = 0

    def add(self, iterations: float, seconds: float) -> None:
        self._seconds += seconds
        self._iterations += iterations
        self._count += 1
        if self._count >= self._block_samples:
            self._blocks.append(self._seconds / self._iterations)
            self._seconds = self._iterations = 0.0
            self._count = 0

    def sigma(self) -> float | None:
        """Robust standard deviation of log block pace; None with fewer than three blocks."""
        if len(self._blocks) < 3:
            return None
        return log_spread(list(self._blocks))


def eta_range(
    eta: float,
    *,
    remaining_fraction: float,
    stat_sigma: float,
    drift_sigma: float,
    hang_seconds: float = 0.0,
) -> tuple[float, float]:
    """(lower, upper) seconds around ``eta``.

    ``stat_sigma``: relative error of the current pace estimate (sample noise / sqrt(samples)).
    ``drift_sigma``: how much the pace wanders (log spread of block paces), scaled by the fraction of the run
    still ahead since a change can only affect the part not yet done.
    ``hang_seconds``: expected one-off hang time ahead (clipped out of the pace), added to the upper end only.
    """
    sigma = math.sqrt(stat_sigma**2 + drift_sigma**2 * max(0.0, min(1.0, remaining_fraction)))
    sigma = min(sigma, 1.5)
    lower = eta * math.exp(-Z_80 * sigma)
    upper = eta * math.exp(Z_80 * sigma) + max(0.0, hang_seconds)
    return lower, upper
