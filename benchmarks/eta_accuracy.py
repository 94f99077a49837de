"""ETA accuracy on real logs with per-record times: ours against the estimates people use today.

For every ``*.tslog`` (``unix_time<TAB>record`` per line) in the logs folder, the true remaining time at a
progress record is the time of the run's last progress record minus that record's time. Logs whose run never
reaches its total have no true remaining time and are skipped (said so in the output). Our estimator replays
each log twice: with the record times, and without them (printed per-iteration times only, as a plain ``.log``
reads). The baselines are computed here on the same progress records, from the record times:

- last sample x remaining (a person by hand: the last printed iteration time, else the last Δt/Δiteration),
- tqdm's EMA (smoothing 0.3 on Δiteration and Δt, as tqdm does),
- cumulative mean since the first progress record,
- median of the last 200 Δt/Δiteration samples.

Scores at each 1% of progress: MAPE over 10-90% progress, MAPE over 30-90%, and how often our range holds the
truth. Run: ``python benchmarks/eta_accuracy.py [--logs DIR] [--total NAME=N ...] [--format NAME=F ...]``.

``--synthetic`` adds generated runs (seeded, so the figures repeat): steady; a step change at 30-70%; every
10th line logged (scored with and without record times); random regime switches (a Poisson number of segments
whose pace is drawn around the run's normal pace, some of them several times slower). Three real logs are
too few to judge an estimator by; these show how it behaves on the cases it was designed for.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import statistics
import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from exporter.commands.replay import estimates, read_records, replay_events
from exporter.events import Config, Eval, Event, Progress
from exporter.pipeline import Pipeline

DEFAULT_LOGS = Path(__file__).resolve().parent.parent.parent / "shared" / "logs"
DEFAULT_TOTALS = {"lightning_tqdm": 3000}
"""Totals a log does not print (Lightning's TQDM bar shows only the per-epoch total)."""


@dataclass
class Point:
    """One progress record: what every method estimated there, and the truth."""

    progress: float
    truth: float
    estimates: dict[str, float | None] = field(default_factory=dict)
    lower: float | None = None
    upper: float | None = None


def baseline_estimators() -> dict[str, Callable[[Progress, int], float | None]]:
    """Stateful baselines: each takes (progress event with time, total) and returns its ETA or None."""
    state: dict[str, object] = {}
    last: dict[str, tuple[int, float]] = {}
    ema: dict[str, float] = {}
    window: deque[float] = deque(maxlen=200)

    def step(event: Progress) -> tuple[int, float] | None:
        previous = last.get("p")
        current = (event.global_iteration, event.time)
        if previous is None or current[0] <= previous[0] or current[1] <= previous[1]:
            if previous is None or current[0] < previous[0]:
                last["p"] = current
                last.setdefault("first", current)
            return None
        last["p"] = current
        return current[0] - previous[0], current[1] - previous[1]

    def update(event: Progress) -> None:
        delta = step(event)
        state["delta"] = delta
        if delta is None:
            return
        dn, dt = delta
        window.append(dt / dn)
        ema["dn"] = 0.3 * dn + 0.7 * ema.get("dn", dn)
        ema["dt"] = 0.3 * dt + 0.7 * ema.get("dt", dt)

    def remaining(event: Progress, total: int) -> int:
        return max(0, total - event.global_iteration)

    def last_sample(event: Progress, total: int) -> float | None:
        update(event)
        delta = state["delta"]
        pace = event.iteration_seconds
        if pace is None and delta is not None:
            pace = delta[1] / delta[0]
        if pace is None:
            pace = state.get("last_pace")  # a repeated update of the same iteration: keep the last figure
        state["last_pace"] = pace
        return None if pace is None else pace * remaining(event, total)

    def tqdm_ema(event: Progress, total: int) -> float | None:
        if "dn" not in ema:
            return None
        return remaining(event, total) * ema["dt"] / ema["dn"]

    def cumulative(event: Progress, total: int) -> float | None:
        first, now = last.get("first"), last.get("p")
        if not first or not now or now[0] <= first[0]:
            return None
        return remaining(event, total) * (now[1] - first[1]) / (now[0] - first[0])

    def median_200(event: Progress, total: int) -> float | None:
        return statistics.median(window) * remaining(event, total) if window else None

    # Order matters: last_sample updates the shared state the others read.
    return {
        "last sample x remaining": last_sample,
        "tqdm EMA 0.3": tqdm_ema,
        "cumulative mean": cumulative,
        "median of last 200": median_200,
    }


def evaluate(path: Path, *, total: int | None, fmt: str | None) -> tuple[list[Point], str] | str:
    """Points at each progress record of one log, or the reason it is skipped."""
    timed = list(estimates(replay_events(read_records(str(path)), Pipeline(format=fmt)), total_iterations=total))
    if not timed:
        return "no progress records"
    run_total = timed[-1][1].total_iterations
    final = timed[-1][0]
    if run_total is None:
        return "total unknown (pass --total NAME=N)"
    if final.global_iteration < run_total:
        return f"never finishes (last iteration {final.global_iteration} < total {run_total})"
    if final.time is None:
        return "no record times"
    end = final.time
    printed = {
        event.record: estimate
        for event, estimate, _ in estimates(
            replay_events(read_records(str(path), with_times=False), Pipeline(format=fmt)), total_iterations=total
        )
    }
    baselines = baseline_estimators()
    points: list[Point] = []
    for event, estimate, _ in timed:
        figures = {name: fn(event, run_total) for name, fn in baselines.items()}
        if event.time is None or end - event.time <= 0:
            continue
        ours_printed = printed.get(event.record)
        figures["ours (record times)"] = estimate.eta_seconds
        figures["ours (printed times only)"] = ours_printed.eta_seconds if ours_printed else None
        points.append(
            Point(
                event.global_iteration / run_total,
                end - event.time,
                figures,
                estimate.eta_lower_seconds,
                estimate.eta_upper_seconds,
            )
        )
    return points, timed[-1][2].runs and (Pipeline and (fmt or "auto")) or "auto"


def at_percentiles(points: Sequence[Point], low: float, high: float) -> list[Point]:
    """The first point at or after each whole percent of progress in [low, high]."""
    chosen: list[Point] = []
    index = 0
    for percent in range(round(low * 100), round(high * 100) + 1):
        while index < len(points) and points[index].progress < percent / 100:
            index += 1
        if index < len(points) and points[index].progress <= high:
            if not chosen or chosen[-1] is not points[index]:
                chosen.append(points[index])
    return chosen


def mape(points: Sequence[Point], method: str) -> float | None:
    errors = [
        abs(p.estimates[method] - p.truth) / p.truth for p in points if p.estimates.get(method) is not None
    ]
    return 100 * sum(errors) / len(errors) if errors else None


def coverage(points: Sequence[Point]) -> float | None:
    held = [p.lower <= p.truth <= p.upper for p in points if p.lower is not None and p.upper is not None]
    return 100 * sum(held) / len(held) if held else None


SCENARIOS = ("steady", "step change", "every 10th line", "regime switches")


def synthetic_run(scenario: str, *, seed: int, total: int = 3000) -> tuple[list[Event], dict[int, float]]:
    """A nanoGPT-like run: 40 s compile, ~1 s iterations with 5% noise, a tagged 30 s eval every 250, a printed
    time per logged line. Returns (events, time at which each iteration ended)."""
    rnd = random.Random(f"{scenario}/{seed}")
    log = 10 if scenario == "every 10th line" else 1
    levels: list[tuple[int, float]] = [(0, 1.0)]
    if scenario == "step change":
        levels.append((rnd.randrange(3 * total // 10, 7 * total // 10), rnd.choice([0.6, 1.5, 2.0])))
    elif scenario == "regime switches":
        at = 0
        while True:
            at += max(1, round(rnd.expovariate(8 / total)))
            if at >= total:
                break
            slow = rnd.random() < 0.3
            levels.append((at, rnd.uniform(2.0, 5.0) if slow else rnd.lognormvariate(0, 0.15)))
    t = 1000.0
    events: list[Event] = [Config(total_iterations=total, time=t)]
    t += 40.0
    events.append(Progress(0, iteration_seconds=40.0, time=t))
    ends = {0: t}
    level = 1.0
    for i in range(1, total + 1):
        level = next(v for start, v in reversed(levels) if i >= start) if len(levels) > 1 else 1.0
        dt = level * rnd.lognormvariate(0, 0.05)
        if i % 250 == 0:
            dt += 30.0
            events.append(Eval(iteration=i, time=t + dt - 0.01))
        t += dt
        ends[i] = t
        if i % log == 0:
            events.append(Progress(i, iteration_seconds=dt, time=t))
    return events, ends


def synthetic_points(scenario: str, *, seed: int, with_times: bool) -> list[Point]:
    """Our estimate and the baselines at each logged line of one generated run."""
    events, ends = synthetic_run(scenario, seed=seed)
    total = max(ends)
    if not with_times:
        events = [dataclasses.replace(e, time=None) for e in events]
    timed_events, _ = synthetic_run(scenario, seed=seed)
    timed = {e.iteration: e for e in timed_events if isinstance(e, Progress)}
    baselines = baseline_estimators()
    points = []
    for event, estimate, _ in estimates(events):
        figures = {name: fn(timed[event.iteration], total) for name, fn in baselines.items()}
        truth = ends[total] - ends[event.iteration]
        if truth <= 0:
            continue
        figures["ours"] = estimate.eta_seconds
        points.append(Point(event.iteration / total, truth, figures, estimate.eta_lower_seconds, estimate.eta_upper_seconds))
    return points


def synthetic_table(*, seeds: int) -> None:
    """Print MAPE and coverage per scenario, pooled over ``seeds`` generated runs each."""
    print(f"\nSynthetic runs ({seeds} seeds each, 3000 iterations, eval every 250):\n")
    header = f"| {'scenario':<32} | {'estimator':<26} | MAPE 10-90% | MAPE 30-90% | range coverage |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    cases = [(s, True) for s in SCENARIOS] + [("every 10th line", False)]
    for scenario, with_times in cases:
        wide: list[Point] = []
        narrow: list[Point] = []
        for seed in range(seeds):
            points = synthetic_points(scenario, seed=seed, with_times=with_times)
            wide += at_percentiles(points, 0.10, 0.90)
            narrow += at_percentiles(points, 0.30, 0.90)
        label = scenario + ("" if with_times else " (printed times only)")
        for method in list(wide[0].estimates):
            cov = coverage(wide) if method == "ours" else None
            print(
                f"| {label:<32} | {method:<26} | {_fmt(mape(wide, method)):>11} | {_fmt(mape(narrow, method)):>11} "
                f"| {_fmt(cov):>14} |"
            )


def _pairs(values: Sequence[str], what: str) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, setting = value.partition("=")
        if not sep:
            raise SystemExit(f"eta_accuracy: --{what} wants NAME=VALUE, not {value!r}")
        out[name] = setting
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=Path, default=DEFAULT_LOGS, help="folder of *.tslog files")
    parser.add_argument("--total", action="append", default=[], metavar="NAME=N", help="total iterations of a log")
    parser.add_argument("--format", action="append", default=[], metavar="NAME=F", help="force a log's format")
    parser.add_argument("--synthetic", action="store_true", help="also score generated runs")
    parser.add_argument("--seeds", type=int, default=8, help="generated runs per synthetic scenario")
    parser.add_argument("--synthetic-only", action="store_true", help="score generated runs only")
    args = parser.parse_args(argv)
    if args.synthetic_only:
        synthetic_table(seeds=args.seeds)
        return 0
    totals = {**DEFAULT_TOTALS, **{k: int(v) for k, v in _pairs(args.total, "total").items()}}
    formats = _pairs(args.format, "format")
    logs = sorted(args.logs.glob("*.tslog"))
    if not logs:
        print(f"eta_accuracy: no *.tslog files in {args.logs}", file=sys.stderr)
        return 2
    header = f"| {'log':<16} | {'estimator':<26} | MAPE 10-90% | MAPE 30-90% | range coverage |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    verdicts = []
    for path in logs:
        name = path.stem
        result = evaluate(path, total=totals.get(name), fmt=formats.get(name))
        if isinstance(result, str):
            print(f"| {name:<16} | skipped: {result} |")
            continue
        points, _ = result
        wide = at_percentiles(points, 0.10, 0.90)
        narrow = at_percentiles(points, 0.30, 0.90)
        methods = list(points[0].estimates) if points else []
        ours = [m for m in methods if m.startswith("ours")]
        rest = [m for m in methods if not m.startswith("ours")]
        for method in ours + rest:
            cov = coverage(wide) if method == "ours (record times)" else None
            print(
                f"| {name:<16} | {method:<26} | {_fmt(mape(wide, method)):>11} | {_fmt(mape(narrow, method)):>11} "
                f"| {_fmt(cov):>14} |"
            )
        best = min((v for v in (mape(wide, m) for m in rest) if v is not None), default=None)
        our = mape(wide, "ours (record times)")
        if best is not None and our is not None:
            verdicts.append(
                f"{name}: ours {our:.1f}% vs best baseline {best:.1f}% "
                f"({'<= half' if our <= best / 2 else '> half'} of it)"
            )
    print()
    for line in verdicts:
        print(line)
    if args.synthetic:
        synthetic_table(seeds=args.seeds)
    return 0


def _fmt(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.1f}%"


if __name__ == "__main__":
    sys.exit(main())
