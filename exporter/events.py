"""Typed events that format parsers produce from log records.

Every stage after parsing (estimator, metrics, report) consumes only these plain dataclasses, so a new trainer
family needs a parser and nothing else. Fields a line does not reveal stay ``None``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(slots=True)
class _Stamped:
    """Where an event came from; filled in by the pipeline, not by parsers."""

    time: float | None = dataclasses.field(default=None, kw_only=True)
    """Record time in Unix seconds (timestamp prefix, container time, live arrival time) or None if unknown."""
    record: int = dataclasses.field(default=0, kw_only=True)
    """1-based index of the record in its input."""
    format: str = dataclasses.field(default="", kw_only=True)
    """Name of the format family that understood the record."""
    rank: int | None = dataclasses.field(default=None, kw_only=True)
    """The process rank a launcher tag put in front of the record (``[rank3]:``), None without a tag: ranks
    interleaved in one file are separate streams of progress."""


@dataclass(slots=True)
class Progress(_Stamped):
    """One training-progress line: the trainer reached ``iteration``."""

    kind: ClassVar[str] = "progress"
    iteration: int
    """The counter as the trainer prints it (per epoch for per-epoch bars)."""
    total_iterations: int | None = None
    """Total the line itself states (per epoch when ``batches_per_epoch`` is set)."""
    iteration_seconds: float | None = None
    """Wall seconds of one iteration as printed (tqdm: the rate inverted)."""
    data_seconds: float | None = None
    """Data-loading seconds of one iteration as printed (mmengine ``data_time``, timm ``Data:``)."""
    loss: float | None = None
    """Training loss; NaN/inf kept as such so they can be reported."""
    tokens_per_second: float | None = None
    mfu: float | None = None
    """Model FLOPs utilisation as a ratio 0-1; None when the trainer says it is unknown."""
    epoch: int | None = None
    """0-based epoch index for per-epoch counters."""
    total_epochs: int | None = None
    batches_per_epoch: int | None = None
    averaged_over: int | None = None
    """When ``iteration_seconds`` is a mean over the last N iterations (Megatron), N; else None."""

    @property
    def global_iteration(self) -> int:
        """Iteration counted from the run's start: epoch x batches per epoch + batch for per-epoch counters."""
        if self.epoch is not None and self.batches_per_epoch:
            return self.epoch * self.batches_per_epoch + self.iteration
        return self.iteration

    @property
    def global_total(self) -> int | None:
        """Total iterations of the whole run, when known from the line itself."""
        if self.batches_per_epoch and self.total_epochs:
            return self.total_epochs * self.batches_per_epoch
        if self.batches_per_epoch:
            return None
        return self.total_iterations


@dataclass(slots=True)
class Eval(_Stamped):
    """An evaluation (validation) happened or is happening at ``iteration``."""

    kind: ClassVar[str] = "eval"
    iteration: int | None = None
    loss: float | None = None
    """Validation loss when printed."""
    done: bool = True
    """False while an eval progress bar is still running."""
    seconds: float | None = None
    """Wall seconds the finished evaluation took, where the log prints it (HF ``eval_runtime``, MetricLogger's
    ``Test: Total time``, a completed Lightning validation bar): what a log without record times says of its cost."""


@dataclass(slots=True)
class Checkpoint(_Stamped):
    """The trainer saved (or started saving) a checkpoint."""

    kind: ClassVar[str] = "checkpoint"
    iteration: int | None = None
    path: str | None = None


@dataclass(slots=True)
class Config(_Stamped):
    """Run configuration the log reveals (echoed config, startup lines)."""

    kind: ClassVar[str] = "config"
    total_iterations: int | None = None
    eval_interval: int | None = None
    log_interval: int | None = None
    total_epochs: int | None = None
    batches_per_epoch: int | None = None
    new_run: bool = False
    """True for a config header that starts a new run (a restarted or resumed trainer prints it again)."""


@dataclass(slots=True)
class Failure(_Stamped):
    """The trainer printed an exception it did not catch (the last line of a Python traceback)."""

    kind: ClassVar[str] = "failure"
    message: str = ""
    """``ExceptionType: message`` as printed (cut at ``formats.failures.MESSAGE_CHARS``)."""


Event = Progress | Eval | Checkpoint | Config | Failure


@dataclass(slots=True)
class ProgressColumns:
    """Consecutive plain progress lines of one source, read at once (``Pipeline.feed_many``): what the estimator
    reads of each line as columns, and the last line whole.

    A long log is millions of such lines; one object per line is most of what reading it costs. Every line is
    exactly a ``Progress`` of ``global_iteration``, ``iteration_seconds`` and the last line's ``global_total``,
    every number in ``checked``'s range, a finite loss or none and no other field the estimator reads per line (its
    epoch size is the line before's; no data time or averaging).
    """

    iterations: list[int]
    """``Progress.global_iteration`` per line."""
    seconds: list[float]
    """Printed seconds of one iteration, per line."""
    times: list[float | None] | None
    """Record time per line (already ``valid_time``); None when no line has one (a history read after the fact)."""
    last: Progress
    """The last line as ``Progress``, stamped (its loss, rates and record index are the ones reported)."""

    def line(self, index: int) -> Progress:
        """Line ``index`` as the estimator reads it (the last one whole)."""
        if index == len(self.iterations) - 1:
            return self.last
        time = None if self.times is None else self.times[index]
        return Progress(iteration=self.iterations[index], iteration_seconds=self.seconds[index], time=time,
                        total_iterations=self.last.global_total)


def for_rank(config: Config, rank: int | None) -> Config:
    """A file's Config as another rank of the same job sees it: its sizes and schedule hold for every rank, but a
    run start printed by one rank does not restart another rank's progress (that rank restarts on its own)."""
    if not config.new_run or config.rank is None or config.rank == rank:
        return config
    return dataclasses.replace(config, new_run=False)

MAX_COUNT = 10**15
"""Iterations, totals, epochs and intervals above this are not a training run's (a quadrillion steps): a line
printing one is misread or hostile, and such a number would overflow the estimator's float arithmetic."""
MAX_SECONDS = 10.0**9
"""Per-iteration times above ~30 years are not measurements."""
_COUNTS = ("iteration", "total_iterations", "epoch", "total_epochs", "batches_per_epoch", "averaged_over",
           "eval_interval", "log_interval")
_DURATIONS = ("iteration_seconds", "data_seconds", "seconds")
_RATES = ("tokens_per_second", "mfu")


def checked(event: Event) -> Event | None:
    """The event with every number in a meaningful range, or None when its counter cannot be trusted.

    Checked at the boundary (the pipeline), so nothing after parsing sees a 400-digit iteration or a negative
    time: a counter or total out of range rejects the event; a duration or rate out of range (negative, not
    finite, absurd) is dropped to None. The loss is kept as printed, NaN and inf included (they are reported).
    """
    for name in _COUNTS:
        value = getattr(event, name, None)
        if value is not None and not 0 <= value <= MAX_COUNT:
            if name in ("iteration", "total_iterations"):
                return None
            setattr(event, name, None)
    for name in _DURATIONS:
        value = getattr(event, name, None)
        if value is not None and not (math.isfinite(value) and 0 <= value <= MAX_SECONDS):
            setattr(event, name, None)
    for name in _RATES:
        value = getattr(event, name, None)
        if value is not None and not (math.isfinite(value) and 0 <= value < 1e15):
            setattr(event, name, None)
    event.time = valid_time(event.time)
    return event


def valid_time(time: float | None) -> float | None:
    """``time`` when it can be a record's Unix time, else None (before 1970 or after 2096: a misread timestamp,
    not a clock)."""
    if time is not None and not (math.isfinite(time) and 0 < time < 4e9):
        return None
    return time


def json_value(value: Any) -> Any:
    """Non-finite floats as the strings "nan", "inf", "-inf" (JSON has no literal for them), else unchanged."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def to_dict(event: Event) -> dict[str, Any]:
    """A JSON-ready dict with ``kind`` first; non-finite floats become the strings "nan", "inf", "-inf"."""
    out: dict[str, Any] = {"kind": event.kind}
    for field in dataclasses.fields(event):
        out[field.name] = json_value(getattr(event, field.name))
    return out
