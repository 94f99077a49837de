"""Periodic overhead (eval, checkpoint): where it recurs, what one occurrence costs, how many remain.

The schedule comes from the trainer's own lines (Eval/Checkpoint events), an echoed ``eval_interval``, or
spikes that recur at a fixed iteration period. Its cost is measured per occurrence and added back for each
remaining occurrence instead of being smeared into the pace (or, worse, counted once per logged iteration).
"""

from __future__ import annotations

from collections import deque

from exporter.estimate.robust import clipped_mean, median


class PeriodicOverhead:
    """Schedule and per-occurrence cost of recurring eval/checkpoint work within one run."""

    def __init__(self, *, min_detected: int = 3, max_spikes: int = 64, max_costs: int = 32) -> None:
        self._min_detected = min_detected
        self.configured_interval: int | None = None
        """``eval_interval`` echoed by the trainer's config, when known."""
        self._tagged: list[int] = []
        self._spikes: deque[tuple[int, int]] = deque(maxlen=max_spikes)
        self._detected: tuple[int, int] | None = None
        self._costs: deque[float] = deque(maxlen=max_costs)

    @property
    def interval(self) -> int | None:
        """Iterations between occurrences: configured, else inferred from tagged lines, else detected spikes."""
        if self.configured_interval:
            return self.configured_interval
        if len(self._tagged) >= 2:
            diffs = [b - a for a, b in zip(self._tagged, self._tagged[1:]) if b > a]
            if diffs:
                return max(1, round(median(diffs)))
        return self._detected[0] if self._detected else None

    @property
    def anchor(self) -> int:
        """An iteration at which an occurrence happened (the schedule's phase)."""
        if self.configured_interval:
            return 0
        if self._tagged:
            return self._tagged[-1]
        return self._detected[1] if self._detected else 0

    @property
    def cost(self) -> float | None:
        """Mean extra seconds of one occurrence beyond normal iterations (clipped against one-off hangs)."""
        return clipped_mean(list(self._costs)) if self._costs else None

    @property
    def occurrences(self) -> int:
        return len(self._costs)

    def tag(self, iteration: int) -> None:
        """The trainer said an eval/checkpoint happens at ``iteration`` (several lines may name the same one)."""
        if not self._tagged or self._tagged[-1] != iteration:
            self._tagged.append(iteration)
            del self._tagged[:-16]

    def add_cost(self, seconds: float) -> None:
        self._costs.append(max(0.0, seconds))

    def due_between(self, start: int, end: int, *, tolerance: int = 0) -> bool:
        """Whether an occurrence falls in (start - tolerance, end]."""
        return self.remaining(start - tolerance, end) > 0

    def remaining(self, iteration: int, total: int) -> int:
        """Occurrences in (iteration, total] on the known schedule; 0 when none is known."""
        period = self.interval
        if not period or total <= iteration:
            return 0
        anchor = self.anchor
        return (total - anchor) // period - (iteration - anchor) // period

    def spike(self, iteration: int, *, step: int, sample_index: int) -> bool:
        """Record an untagged spike ending at ``iteration``; True when it recurs at a fixed period.

        ``step`` is the usual logging gap: a spike may show one logged line after the occurrence it stands
        for, and the period must span several lines. ``sample_index`` counts samples so far: the spikes in
        phase must be a minority of the samples they span (a slow phase makes every line a spike, which is a
        change of pace, not an eval).
        """
        if self.configured_interval or self._tagged:
            return False  # the trainer states its schedule: a spike off it is a hang or a new pace
        self._spikes.append((iteration, sample_index))
        if self._detected:
            period, last = self._detected
            if iteration - last > period - step and _near_multiple(iteration - last, period, step):
                self._detected = (period, iteration)
                return True
        earlier = list(self._spikes)[:-1]
        for period in sorted({iteration - it for it, _ in earlier if iteration - it >= 3 * max(step, 1)}):
            phase = [(it, idx) for it, idx in earlier if _near_multiple(iteration - it, period, step)]
            if len(phase) + 1 < self._min_detected:
                continue
            span = sample_index - phase[0][1]
            if 2 * (len(phase) + 1) <= span:
                self._detected = (period, iteration)
                return True
        return False


def _near_multiple(offset: int, period: int, step: int) -> bool:
    """Whether ``offset`` is a whole number of periods, give or take less than one logging step (the line that
    shows an occurrence may be the first one logged after it)."""
    rest = offset % period
    return rest < step or period - rest < step
