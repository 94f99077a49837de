"""The plain state types a scrape reads: one run's (with its ranks) and the GPU collector's.

The runtime fills them; the collector (``metrics``), the page and the HTTP server only read them, so they import
this module and not the threaded runtime.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from exporter.diagnosis import Diagnosis
from exporter.estimate.model import Estimate
from exporter.estimate.phases import TimeSplit
from exporter.gpu.snapshot import GpuSnapshot


@dataclass(frozen=True, slots=True)
class RankState:
    """One of several streams of progress that advance together in one run: a rank tag inside a file
    (``[rank3]:``) or one file of a glob of per-rank files."""

    rank: str
    """``3`` for a rank tag, the file's path for a file of a glob."""
    iteration: int | None
    seconds_per_iteration: float | None
    eta_seconds: float | None


def straggler_ratio(ranks: tuple[RankState, ...]) -> float | None:
    """The slowest rank's pace over the median rank's (1.0: all even); None with fewer than two paces."""
    paces = [r.seconds_per_iteration for r in ranks if r.seconds_per_iteration]
    if len(paces) < 2:
        return None
    return max(paces) / statistics.median(paces)


@dataclass(frozen=True, slots=True)
class RunState:
    """What a scrape reports about one run; a consistent copy taken under the worker's lock."""

    run: str
    source: str
    format: str = ""
    estimate: Estimate = field(default_factory=Estimate)
    diagnosis: Diagnosis | None = None
    time_split: TimeSplit | None = None
    """Where the current run's wall time went (refreshed every ``TIME_SPLIT_SECONDS``)."""
    pace_history: tuple[tuple[float, float], ...] = ()
    """(time, seconds per iteration of normal work) over the current run, at most ``PACE_POINTS`` points (for
    the status page's plot; refreshed with the time split)."""
    deadline_timestamp_seconds: float | None = None
    records_read: int = 0
    records_parsed: int = 0
    records_unparsed: int = 0
    oversized_records: int = 0
    rotations: int = 0
    truncations: int = 0
    read_errors: int = 0
    errors: tuple[tuple[str, int], ...] = ()
    """(stage, count) of what went wrong and was skipped: ``parse`` (a parser raised on a record), ``check`` (an event
    with an out-of-range counter), ``poll`` (a poll that failed as a whole)."""
    files: int = 0
    up: bool = False
    """True when the latest poll worked (source open and read without an unexpected error)."""
    log_readable: bool = True
    """False while the log exists but cannot be read (permissions, a directory, an I/O error)."""
    catching_up: bool = False
    """True while the source has more history already written than it has read (a restart beside a long log)."""
    status: str = ""
    """What stands between the run and an estimate, in words ("waiting for …", "cannot read …", "no progress line
    recognised …"); empty once progress lines are read."""
    last_success_timestamp_seconds: float | None = None
    error: str = ""
    ranks: tuple[RankState, ...] = ()
    """The streams that advance together (two or more ranks or per-rank files), leader first; empty otherwise."""

    @property
    def straggler_ratio(self) -> float | None:
        return straggler_ratio(self.ranks)


@dataclass(frozen=True, slots=True)
class GpuState:
    """What a scrape reports about the GPU collector."""

    up: bool
    last_success_timestamp_seconds: float | None
    snapshots: tuple[GpuSnapshot, ...]
    errors: dict[str, int]
    down_reason: str | None = None
    utilization_history: tuple[tuple[float, float], ...] = ()
    """(time, mean busy ratio over the GPUs) per poll, recent polls (for the status page's plot)."""


def status_words(log: str, format: str | None, *, error: str | None, files: int, iteration: int | None, records: int,
                 behind: bool) -> str:
    """What stands between a run and a current estimate, in words (``RunState.status``); empty when nothing does."""
    if error is not None:
        return f"cannot read {error}"
    if behind:
        return f"catching up on the log's history ({records:,} records read so far): the figures are not current yet"
    if files == 0 and iteration is None:
        return f"waiting for {log} to appear"
    if iteration is None:
        if records == 0:
            return f"{log} has no records yet"
        return f"no progress line recognised in {records} records (tried: {format or 'every known format'})"
    return ""
