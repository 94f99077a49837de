"""The run's history after warm-up, compact and bounded: where it was, when, and what its pace was then.

One point per sample (a progress line after warm-up): the iteration it ended at, the run's clock there, the
cumulative seconds of normal work (everything but the measured extra cost of evals/checkpoints: hangs and slow
phases stay in, they are what the run really spent), and the windowed pace the estimator reported at that
moment. Cumulative figures make the pace over any stretch two subtractions, so the candidates of
``candidates.py`` can be asked what they would have said at any past point, in O(log n).

Memory is bounded by halving: when full, every other point is dropped (the first and the newest are kept).
Cumulative figures stay exact at the points that remain; only the resolution of old history coarsens, the way
a long run's early minutes matter less to its future.
"""

from __future__ import annotations

from bisect import bisect_right

CAPACITY = 4096
"""Points kept at most (a few hundred KiB): halved when reached."""


class Timeline:
    def __init__(self, *, capacity: int = CAPACITY) -> None:
        self._capacity = max(8, capacity)
        self.iteration: list[float] = []
        self.clock: list[float] = []
        self.normal: list[float] = []
        """Cumulative seconds of normal work since the first point."""
        self.overhead: list[float] = []
        """Cumulative extra seconds of evals/checkpoints since the first point (the clock's remainder beyond
        normal work and overhead is hangs)."""
        self.window: list[float] = []
        """The windowed pace (seconds per iteration) reported after the point's sample; the origin repeats the
        first sample's."""

    def __len__(self) -> int:
        return len(self.iteration)

    def add(self, *, start_iteration: float, end_iteration: float, clock: float, seconds: float,
            normal_seconds: float, overhead_seconds: float = 0.0, window_pace: float) -> None:
        """One sample of ``seconds`` over (start_iteration, end_iteration], ending at ``clock``."""
        if not self.iteration:
            self._append(start_iteration, clock - seconds, 0.0, 0.0, window_pace)
        if len(self.iteration) >= self._capacity:
            self._halve()
        self._append(end_iteration, clock, self.normal[-1] + max(0.0, normal_seconds),
                     self.overhead[-1] + max(0.0, overhead_seconds), window_pace)

    def drop_before(self, iteration: float) -> None:
        """Forget the points before ``iteration`` (they turned out to be warm-up); the rest keep their sums."""
        start = bisect_right(self.iteration, iteration) - 1
        if start <= 0:
            return
        base, extra = self.normal[start], self.overhead[start]
        self.iteration = self.iteration[start:]
        self.clock = self.clock[start:]
        self.normal = [n - base for n in self.normal[start:]]
        self.overhead = [n - extra for n in self.overhead[start:]]
        self.window = self.window[start:]

    def index_at_or_before(self, iteration: float) -> int:
        """The last point at or before ``iteration`` (0 when none is)."""
        return max(0, bisect_right(self.iteration, iteration) - 1)

    def index_at_or_before_clock(self, clock: float, upto: int) -> int:
        """The last point among the first ``upto + 1`` whose clock is at or before ``clock`` (0 when none is)."""
        return max(0, bisect_right(self.clock, clock, 0, upto + 1) - 1)

    def pace(self, start: int, end: int) -> float | None:
        """Seconds of normal work per iteration between two points; None for an empty stretch."""
        iterations = self.iteration[end] - self.iteration[start]
        if iterations <= 0:
            return None
        return (self.normal[end] - self.normal[start]) / iterations

    def _append(self, iteration: float, clock: float, normal: float, overhead: float, window: float) -> None:
        self.iteration.append(iteration)
        self.clock.append(clock)
        self.normal.append(normal)
        self.overhead.append(overhead)
        self.window.append(window)

    def _halve(self) -> None:
        keep = list(range(0, len(self.iteration), 2))
        if keep[-1] != len(self.iteration) - 1:
            keep.append(len(self.iteration) - 1)
        self.iteration = [self.iteration[i] for i in keep]
        self.clock = [self.clock[i] for i in keep]
        self.normal = [self.normal[i] for i in keep]
        self.overhead = [self.overhead[i] for i in keep]
        self.window = [self.window[i] for i in keep]
