"""The run's reference pace (frozen after an initial period) and the persistence rule for regressions."""

from __future__ import annotations

from exporter.estimate.robust import median


class Baseline:
    """The run's reference pace: provisional soon after warm-up, then frozen.

    Provisional once ``provisional_samples`` samples were seen, or ``provisional_seconds`` of wall time with at
    least ``min_provisional`` samples: the median of the windowed pace so far, updated as samples come, so that
    ``pace_ratio`` (and a regression) exists minutes before the baseline is firm. Frozen after ``max_samples``
    samples, or after ``min_seconds`` of wall time once at least ``min_samples`` samples were seen (without
    record times only the sample counts apply). A median of the *windowed* pace (already a mean) is robust to
    the odd slow stretch during that period.
    """

    def __init__(
        self,
        *,
        min_seconds: float = 300.0,
        min_samples: int = 20,
        max_samples: int = 200,
        provisional_seconds: float = 60.0,
        provisional_samples: int = 50,
        min_provisional: int = 5,
    ) -> None:
        self._min_seconds = min_seconds
        self._min_samples = min_samples
        self._max_samples = max_samples
        self._provisional_seconds = provisional_seconds
        self._provisional_samples = provisional_samples
        self._min_provisional = min_provisional
        self._values: list[float] = []
        self._start: float | None = None
        self._elapsed: float | None = None
        self._frozen: float | None = None
        self._median: tuple[int, float] | None = None
        """(samples, median) of the provisional values, cached until the next sample."""

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    @property
    def value(self) -> float | None:
        """The baseline seconds per iteration: frozen, else provisional, else None."""
        if self._frozen is not None:
            return self._frozen
        n = len(self._values)
        provisional = n >= self._provisional_samples or (
            n >= self._min_provisional and self._elapsed is not None and self._elapsed >= self._provisional_seconds
        )
        if not provisional:
            return None
        if self._median is None or self._median[0] != n:
            self._median = (n, median(self._values))
        return self._median[1]

    def add(self, pace: float, time: float | None) -> None:
        """Offer the current windowed pace after a sample."""
        if self._frozen is not None:
            return
        if self._start is None and time is not None:
            self._start = time
        self._values.append(pace)
        n = len(self._values)
        self._elapsed = (time - self._start) if (time is not None and self._start is not None) else None
        elapsed = self._elapsed
        if n >= self._max_samples or (n >= self._min_samples and elapsed is not None and elapsed >= self._min_seconds):
            self._frozen = median(self._values)
            self._values = []


class Regression:
    """``pace_ratio`` above ``threshold`` for at least ``persist_seconds`` (or ``persist_samples`` samples
    when record times are unknown) means regressed; one slow window is not enough."""

    def __init__(self, *, threshold: float = 1.25, persist_seconds: float = 60.0, persist_samples: int = 10) -> None:
        self.threshold = threshold
        self._persist_seconds = persist_seconds
        self._persist_samples = persist_samples
        self._since_time: float | None = None
        self._since_samples = 0
        self._above = False

    def update(self, ratio: float | None, time: float | None) -> None:
        if ratio is None or ratio <= self.threshold:
            self._above = False
            self._since_time = None
            self._since_samples = 0
            return
        if not self._above:
            self._above = True
            self._since_time = time
            self._since_samples = 0
        self._since_samples += 1

    def regressed(self, now: float | None) -> bool:
        if not self._above:
            return False
        if self._since_time is not None and now is not None:
            return now - self._since_time >= self._persist_seconds
        return self._since_samples >= self._persist_samples
