"""The ETA range: from the spread the run has shown so far, wider the more of the run remains."""

from __future__ import annotations

import math
from collections import deque


Z_80 = 1.2816
"""Two-sided 80% interval of a normal distribution: the range aims to hold the truth ~80% of the time."""


class BlockSpread:
    """Pace of consecutive blocks of samples; their spread is how much the pace wanders over the run.

    Blocks cover everything but warm-up and periodic events (hangs and slow phases included), so a run that
    has wandered gets a wide range and a steady one a narrow range.
    """

    def __init__(
        self, *, block_samples: int = 8, max_blocks: int = 64, prior_sigma: float = 0.2, prior_blocks: int = 4
    ) -> None:
        self._prior_sigma = prior_sigma
        self._prior_blocks = prior_blocks
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

    def sigma(self) -> float:
        """Standard deviation of log block pace, shrunk towards a prior while few blocks are seen.

        Not a robust spread: slow phases and shifts are exactly what the range must allow for. The prior
        (``prior_sigma`` weighted as ``prior_blocks`` blocks) keeps a young run from claiming certainty it has
        not earned; a long steady run soon outweighs it.
        """
        logs = [math.log(b) for b in self._blocks if b > 0]
        n = len(logs)
        observed = 0.0
        if n >= 2:
            mean = sum(logs) / n
            observed = sum((x - mean) ** 2 for x in logs) / (n - 1)
        weight = max(n - 1, 0)
        variance = (weight * observed + self._prior_blocks * self._prior_sigma**2) / (weight + self._prior_blocks)
        return math.sqrt(variance)


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
    ``drift_sigma``: how much the pace wanders (log spread of block paces). Half of its variance is taken as
    always present (a shift not yet detected biases the current pace), half in proportion to the fraction of
    the run still ahead (a future shift can only affect the part not yet done).
    ``hang_seconds``: expected one-off hang time ahead (clipped out of the pace), added to the upper end only.
    """
    share = (1.0 + max(0.0, min(1.0, remaining_fraction))) / 2
    sigma = math.sqrt(stat_sigma**2 + drift_sigma**2 * share)
    sigma = min(sigma, 1.5)
    lower = eta * math.exp(-Z_80 * sigma)
    upper = eta * math.exp(Z_80 * sigma) + max(0.0, hang_seconds)
    return lower, upper
