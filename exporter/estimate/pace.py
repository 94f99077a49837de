"""Pace of normal iterations: a window of samples since the latest change point, averaged robustly."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from exporter.estimate.robust import clip_limit, clipped_mean, median, robust_sigma


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

    @property
    def pace(self) -> float:
        return self.seconds / self.iterations


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
        self._change_samples = change_samples
        self._change_factor = change_factor
        self._min_factor = min_factor
        self._change_sigmas = change_sigmas
        self._pace: float | None = None
        self._limit: float | None = None
        self.clipped_seconds = 0.0
        """Seconds above the clipping level seen in samples as they arrived (one-off hangs)."""
        self.clipped_samples = 0
        """How many samples were clipped: one may be a one-off, several are a recurring cost."""

    def __len__(self) -> int:
        return len(self._samples)

    @property
    def pace(self) -> float | None:
        """Clipped mean seconds per iteration, weighted by iterations; None while empty."""
        return self._pace

    @property
    def samples(self) -> tuple[Sample, ...]:
        return tuple(self._samples)

    def relative_sigma(self) -> float | None:
        """Robust spread of the per-sample pace relative to its median (noise of one sample)."""
        if len(self._samples) < 2:
            return None
        paces = [s.pace for s in self._samples]
        centre = median(paces)
        return robust_sigma(paces) / centre if centre > 0 else None

    def typical_sample(self) -> tuple[float, float]:
        """Median (iterations, seconds) of one sample: the expected logging step and its duration."""
        return (median([s.iterations for s in self._samples]), median([s.seconds for s in self._samples]))

    def add(self, sample: Sample) -> ChangePoint | None:
        """Add a sample; returns the change point when the window restarted at a new pace."""
        if self._limit is not None and sample.pace > self._limit:
            self.clipped_seconds += (sample.pace - self._limit) * sample.iterations
            self.clipped_samples += 1
        self._samples.append(sample)
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
        self._samples.clear()
        self._pace = None
        self._limit = None

    def _refresh(self) -> None:
        paces = [s.pace for s in self._samples]
        weights = [s.iterations for s in self._samples]
        self._pace = clipped_mean(paces, weights) if paces else None
        self._limit = clip_limit(paces) if len(paces) >= 3 else None

    def _detect_change(self) -> ChangePoint | None:
        """Test the most recent m samples (m = k, 2k, 4k, ...) against the samples before them.

        Short tests catch large shifts within a few lines, long ones catch modest shifts that sample noise
        hides: the threshold is ``change_sigmas`` standard errors of the log-pace difference, and never
        below ``change_factor`` for the shortest test (which also needs every sample on the same side) or
        ``min_factor`` for the longer ones. All means clip at one level computed once, with prefix sums, so a
        sample costs O(window).
        """
        samples = list(self._samples)
        k = self._change_samples
        n = len(samples)
        if n < 2 * k or any(s.pace <= 0 for s in samples):
            return None
        paces = [s.pace for s in samples]
        limit = clip_limit(paces)
        sigma = robust_sigma([math.log(p) for p in paces], floor_ratio=0.0)
        seconds = [0.0]
        iterations = [0.0]
        for s in samples:
            seconds.append(seconds[-1] + min(s.pace, limit) * s.iterations)
            iterations.append(iterations[-1] + s.iterations)
        m = k
        while 2 * m <= n:
            split = n - m
            old = seconds[split] / iterations[split]
            new = (seconds[n] - seconds[split]) / (iterations[n] - iterations[split])
            shift = math.log(new / old)
            if m == k:
                ratios = [p / old for p in paces[split:]]
                found = all(r > self._change_factor for r in ratios) or all(
                    r < 1 / self._change_factor for r in ratios
                )
            else:
                error = sigma * math.sqrt(1 / m + 1 / split)
                found = abs(shift) > max(math.log(self._min_factor), self._change_sigmas * error)
            if found:
                recent = samples[split:]
                dropped = samples[:split]
                self._samples = deque(recent, maxlen=self._samples.maxlen)
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
