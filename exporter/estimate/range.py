"""The ETA range: from the spread the run has shown so far, wider the more of the run remains."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import deque
from itertools import repeat
from operator import lt, mul, sub, truediv

from exporter.estimate.candidates import Verdict

Z_80 = 1.2816
"""Two-sided 80% interval of a normal distribution: the range aims to hold the truth ~80% of the time."""
MAX_LOG_WIDTH = math.log(20.0)
"""A range never reaches beyond 20x either way of the ETA: past that it tells the reader nothing."""


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
        self._observed: tuple[int, float] | None = None
        """(blocks, sample variance of their log pace) as of the latest block: estimates read it every call."""

    def add(self, iterations: float, seconds: float) -> None:
        self._seconds += seconds
        self._iterations += iterations
        self._count += 1
        if self._count >= self._block_samples:
            self._blocks.append(self._seconds / self._iterations)
            self._seconds = self._iterations = 0.0
            self._count = 0
            self._observed = None

    def sigma(self, *, sample_sigma: float = 0.0, prior_share: float = 1.0) -> float:
        """Standard deviation of log block pace beyond what sample noise explains, shrunk towards a prior
        while few blocks are seen.

        Not a robust spread: slow phases and shifts are exactly what the range must allow for. Independent
        noise of single samples (``sample_sigma``, relative) averages out over the remaining run, so only the
        excess over its share in a block (sample_sigma^2 / block size) is drift. The prior (``prior_sigma``
        weighted as ``prior_blocks`` blocks) keeps a young run from claiming certainty it has not earned;
        ``prior_share`` (0-1) scales it down where the run's own past errors (``Calibration``) speak for it.
        """
        n, observed = self._log_variance()
        if n >= 2:
            observed = max(0.0, observed - sample_sigma**2 / self._block_samples)
        weight = max(n - 1, 0)
        prior = self._prior_blocks * prior_share
        if prior <= 0:
            return math.sqrt(observed)
        variance = (weight * observed + prior * self._prior_sigma**2) / (weight + prior)
        return math.sqrt(variance)


    def _log_variance(self) -> tuple[int, float]:
        """(blocks with a positive pace, sample variance of their log pace; 0 for fewer than two)."""
        if self._observed is None:
            logs = [math.log(b) for b in self._blocks if b > 0]
            n = len(logs)
            variance = 0.0
            if n >= 2:
                mean = sum(logs) / n
                variance = sum((x - mean) ** 2 for x in logs) / (n - 1)
            self._observed = (n, variance)
        return self._observed


class Calibration:
    """Causal self-calibration: how wrong the ETA's pace has been at earlier points of this run.

    At past points the estimator kept (iteration, clock, predicted seconds per remaining iteration). Now, for
    each of them, the realised seconds per iteration since then over the predicted one is the error that ETA
    would have shown on the stretch run so far. Their quantiles, over stretches about as long as what
    remains, widen the range by exactly the kind of surprise this run has produced: regime shifts, recurring
    hangs, a pace that drifts. A steady run's ratios stay near 1 and add nothing. Points are thinned (every
    other one dropped, spacing doubled) when the store is full, so they span the whole run in bounded memory.
    """

    def __init__(self, *, max_points: int = 64, min_points: int = 5, quantile: float = 0.1) -> None:
        self._max_points = max_points
        self._min_points = min_points
        self._quantile = quantile
        self._points: list[tuple[float, float, float]] = []
        # Columns of the points, so ``bounds`` can bisect the iterations and map over the rest at C speed.
        self._iterations: list[float] = []
        self._clocks: list[float] = []
        self._paces: list[float] = []
        self._ordered = True
        """Whether the iterations are non-decreasing (always, from the estimator): then a stretch's length
        falls with the index, and the stretches of about the horizon are one contiguous slice."""
        self._every = 1
        self._since = 0

    def record(self, iteration: float, clock: float, pace: float) -> None:
        """Keep the predicted seconds per remaining iteration ``pace`` at ``iteration`` / ``clock``."""
        self._since += 1
        if self._since < self._every or pace <= 0:
            return
        self._since = 0
        if self._iterations and not iteration >= self._iterations[-1]:
            self._ordered = False
        self._points.append((iteration, clock, pace))
        self._iterations.append(iteration)
        self._clocks.append(clock)
        self._paces.append(pace)
        if len(self._points) > self._max_points:
            self._points = self._points[1::2]
            self._iterations = self._iterations[1::2]
            self._clocks = self._clocks[1::2]
            self._paces = self._paces[1::2]
            self._every *= 2

    def clear(self) -> None:
        self._points = []
        self._iterations = []
        self._clocks = []
        self._paces = []
        self._ordered = True

    def bounds(self, iteration: float, clock: float, *, horizon: float) -> tuple[float, float] | None:
        """(low, high) quantiles of log(realised / predicted pace) over past stretches of about ``horizon``
        iterations (half to twice it, ``horizon`` capped at the longest stretch seen); None with too few.

        With ordered iterations the qualifying points are found by bisection and only they are evaluated, in
        the same order and with the same float operations as the plain computation (``_bounds_plain``).
        """
        iterations = self._iterations
        if not self._ordered or (isinstance(iteration, float) and math.isnan(iteration)):
            return self._bounds_plain(iteration, clock, horizon=horizon)
        clocks = self._clocks
        # Points before ``iteration``: a prefix; the longest stretch is the first of them with an earlier clock.
        before = bisect_left(iterations, iteration)
        first = next((j for j in range(before) if clock > clocks[j]), None)
        if first is None or horizon <= 0:
            return None
        target = min(horizon, iteration - iterations[first])
        # Stretch lengths fall with the index: those of at most 2 x target are a suffix, of at least target / 2 a
        # prefix; the bisections test each length exactly as the plain filter does.
        low = bisect_left(iterations, True, first, before, key=lambda i: iteration - i <= 2 * target)
        high = bisect_left(iterations, True, low, before, key=lambda i: not target / 2 <= iteration - i)
        starts = iterations[low:high]
        times = clocks[low:high]
        paces = self._paces[low:high]
        if not all(map(lt, times, repeat(clock))):
            kept = [j for j, c in enumerate(times) if clock > c]
            starts = [starts[j] for j in kept]
            times = [times[j] for j in kept]
            paces = [paces[j] for j in kept]
        realised = map(sub, repeat(clock), times)
        predicted = map(mul, map(sub, repeat(iteration), starts), paces)
        logs = sorted(map(math.log, map(truediv, realised, predicted)))
        if len(logs) < self._min_points:
            return None
        return _quantile(logs, self._quantile), _quantile(logs, 1 - self._quantile)

    def _bounds_plain(self, iteration: float, clock: float, *, horizon: float) -> tuple[float, float] | None:
        """``bounds`` evaluated over every point (any order of iterations)."""
        stretches = [(iteration - i, clock - c, p) for i, c, p in self._points if iteration > i and clock > c]
        if not stretches or horizon <= 0:
            return None
        target = min(horizon, max(h for h, _, _ in stretches))
        logs = sorted(math.log(s / (h * p)) for h, s, p in stretches if target / 2 <= h <= 2 * target)
        if len(logs) < self._min_points:
            return None
        return _quantile(logs, self._quantile), _quantile(logs, 1 - self._quantile)


def _quantile(ordered: list[float], q: float) -> float:
    """Linear-interpolated quantile of sorted values."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def eta_range(
    eta: float,
    *,
    remaining_fraction: float,
    stat_sigma: float,
    drift_sigma: float,
    hang_seconds: float = 0.0,
    calibration: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """(lower, upper) seconds around ``eta``.

    ``stat_sigma``: relative error of the current pace estimate (sample noise / sqrt(samples)).
    ``drift_sigma``: how much the pace wanders (log spread of block paces). Half of its variance is taken as
    always present (a shift not yet detected biases the current pace), half in proportion to the fraction of
    the run still ahead (a future shift can only affect the part not yet done).
    ``hang_seconds``: expected one-off hang time ahead (clipped out of the pace), added to the upper end only.
    ``calibration``: (low, high) log error quantiles from ``Calibration.bounds``; each end of the range
    reaches at least as far as the run's own past errors did.
    """
    share = (1.0 + max(0.0, min(1.0, remaining_fraction))) / 2
    sigma = math.sqrt(stat_sigma**2 + drift_sigma**2 * share)
    sigma = min(sigma, 1.5)
    low, high = -Z_80 * sigma, Z_80 * sigma
    if calibration is not None:
        low = max(min(low, calibration[0]), -MAX_LOG_WIDTH)
        high = min(max(high, calibration[1]), MAX_LOG_WIDTH)
    lower = eta * math.exp(low)
    upper = eta * math.exp(high) + max(0.0, hang_seconds)
    return lower, upper


RANGE_QUANTILE = 0.1
"""Each end of the range sits at this quantile of the backtests' actual / predicted ratios (an 80% range)."""
MIN_RELATIVE_HALF_WIDTH = 0.03
PRIOR_SIGMA_ABOVE = 0.4
PRIOR_SIGMA_BELOW = 0.2
EXTRAPOLATION = 0.25
"""The range is never narrower than +-3%: timing noise a backtest over a calm stretch cannot show."""


def judged_range(eta: float, verdict: Verdict, remaining: float, remaining_fraction: float) -> tuple[float, float]:
    """The range from the judge's backtests of the whole ETA (periodic work and hangs included): their 10% and
    90% ratios of wall time taken to predicted scale the ETA. With n backtests they are widened by
    1 + 1/sqrt(n) (a small sample's quantiles understate the spread) and by (remaining / horizon)^0.25 when more
    remains than the backtests could cover; a prior for what the history cannot show yet (a change still to
    come), wider above than below, grows with the share of the run that remains.
    """
    logs = sorted(math.log(r) for r in verdict.ratios if r > 0)
    if not logs:
        return eta * (1 - MIN_RELATIVE_HALF_WIDTH), eta * (1 + MIN_RELATIVE_HALF_WIDTH)
    widen = (1 + 1 / math.sqrt(len(logs))) * (max(1.0, remaining / verdict.horizon)) ** EXTRAPOLATION
    centre = _quantile(logs, 0.5)
    low = centre + (_quantile(logs, RANGE_QUANTILE) - centre) * widen
    high = centre + (_quantile(logs, 1 - RANGE_QUANTILE) - centre) * widen
    # Slowdowns still to come are more common than speed-ups: the prior is wider above.
    low = centre - math.hypot(centre - low, Z_80 * PRIOR_SIGMA_BELOW * remaining_fraction)
    high = centre + math.hypot(high - centre, Z_80 * PRIOR_SIGMA_ABOVE * remaining_fraction)
    low = max(-MAX_LOG_WIDTH, min(low, math.log1p(-MIN_RELATIVE_HALF_WIDTH)))
    high = min(MAX_LOG_WIDTH, max(high, math.log1p(MIN_RELATIVE_HALF_WIDTH)))
    return eta * math.exp(low), eta * math.exp(high)
