"""Answer "when will it finish, and is it healthy?" for one training log, on one screen (or as JSON).

Reads the whole log, then reports where the run is, its pace (and what was left out of it: warm-up,
eval/checkpoint cost), the ETA with its range, the completion time, the trend and the likely cause.

``now``: a log that carries record times (timestamp prefixes, container envelopes, ``.tslog``) is judged
as of its last record by default, so a log read after the fact reads as it was when it ended (a finished
run is "finished", not "stalled" forever). ``--live`` judges it as of the wall clock instead: use it on a log
that is still being written, to see a stall since its last line. A log without times has no position in
time: its pace comes from printed iteration times and stalls cannot be told. Exit status 2 with a one-line
error for a missing or unreadable file or a bad ``--format``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from exporter.commands.common import add_log_options, log_items, open_error
from exporter.diagnosis import diagnose
from exporter.estimate import Estimate, Estimator
from exporter.estimate.phases import TimeSplit
from exporter.events import json_value
from exporter.humanize import (
    BLOCKS_NOTE,
    format_duration,
    format_pace,
    format_timestamp,
    ordinal,
    pace_ahead,
    total_hint,
)
from exporter.pipeline import Pipeline
from exporter.sources import read_items


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    add_log_options(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--live", action="store_true", help="judge the log as of the wall clock (a log still being written)"
    )


@dataclass(frozen=True, slots=True)
class Report:
    """What ``report`` says about one log, as of ``now``."""

    log: str
    format: str | None
    now: float
    now_is_log_end: bool
    has_record_times: bool
    estimate: Estimate
    cause: str
    hint: str
    split: TimeSplit

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object: the report's own fields, then every estimate field, then cause and time split."""
        out: dict[str, Any] = {
            "log": self.log,
            "format": self.format,
            "now": self.now,
            "now_is_log_end": self.now_is_log_end,
            "has_record_times": self.has_record_times,
        }
        out.update({name: json_value(value) for name, value in self.estimate.to_dict().items()})
        if not self.has_record_times:
            out["completion_timestamp_seconds"] = None  # no clock to anchor it: the log has no times
        out["cause"] = self.cause
        out["hint"] = self.hint
        out["time_split_seconds"] = self.split.seconds
        out["episodes"] = [dataclasses.asdict(episode) for episode in self.split.episodes]
        return out


def summarize(path: str, *, total_iterations: int | None, format: str | None, live: bool = False,
              total_epochs: int | None = None) -> Report:
    """Read the log and report on it. Raises OSError / ValueError."""
    pipeline = Pipeline(format=format)
    estimator = Estimator(total_iterations=total_iterations, total_epochs=total_epochs, clock=time.time)
    for event in log_items(read_items(path), pipeline):
        estimator.observe(event)
    end = estimator.last_event_time
    return report_of(path, pipeline, estimator, now=None if live or end is None else end)


def report_of(path: str, pipeline: Pipeline, estimator: Estimator, *, now: float | None) -> Report:
    """The report of what ``estimator`` has seen, as of ``now`` (None: the wall clock)."""
    estimate = estimator.estimate(now=now)
    # A log without record times has a position in time only once its last write time was assumed (``watch``).
    timed = estimator.last_event_time is not None or estimate.last_progress_timestamp_seconds is not None
    diagnosis = diagnose(estimate, [])
    return Report(path, pipeline.format, now if now is not None else time.time(), now is not None, timed, estimate,
                  diagnosis.cause, diagnosis.hint, estimator.time_split(estimate))


PHASE_WORDS = {
    "training": "training at the baseline pace",
    "warmup": "warm-up",
    "eval_checkpoint": "evals/checkpoints",
    "hang": "hangs and stops",
    "slow": "slow phases (beyond the baseline pace)",
    "stalled": "stalled now",
}
EPISODES_SHOWN = 6


def _time_lines(report: Report) -> list[str]:
    """"Where the time went": the split of the wall time, then the biggest episodes with when they happened."""
    split = report.split.seconds
    wall = sum(split.values())
    if wall <= 0:
        return []
    parts = [f"{PHASE_WORDS[k]} {format_duration(v)} ({100 * v / wall:.0f}%)" for k, v in split.items() if v >= 0.5]
    if not parts:
        return []  # under a second in all: nothing worth a line
    lines = [f"Time      {format_duration(wall)}: " + ", ".join(parts)]
    episodes = [e for e in report.split.episodes if e.phase != "eval_checkpoint"]
    for e in sorted(episodes, key=lambda e: -e.seconds)[:EPISODES_SHOWN]:
        lasted = e.end_timestamp_seconds - e.start_timestamp_seconds
        # Without record times the episodes are on the run's own clock (seconds since its first progress line).
        when = (format_timestamp(e.start_timestamp_seconds) if report.has_record_times
                else f"{format_duration(e.start_timestamp_seconds)} into the run")
        lines.append(
            f"          {PHASE_WORDS[e.phase]}: {format_duration(e.seconds)} lost from {when} "
            f"(over {format_duration(lasted)})"
        )
    return lines


def render(report: Report) -> str:
    """The one-screen text form of a report."""
    e = report.estimate
    lines = [f"{report.log}  (format: {report.format or 'not recognised'}, runs seen: {e.runs})"]
    where = "no progress line yet"
    if e.iteration is not None:
        where = f"iteration {e.iteration}"
        if e.total_iterations is not None:
            where += f" of {e.total_iterations}"
            if e.progress_ratio is not None:
                where += f" ({100 * e.progress_ratio:.1f}%)"
        else:
            where += f" of an unknown total ({total_hint(e)})"
        if e.epoch is not None:
            # The epoch counted from one ("8th"): trainers print it from 0 (Lightning) or from 1 (Keras, most loops).
            where += f", {ordinal(e.epoch + 1)} epoch"
    lines.append(f"State     {e.state}: {where}")
    pace = format_pace(e.seconds_per_iteration)
    if e.baseline_seconds_per_iteration is not None and e.pace_ratio is not None:
        pace += f" (baseline {format_pace(e.baseline_seconds_per_iteration)}, x{e.pace_ratio:.2f})"
    excluded = []
    if e.warmup_seconds:
        excluded.append(f"warm-up {format_duration(e.warmup_seconds)} over {e.warmup_iterations} it")
    if e.periodic_interval_iterations:
        cost = format_duration(e.periodic_overhead_seconds) if e.periodic_overhead_seconds is not None else "cost unknown"
        excluded.append(f"eval/checkpoint {cost} every {e.periodic_interval_iterations} it")
    lines.append(f"Pace      {pace}" + (f"; excluded: {', '.join(excluded)}" if excluded else ""))
    ahead = pace_ahead(e)
    if ahead:
        lines.append(f"Ahead     {ahead}")
    if e.eta_seconds is not None:
        eta = f"{format_duration(e.eta_seconds)} (80% range {format_duration(e.eta_lower_seconds)} to {format_duration(e.eta_upper_seconds)})"
        if e.periodic_events_remaining:
            eta += f", incl. {e.periodic_events_remaining} evals/checkpoints to come"
        lines.append(f"ETA       {eta}")
        if report.has_record_times and e.completion_timestamp_seconds is not None:
            lines.append(f"Completes {format_timestamp(e.completion_timestamp_seconds)}")
    else:
        lines.append("ETA       unknown" + (" (total iterations unknown)" if e.total_iterations is None else ""))
    trend = e.trend
    if e.shift_ratio is not None and trend in ("slowing", "speeding_up"):
        since = f"iteration {e.shift_since_iteration}"
        if e.shift_since_timestamp_seconds is not None:
            since += f" ({format_timestamp(e.shift_since_timestamp_seconds)})"
        trend += f" since {since}, pace x{e.shift_ratio:.2f}"
    lines.append(f"Trend     {trend}")
    if e.loss is not None or e.nonfinite_loss_events:
        loss = "unknown" if e.loss is None else str(e.loss)
        if e.nonfinite_loss_events:
            loss += f" ({e.nonfinite_loss_events} non-finite loss values seen)"
        lines.append(f"Loss      {loss}")
    if e.data_loading_ratio is not None:
        lines.append(f"Data      waiting for data {100 * e.data_loading_ratio:.0f}% of iteration time")
    if e.state == "stalled" and e.seconds_since_progress is not None and e.last_progress_timestamp_seconds:
        lines.append(
            f"Stalled   no progress for {format_duration(e.seconds_since_progress)} "
            f"(last line at {format_timestamp(e.last_progress_timestamp_seconds)})"
        )
    lines.append(f"Cause     {report.cause}" + (f": {report.hint}" if report.hint else ""))
    lines.extend(_time_lines(report))
    if not report.has_record_times:
        lines.append("Note      the log has no record times: pace from printed times, stalls cannot be seen")
    elif e.arrives_in_blocks:
        lines.append(f"Note      {BLOCKS_NOTE}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the report."""
    error = open_error("report", args.log)
    if error:
        print(error, file=sys.stderr)
        return 2
    try:
        report = summarize(args.log, total_iterations=args.total_iterations, format=args.format, live=args.live,
                           total_epochs=args.total_epochs)
    except ValueError as exc:
        print(f"training-eta-exporter report: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"training-eta-exporter report: cannot read {args.log}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(render(report))
    return 0
