"""Pace of normal iterations: a window of samples since the latest change point, averaged robustly.

The window keeps its paces (and their logs) in ascending order as samples come and go, so the medians and
spreads that every sample needs cost O(log n) instead of a sort; the sums stay plain left-to-right float sums
over the window, in window order, so every figure is exactly what recomputing from scratch gives.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass, field
from itertools import accumulate, islice, repeat
from operator import mul

from exporter.estimate.robust import clip_limit, robust_sigma, spread, spread_sorted

_ULP = 2.0**-52
"""Relative spacing of doubles: the rounding error of one float operation is at most half of it."""
CLIP_SIGMAS = 4.0
"""Robust standard deviations above the median where a sample's pace is clipped (as ``clip_limit``)."""


@dataclass(slots=True, frozen=True)
class Sample:
    """Time spent on ``iterations`` iterations that ended at ``end_iteration``.

    From record times: Δt over Δiteration between two progress events. From printed per-iteration times:
    one printed value stands for one iteration (or ``averaged_over`` iterations), never for the logging gap.
    """

    iterations: float
    seconds: float
    end_iteration: int
    end_time: float | None = None
    span: float = 0.0
    """Iterations since the previous progress line when more than ``iterations`` (printed times cover only the
    printed iterations; the others ran at the same pace); 0 when the sample covers the whole gap."""
    lines: int = 1
    """Progress lines the sample covers (more than one on a long run, see ``coalesce``; with record times, lines
    that arrived together count once)."""
    pace: float = field(init=False, repr=False, compare=False)
    """Seconds per iteration, computed once: the window reads it many times."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "pace", self.seconds / self.iterations)

    @property
    def line_seconds(self) -> float:
        """Seconds between the two progress lines this sample spans."""
        if self.span > self.iterations > 0:
            return self.seconds * self.span / self.iterations
        return self.seconds


@dataclass(slots=True, frozen=True)
class ChangePoint:
    """The pace shifted: ``ratio`` = new pace / old pace, starting with the sample that ended at ``iteration``."""

    ratio: float
    iteration: int
    time: float | None
    old_pace: float
    new_pace: float
    old_iterations: float = 0.0
    """Iterations in the window before the change (the segment it ended, as far as the window reaches)."""
    old_seconds: float = 0.0


class PaceWindow:
    """Samples of normal iterations since the latest change point (bounded), with a clipped mean.

    A change point is declared when the most recent samples differ from those before them by more than noise
    explains (see ``_detect_change``): one slow sample is a hang (clipped), several in a row are a new pace,
    and the window restarts with them so the estimate follows quickly.
    """

    def __init__(
        self,
        *,
        max_samples: int = 200,
        change_samples: int = 4,
        change_factor: float = 1.3,
        min_factor: float = 1.1,
        change_sigmas: float = 4.0,
    ) -> None:
        self._samples: deque[Sample] = deque(maxlen=max_samples)
        # Parallel views of the window, in window order (C-speed sums) and in ascending order (medians).
        self._paces: deque[float] = deque()
        self._weights: deque[float] = deque()
        self._products: deque[float] = deque()
        """pace x iterations: a sample's seconds as the clipped sums count them while it is not clipped."""
        self._ordered: list[float] = []
        self._ordered_logs: list[float] = []
        """Ascending log paces of the positive, finite paces (the change test's noise scale)."""
        self._irregular = 0
        """Samples with a pace that is not finite (unsafe to order) or with no positive iteration count (the
        screen's error bounds need positive terms): while any is in the window, everything is computed plainly."""
        self._nonpositive = 0
        """Samples whose pace is <= 0: no log pace, and the change test is off while any is in the window."""
        self._change_samples = change_samples
        self._change_factor = change_factor
        self._change_sigmas = change_sigmas
        self._log_min_factor = math.log(min_factor)
        self._pace: float | None = None
        self._limit: float | None = None
        self._spread: tuple[float, float] | None = None
        """(median, robust sigma) of the window's paces; None when stale."""
        self._sums: tuple[float, float, float] | None = None
        """(clip level, clipped seconds, iterations): the window's plain sums as the change screen took them,
        reused by the pace while the window is unchanged; None when stale."""
        self.clipped_seconds = 0.0
        """Seconds above the clipping level seen in samples as they arrived (one-off hangs)."""
        self.clipped_samples = 0
        """How many samples were clipped."""
        self._clipped_squares = 0.0
        """Sum of the squared clipped seconds per hang (for ``hangs``)."""
        self._hang: float | None = None
        """Clipped seconds of the hang the latest samples are in (consecutive clipped samples are one hang: a
        printed time that is a mean over a window shows one stop in every line the window spans); None after an
        unclipped sample."""
        self._clips: deque[tuple[Sample, float, float]] = deque(maxlen=self._samples.maxlen)
        """The latest clipped samples, their clipped seconds and those of their hang before them, so a change point
        can take them back."""

    def __len__(self) -> int:
        return len(self._samples)

    @property
    def pace(self) -> float | None:
        """Clipped mean seconds per iteration, weighted by iterations; None while empty."""
        return self._pace

    @property
    def samples(self) -> tuple[Sample, ...]:
        return tuple(self._samples)

    @property
    def capacity(self) -> int:
        """The most samples the window holds (its memory bound)."""
        return self._samples.maxlen or 0

    def relative_sigma(self) -> float | None:
        """Robust spread of the per-sample pace relative to its median (noise of one sample)."""
        if len(self._samples) < 2:
            return None
        centre, sigma = self._pace_spread()
        return sigma / centre if centre > 0 else None

    @property
    def hangs(self) -> float:
        """How many hangs the clipped time amounts to, each counted by its size: (sum s)^2 / sum s^2 of the
        clipped seconds per hang (a run of consecutive clipped samples). One may be a one-off, several are a
        recurring cost; a 45 s stop among twenty-six clipped blips of a few milliseconds is one hang, not
        twenty-seven."""
        if self._clipped_squares <= 0:
            return 0.0
        return min(float(self.clipped_samples), self.clipped_seconds**2 / self._clipped_squares)

    def excess(self, sample: Sample) -> float:
        """Seconds of ``sample`` above the clipping level (what ``add`` would clip as a hang); 0 if none."""
        if self._limit is None or sample.pace <= self._limit:
            return 0.0
        return (sample.pace - self._limit) * sample.iterations

    def add(self, sample: Sample) -> ChangePoint | None:
        """Add a sample; returns the change point when the window restarted at a new pace."""
        if self._limit is not None and sample.pace > self._limit:
            clipped = (sample.pace - self._limit) * sample.iterations
            before = self._hang or 0.0
            self._hang = before + clipped
            self.clipped_seconds += clipped
            self.clipped_samples += 1
            self._clipped_squares += self._hang**2 - before**2
            self._clips.append((sample, clipped, before))
        else:
            self._hang = None
        self._push(sample)
        change = self._detect_change()
        self._refresh()
        return change

    def start_iteration(self) -> float | None:
        """Iteration at which the window's first sample began (the current segment's start)."""
        if not self._samples:
            return None
        first = self._samples[0]
        return first.end_iteration - first.iterations

    def reset(self) -> None:
        self._restart(())
        self._pace = None
        self._limit = None

    def _push(self, sample: Sample) -> None:
        if len(self._samples) == self._samples.maxlen:
            self._forget(self._samples[0])
            self._paces.popleft()
            self._weights.popleft()
            self._products.popleft()
        self._samples.append(sample)
        pace = sample.pace
        self._paces.append(pace)
        self._weights.append(sample.iterations)
        self._products.append(pace * sample.iterations)
        if not (math.isfinite(pace) and sample.iterations > 0):
            self._irregular += 1
        if math.isfinite(pace):
            insort(self._ordered, pace)
        if pace <= 0:
            self._nonpositive += 1
        elif math.isfinite(pace):
            insort(self._ordered_logs, math.log(pace))
        self._spread = None
        self._sums = None

    def _forget(self, sample: Sample) -> None:
        """Take an evicted sample out of the ordered views."""
        pace = sample.pace
        if not (math.isfinite(pace) and sample.iterations > 0):
            self._irregular -= 1
        if math.isfinite(pace):
            del self._ordered[bisect_left(self._ordered, pace)]
        if pace <= 0:
            self._nonpositive -= 1
        elif math.isfinite(pace):
            logs = self._ordered_logs
            del logs[bisect_left(logs, math.log(pace))]

    def _unclip(self, samples: list[Sample]) -> None:
        """Samples that open a new pace were slow because the pace changed, not hangs: take back their clipping,
        or a slow phase would also be counted as recurring hang time on top of its own pace."""
        opened = {id(sample) for sample in samples}
        kept: deque[tuple[Sample, float, float]] = deque(maxlen=self._clips.maxlen)
        for sample, clipped, before in reversed(self._clips):  # latest first: a hang is taken back from its end
            if id(sample) in opened:
                self.clipped_seconds -= clipped
                self.clipped_samples -= 1
                self._clipped_squares = max(0.0, self._clipped_squares - (before + clipped) ** 2 + before**2)
            else:
                kept.appendleft((sample, clipped, before))
        self._clips = kept
        self._hang = None

    def _restart(self, samples: tuple[Sample, ...] | list[Sample]) -> None:
        """Rebuild every view from ``samples`` (a change point or a reset: rare)."""
        self._samples = deque(maxlen=self._samples.maxlen)
        self._paces = deque()
        self._weights = deque()
        self._products = deque()
        self._ordered = []
        self._ordered_logs = []
        self._irregular = self._nonpositive = 0
        for sample in samples:
            self._push(sample)
        self._spread = None
        self._sums = None

    def _pace_spread(self) -> tuple[float, float]:
        """(median, robust sigma) of the window's paces, as ``robust.spread`` gives them (cached per window)."""
        if self._spread is None:
            if self._irregular:
                self._spread = spread(list(self._paces))
            else:
                self._spread = spread_sorted(self._ordered)
        return self._spread

    def _clip_level(self) -> float:
        """``robust.clip_limit`` of the window's paces."""
        centre, sigma = self._pace_spread()
        return centre + CLIP_SIGMAS * sigma

    def _clipped_products(self, limit: float) -> list[float] | deque[float]:
        """``min(pace, limit) x iterations`` per sample, in window order."""
        if not self._irregular and (not self._ordered or self._ordered[-1] <= limit):
            return self._products
        return list(map(mul, map(min, self._paces, repeat(limit)), self._weights))

    def _refresh(self) -> None:
        if not self._samples:
            self._pace = None
            self._limit = None
            return
        limit = self._clip_level()
        sums = self._sums
        if sums is not None and sums[0] == limit:
            total, total_w = sums[1], sums[2]
        else:
            total_w = sum(self._weights)
            total = sum(self._clipped_products(limit))
        self._pace = total / total_w
        self._limit = limit if len(self._samples) >= 3 else None

    def _detect_change(self) -> ChangePoint | None:
        """Test the most recent m samples (m = k, 2k, 4k, ...) against the samples before them.

        Short tests catch large shifts within a few lines, long ones catch modest shifts that sample noise
        hides: the threshold is ``change_sigmas`` standard errors of the log-pace difference, and never
        below ``change_factor`` for the shortest test (which also needs every sample on the same side) or
        ``min_factor`` for the longer ones. All means clip at one level computed once, with prefix sums.

        A cheap screen (plain C-speed sums, O(log window) statistics) settles almost every sample: only when
        some test fires or lands within rounding distance of its threshold are the exact left-to-right prefix
        sums computed, so every decision and every figure is the one the prefix sums give.
        """
        k = self._change_samples
        n = len(self._samples)
        if n < 2 * k or self._nonpositive:
            return None
        if self._irregular:
            paces = list(self._paces)
            limit = clip_limit(paces)
            sigma = robust_sigma([math.log(p) for p in paces], floor_ratio=0.0)
            return self._change(limit, sigma)
        limit = self._clip_level()
        if self._may_change(limit):
            return self._change(limit, self._log_sigma())
        return None

    def _log_sigma(self) -> float:
        """Robust sigma of the log paces (no floor): the change tests' noise scale, for a regular window."""
        return spread_sorted(self._ordered_logs, floor_ratio=0.0)[1]

    def _thresholds(self, m: int, split: int, sigma: float) -> float:
        """The log-shift a test of the last ``m`` samples must exceed (m > k)."""
        error = sigma * math.sqrt(1 / m + 1 / split)
        return max(self._log_min_factor, self._change_sigmas * error)

    def _may_change(self, limit: float) -> bool:
        """False when no test can fire: each one clears its threshold by more than the rounding error of
        either way of summing (all terms are positive, so sums of N terms are within N ulps relative, in any
        order: the recent sums read the window backwards, chunk by chunk, without copying it).

        A threshold is never below log(min_factor), so a shift clearly under that settles its test without
        the noise scale: the log-pace spread is computed only for a test that comes close to it.
        """
        sigma: float | None = None
        k = self._change_samples
        n = len(self._samples)
        if 2 * k > n:
            return False
        products = self._clipped_products(limit)
        weights = self._weights
        total = sum(products)
        total_w = sum(weights)
        self._sums = (limit, total, total_w)
        newest = reversed(products)
        newest_w = reversed(weights)
        recent = sum(islice(newest, k))
        recent_w = sum(islice(newest_w, k))
        old_seconds = total - recent
        old_w = total_w - recent_w
        if old_seconds <= 0 or recent <= 0 or old_w <= 0 or recent_w <= 0:
            return True
        # Relative error bound of either computation of old and new, with a wide safety factor.
        slack = 16 * n * _ULP * (total / old_seconds + total / recent + total_w / old_w + total_w / recent_w)
        old = old_seconds / old_w
        # Every ratio pace / old is one of these two or between them (division by old > 0 keeps the order).
        last = list(islice(reversed(self._paces), k))
        factor = self._change_factor
        if not (max(last) / old > (1 + slack) / factor and min(last) / old < factor * (1 - slack)):
            return True
        done = k
        m = 2 * k
        while 2 * m <= n:
            recent += sum(islice(newest, m - done))
            recent_w += sum(islice(newest_w, m - done))
            done = m
            old_seconds = total - recent
            old_w = total_w - recent_w
            if old_seconds <= 0 or recent <= 0 or old_w <= 0 or recent_w <= 0:
                return True
            slack = 16 * n * _ULP * (total / old_seconds + total / recent + total_w / old_w + total_w / recent_w)
            shift = abs(math.log((recent / recent_w) / (old_seconds / old_w)))
            if shift >= self._log_min_factor - 2 * slack:
                if sigma is None:
                    sigma = self._log_sigma()
                if shift >= self._thresholds(m, n - m, sigma) - 2 * slack:
                    return True
            m *= 2
        return False

    def _change(self, limit: float, sigma: float) -> ChangePoint | None:
        """The tests with exact prefix sums; restarts the window at the first one that fires."""
        k = self._change_samples
        n = len(self._samples)
        paces = self._paces
        seconds = list(accumulate(self._clipped_products(limit), initial=0.0))
        iterations = list(accumulate(self._weights, initial=0.0))
        m = k
        while 2 * m <= n:
            split = n - m
            old = seconds[split] / iterations[split]
            new = (seconds[n] - seconds[split]) / (iterations[n] - iterations[split])
            shift = math.log(new / old)
            if m == k:
                ratios = [paces[i] / old for i in range(split, n)]
                found = all(r > self._change_factor for r in ratios) or all(
                    r < 1 / self._change_factor for r in ratios
                )
            else:
                found = abs(shift) > self._thresholds(m, split, sigma)
            if found:
                samples = list(self._samples)
                recent = samples[split:]
                dropped = samples[:split]
                self._restart(recent)
                self._unclip(recent)
                first = recent[0]
                # Report the new pace unclipped: the clipping level belonged to the old pace.
                new = sum(s.seconds for s in recent) / sum(s.iterations for s in recent)
                return ChangePoint(
                    new / old,
                    first.end_iteration,
                    first.end_time,
                    old,
                    new,
                    sum(s.iterations for s in dropped),
                    sum(s.seconds for s in dropped),
                )
            m *= 2
        return None
