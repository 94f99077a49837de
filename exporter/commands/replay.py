"""Replay a log through the estimator: one JSON object per progress event, as it saw the log at that moment.

No look-ahead: each line is the estimate right after that progress event, with ``now`` = the record's time
(when the log has times: a timestamp prefix, a container envelope, or a ``.tslog`` file of
``unix_time<TAB>record`` lines). Fields the estimator does not know are null. ``--every`` thins the output
(``1%`` of the total iterations, ``30s`` of record time, ``100`` progress events) and estimates only at the
points it prints, so a long log replays in time linear in its length; the figures at a point do not depend on how
many points were printed before it. Exit status 2 with a one-line error for a missing or unreadable file or a bad
``--format`` or ``--every``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from exporter.commands.common import add_log_options, log_events, open_error
from exporter.config import ConfigError, parse_duration
from exporter.estimate import Estimate, Estimator
from exporter.events import Config, Event, Progress, json_value
from exporter.pipeline import Pipeline
from exporter.sources import read_records

FIELDS = (
    "iteration",
    "total_iterations",
    "seconds_per_iteration",
    "remaining_iterations",
    "eta_seconds",
    "eta_lower_seconds",
    "eta_upper_seconds",
    "state",
    "progress_ratio",
    "pace_ratio",
    "trend",
    "periodic_overhead_seconds",
    "eta_seconds_per_iteration",
    "pace_source",
    "periodic_interval_iterations",
    "warmup_seconds",
    "runs",
)


@dataclass(frozen=True, slots=True)
class Every:
    """Which progress events ``replay`` prints: each ``step`` percent of the total, seconds or events."""

    step: float
    unit: str
    """``%`` (of the total iterations), ``s`` (of record time) or ``events``."""

    @classmethod
    def parse(cls, text: str) -> Every:
        """``1%``, ``30s`` / ``5m`` (a duration), or a count of progress events; ValueError otherwise."""
        if text.endswith("%"):
            value, unit = float(text[:-1]), "%"
        elif text.isdigit():
            value, unit = float(text), "events"
        else:
            try:
                value, unit = parse_duration("every", text), "s"
            except ConfigError as exc:
                raise ValueError(f"--every: {exc.problem}; or give a percentage (1%) or a count (100)") from None
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"--every must be positive, not {text}")
        return cls(value, unit)

    def selector(self, total_iterations: int | None, total_epochs: int | None = None) -> Callable[[Event], bool]:
        """A function telling, event by event, whether this progress event is a point to print."""
        return _Points(self, total_iterations, total_epochs).due


class _Points:
    """The state of one ``Every`` over one log: the last printed position, the events seen, the total known."""

    def __init__(self, every: Every, total_iterations: int | None, total_epochs: int | None) -> None:
        self.every = every
        self.fixed = total_iterations is not None
        self.total = float(total_iterations or 0)
        self.epochs = total_epochs
        self.last = -math.inf
        self.count = 0

    def due(self, event: Event) -> bool:
        if not self.fixed and isinstance(event, (Config, Progress)):
            total = event.total_iterations if isinstance(event, Config) else event.global_total
            epoch_size = event.batches_per_epoch or event.global_total if isinstance(event, Progress) else None
            if self.epochs is not None and epoch_size:
                total = self.epochs * epoch_size  # as the estimator reads --total-epochs
            self.total = float(total) if total else self.total
        if not isinstance(event, Progress):
            return False
        step, unit = self.every.step, self.every.unit
        if unit == "events":
            self.count += 1
            return (self.count - 1) % step == 0
        if unit == "s":
            position = event.time if event.time is not None else -math.inf
        elif self.total:
            position = 100.0 * event.global_iteration / self.total
        else:
            return False  # a percentage of a total not known yet
        if position < self.last + step:
            return False
        self.last = position
        return True


def estimates(
    events: Iterable[Event],
    *,
    total_iterations: int | None = None,
    total_epochs: int | None = None,
    due: Callable[[Event], bool] | None = None,
) -> Iterator[tuple[Progress, Estimate, Estimator]]:
    """After each progress event (or only those ``due`` picks, and the last one): (event, the estimate with
    ``now`` = its time, the estimator)."""
    estimator = Estimator(total_iterations=total_iterations, total_epochs=total_epochs, clock=lambda: math.nan)
    last: Progress | None = None
    for event in events:
        estimator.observe(event)
        pick = due(event) if due is not None else isinstance(event, Progress)
        if isinstance(event, Progress):
            last = None if pick else event
        if pick and isinstance(event, Progress):
            yield event, estimator.estimate(now=event.time), estimator
    if last is not None:
        yield last, estimator.estimate(now=last.time), estimator


def row(event: Progress, estimate: Estimate) -> dict[str, Any]:
    """The replay line for one progress event."""
    out: dict[str, Any] = {"record": event.record, "time": event.time}
    for name in FIELDS:
        out[name] = json_value(getattr(estimate, name))
    out["loss"] = json_value(estimate.loss)
    out["completion_timestamp_seconds"] = json_value(estimate.completion_timestamp_seconds) if event.time else None
    return out


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    add_log_options(parser)
    parser.add_argument("--every", metavar="STEP", default=None,
                        help="print a point every 1%% of the total, every 30s of record time, or every N progress "
                             "events (default: every progress event), and the last one")


def run(args: argparse.Namespace) -> int:
    """Print one JSON line per progress event."""
    error = open_error("replay", args.log)
    try:
        pipeline = Pipeline(format=args.format)
        every = Every.parse(args.every) if args.every else None
    except ValueError as exc:
        error = error or f"training-eta-exporter replay: {exc}"
    if error:
        print(error, file=sys.stderr)
        return 2
    out = sys.stdout
    try:
        events = log_events(read_records(args.log), pipeline)
        due = every.selector(args.total_iterations, args.total_epochs) if every is not None else None
        for event, estimate, _ in estimates(events, total_iterations=args.total_iterations,
                                            total_epochs=args.total_epochs, due=due):
            out.write(json.dumps(row(event, estimate)) + "\n")
        out.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"training-eta-exporter replay: cannot read {args.log}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0
