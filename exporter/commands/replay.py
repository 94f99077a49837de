"""Replay a log through the estimator: one JSON object per progress event, as it saw the log at that moment.

No look-ahead: each line is the estimate right after that progress event, with ``now`` = the record's time
(when the log has times: a timestamp prefix, a container envelope, or a ``.tslog`` file of
``unix_time<TAB>record`` lines). Fields the estimator does not know are null. Exit status 2 with a one-line
error for a missing or unreadable file or a bad ``--format``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from exporter.estimate import Estimate, Estimator
from exporter.events import Event, Progress
from exporter.pipeline import Pipeline
from exporter.sources import Record, read_records

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


def add_log_options(parser: argparse.ArgumentParser) -> None:
    """Options ``report`` and ``replay`` share."""
    parser.add_argument("log", metavar="LOG", help="training log file ('.tslog': unix_time<TAB>record per line)")
    parser.add_argument(
        "--total-iterations",
        type=_positive_int,
        metavar="N",
        default=None,
        help="total iterations of the run (wins over what the log says)",
    )
    parser.add_argument(
        "--format",
        metavar="F",
        default=None,
        help="force a format family (default: detect) or give a YAML file of custom formats",
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def estimates(
    events: Iterable[Event], *, total_iterations: int | None = None
) -> Iterator[tuple[Progress, Estimate, Estimator]]:
    """After each progress event: (event, the estimate with ``now`` = its time, the estimator)."""
    estimator = Estimator(total_iterations=total_iterations, clock=lambda: math.nan)
    for event in events:
        estimator.observe(event)
        if isinstance(event, Progress):
            yield event, estimator.estimate(now=event.time), estimator


def replay_events(records: Iterable[Record], pipeline: Pipeline) -> Iterator[Event]:
    """The events of ``records`` in order, then those the pipeline still holds at the end of input."""
    for record in records:
        yield from pipeline.feed(record)
    yield from pipeline.finish()


def json_ready(value: Any) -> Any:
    """Non-finite floats as the strings "nan", "inf", "-inf" (what ``parse`` prints), else unchanged."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def row(event: Progress, estimate: Estimate) -> dict[str, Any]:
    """The replay line for one progress event."""
    out: dict[str, Any] = {"record": event.record, "time": event.time}
    for name in FIELDS:
        out[name] = json_ready(getattr(estimate, name))
    out["loss"] = json_ready(estimate.loss)
    out["completion_timestamp_seconds"] = json_ready(estimate.completion_timestamp_seconds) if event.time else None
    return out


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    add_log_options(parser)


def open_error(command: str, path: str) -> str | None:
    """A one-line reason the log cannot be read, or None."""
    if path == "-":
        return None
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        return f"training-eta-exporter {command}: cannot read {path}: {error.strerror or error}"
    if Path(path).is_dir():
        return f"training-eta-exporter {command}: cannot read {path}: is a directory"
    return None


def run(args: argparse.Namespace) -> int:
    """Print one JSON line per progress event."""
    error = open_error("replay", args.log)
    try:
        pipeline = Pipeline(format=args.format)
    except ValueError as exc:
        error = error or f"training-eta-exporter replay: {exc}"
    if error:
        print(error, file=sys.stderr)
        return 2
    out = sys.stdout
    try:
        events = replay_events(read_records(args.log), pipeline)
        for event, estimate, _ in estimates(events, total_iterations=args.total_iterations):
            out.write(json.dumps(row(event, estimate)) + "\n")
        out.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"training-eta-exporter replay: cannot read {args.log}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0
