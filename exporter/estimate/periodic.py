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

    def __init__(self, *, min_detected: int = 3, max_recent: int = 512, max_costs: int = 32) -> None:
        self._min_detected = min_detected
        self.configured_interval: int | None = None
        """``eval_interval`` echoed by the trainer's config, when known."""
        self._tagged: list[int] = []
        self._recent: deque[tuple[int, bool]] = deque(maxlen=max_recent)
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

    def sample(self, iteration: int, *, spike: bool, step: int) -> bool:
        """Record a sample ending at ``iteration`` (``spike``: much slower than the pace); True when it is a
        spike on a detected schedule (its cost then belongs to the schedule, not to the pace).

        Only used when the trainer states no schedule. A period is accepted when, over the last
        ``min_detected`` periods, at least that many lines on its phase are spikes, at least 3 in 4 of the lines
        on its phase are spikes, and at most 1 in 10 of the other lines are: random jitter hits every phase
        alike, a slow phase makes every line a spike (a change of pace), an eval hits one phase only. ``step``
        is the usual logging gap: the line showing an occurrence may come up to one gap after it.
        """
        self._recent.append((iteration, spike))
        if not spike or self.configured_interval or self._tagged:
            return False
        if self._detected:
            period, last = self._detected
            if iteration - last > period - step and _near_multiple(iteration - last, period, step):
                self._detected = (period, iteration)
                return True
        spikes = [it for it, flag in self._recent if flag and it < iteration][-8:]
        for period in sorted({iteration - it for it in spikes if iteration - it >= 3 * max(step, 1)}):
            since = iteration - self._min_detected * period
            on_total = on_spikes = off_total = off_spikes = 0
            for it, flag in self._recent:
                if it <= since:
                    continue
                if _near_multiple(iteration - it, period, step):
                    on_total += 1
                    on_spikes += flag
                else:
                    off_total += 1
                    off_spikes += flag
            if (
                on_spikes >= self._min_detected
                and 4 * on_spikes >= 3 * on_total
                and 10 * off_spikes <= off_total
                and off_total >= on_total
            ):
                self._detected = (period, iteration)
                return True
        return False


def _near_multiple(offset: int, period: int, step: int) -> bool:
    """Whether ``offset`` is a whole number of periods, give or take less than one logging step (the line that
    shows an occurrence may be the first one logged after it)."""
    rest = offset % period
    return rest < step or period - rest < step
