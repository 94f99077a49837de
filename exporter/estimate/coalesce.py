"""On a long run, consecutive unremarkable progress lines are taken as one sample.

Every sample costs the whole analysis (change tests, schedule, baseline, calibration: tens of µs), so a run that
logs every iteration for days would be analysed millions of times, and a sidecar catching up on its history
would take minutes. The first ``COALESCE_AFTER`` lines of a run are one sample each; after that the lines per
sample double each time the run's line count doubles (about ``COALESCE_AFTER / 2`` samples per doubling), up to
what a second of record times or 20 s of printed ones hold: a 2 M-line nanoGPT history at 80 ms per line, with an
eval every 250 lines, is analysed 18 k times (52 k with 4096 lines one sample each and 5 s samples).

A followed run is thus followed as closely as before, and a remarkable line (warm-up, an eval/checkpoint tag or
one due, a spike) is always a sample of its own: hangs, periodic work and warm-up are measured exactly as with one
sample per line. Which lines are taken together depends only on the log's content (and, live, on the arrival
times it records), never on when estimates are read.
"""

from __future__ import annotations

from dataclasses import dataclass

COALESCE_AFTER = 512
"""Lines of a run taken one sample each. Chosen on the dev half of the ETA corpus (``benchmarks/eta_tune.py`` with
4096 / 2048 / 1024 / 512 / 256 / 128: dev mean MAPE 19.4 / 19.3 / 19.4 / 19.1 / 19.2 / 20.6 %; the README): pairs of
lines and longer samples average out the noise of single lines, while a run's first hundreds of lines, warm-up
included, are still read one by one."""
MAX_SAMPLE_SECONDS = 20.0
"""A sample of printed times (history read after the fact) closes once it spans this long, however few lines it
holds (250 lines at 80 ms per line): an hour of history is still 180 samples or more. No run of the ETA corpus
reaches it (its figures are the same with 5 s); it bounds how often a long history is analysed."""
MAX_TIMED_SAMPLE_SECONDS = 1.0
"""The same for record times: a followed run's pace moves within seconds, as with one sample per line (lines
read in one poll share their time, so a followed run makes at most a few samples a second whatever it logs)."""


def lines_per_sample(lines: int) -> int:
    """Lines one sample takes once the run has logged ``lines`` progress lines: 1, then 2, 4, 8, ..."""
    return 1 << (lines // COALESCE_AFTER).bit_length()


@dataclass(slots=True)
class Pending:
    """Lines taken into the sample that is still open.

    With record times the sample runs from the estimator's anchor to the latest line (the sums only bound its
    length); with printed times it is the sum of the lines' printed iterations and seconds.
    """

    lines: int = 0
    """Lines taken (with record times, lines that arrived together count once)."""
    timed: bool = False
    """Whether the lines have record times."""
    iterations: float = 0.0
    seconds: float = 0.0
    span: float = 0.0
    """Iterations since the sample's start (the logging gaps added up)."""
    end_iteration: int = 0
    end_time: float | None = None
    """The latest line taken: where the open sample ends so far."""

    def add(self, iterations: float, seconds: float, span: float, *, timed: bool, iteration: int,
            time: float | None) -> None:
        self.lines += 1
        self.timed = timed
        self.end_iteration, self.end_time = iteration, time
        self.iterations += iterations
        self.seconds += seconds
        self.span += span

    def full(self, run_lines: int) -> bool:
        """Whether the open sample holds the lines one sample takes after ``run_lines`` lines, or spans its
        longest (``MAX_TIMED_SAMPLE_SECONDS`` with record times, else ``MAX_SAMPLE_SECONDS``)."""
        limit = MAX_TIMED_SAMPLE_SECONDS if self.timed else MAX_SAMPLE_SECONDS
        return self.lines >= lines_per_sample(run_lines) or self.seconds >= limit

    def clear(self) -> None:
        self.lines = 0
        self.iterations = self.seconds = self.span = 0.0
