"""On a long run, consecutive unremarkable progress lines are taken as one sample.

Every sample costs the whole analysis (change tests, schedule, baseline, calibration: tens of µs), so a run that
logs every iteration for days would be analysed millions of times, and a sidecar catching up on its history
would take minutes. The first ``COALESCE_AFTER`` lines of a run are one sample each; after that the lines per
sample double each time the run's line count doubles, so a run of n lines is analysed about
``COALESCE_AFTER x (1 + log2(n / COALESCE_AFTER) / 2)`` times (22 k samples for 2 M lines).

A sample never spans more than ``MAX_SAMPLE_SECONDS``, so a followed run is followed as closely as before,
and a remarkable line (warm-up, an eval/checkpoint tag or one due, a spike) is always a sample of its own: hangs,
periodic work and warm-up are measured exactly as with one sample per line. Which lines are taken together
depends only on the log's content, never on when estimates are read.
"""

from __future__ import annotations

from dataclasses import dataclass

COALESCE_AFTER = 4096
"""Lines of a run taken one sample each (every real run of the ETA corpus but the longest stays below it)."""
MAX_SAMPLE_SECONDS = 5.0
"""A sample closes once it spans this long, however few lines it holds: a followed run's pace moves every few
seconds as before (and a 2 M-line history at 80 ms per line is still only ~35 k samples)."""


def lines_per_sample(lines: int) -> int:
    """Lines one sample takes once the run has logged ``lines`` progress lines: 1, then 2, 4, 8, ..."""
    return 1 << (lines // COALESCE_AFTER).bit_length()


@dataclass(slots=True)
class Pending:
    """Lines taken into the sample that is still open.

    With record times the sample runs from the estimator's anchor to the latest line, so only the count is
    kept; with printed times it is the sum of the lines' printed iterations and seconds.
    """

    lines: int = 0
    timed: bool = False
    """Whether the lines have record times."""
    iterations: float = 0.0
    seconds: float = 0.0
    span: float = 0.0
    """Iterations since the sample's start (the logging gaps added up)."""

    def add(self, iterations: float, seconds: float, span: float, *, timed: bool) -> None:
        self.lines += 1
        self.timed = timed
        self.iterations += iterations
        self.seconds += seconds
        self.span += span

    def full(self, run_lines: int) -> bool:
        """Whether the open sample holds the lines one sample takes after ``run_lines`` lines, or spans
        ``MAX_SAMPLE_SECONDS``."""
        return self.lines >= lines_per_sample(run_lines) or self.seconds >= MAX_SAMPLE_SECONDS

    def clear(self) -> None:
        self.lines = 0
        self.iterations = self.seconds = self.span = 0.0
