"""ETA assembly: pure functions from a run's parts (``exporter.estimate.run``) to an ``Estimate`` and to the views
of its history (the time split, the pace plot). No state of their own: the estimator passes in the run, the total,
the clock reading and the judge's (cached) verdict."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from exporter.estimate.candidates import DEFAULT, HEDGED, Verdict, passing_slowdown, slowdown_outcomes
from exporter.estimate.model import Estimate
from exporter.estimate.phases import TimeSplit, time_split
from exporter.estimate.range import eta_range, judged_range
from exporter.estimate.robust import median
from exporter.estimate.run import Run, typical_line_gap
from exporter.estimate.stall import Rhythm, allowance

MAX_ETA_SECONDS = 100 * 365.25 * 86400.0
"""An ETA beyond a century says "never" (a bar printing 1e-300 it/s): published as unknown, not as 9e302 s."""
HEDGE_ABOVE = 1.6
"""A slowdown by more than this factor may pass (a stall, a contended machine): the ETA blends it with the pace
before it (``candidates.passing_slowdown``); a milder one (a drift, a longer sequence) is taken as it is. Chosen
on the dev half with ``benchmarks/eta_tune.py`` (1.0: 21.5 %, 1.3: 21.3 %, 1.6 and 2.0: 21.0 %; with hangs counted by
size: 1.6: 20.3 %, 2.0: 20.2 %, 2.5: 20.8 %). A speed-up by more than this factor is taken at its word: the ETA uses
the pace since it even when the judge's leader is slower (dev half 20.3 -> 19.4 %; only when the speed-up leaves a
pace faster than the baseline: 20.3 %, unchanged)."""
TREND_TOLERANCE = 1.15
"""Pace within this factor of the baseline reads as steady."""

Judged = Callable[[Run, int, float], "Verdict | None"]
"""(run, remaining iterations, hang seconds per iteration) -> the judge's verdict, or None before it speaks."""


def hang_rate_of(run: Run) -> float:
    """Seconds per iteration of clipped hangs expected ahead: none after a single one (it may be one-off),
    (n - 1) / n of their observed rate after n (hangs counted by size: ``PaceWindow.hangs``)."""
    hangs = run.window.hangs
    if hangs <= 1 or run.normal_iterations <= 0:
        return 0.0
    return run.window.clipped_seconds / run.normal_iterations * (hangs - 1) / hangs

def future_seconds(run: Run, iteration: int, total: int, *, periodic: bool = True) -> float | None:
    """Expected seconds from ``iteration`` to ``total``: pace x remaining + periodic work ahead.

    The pace ahead mixes the current segment's pace and the run's long-run mean (normal iterations, warm-up
    excluded), weighted by the chance that the current segment lasts: if the pace switches as a Poisson
    process with mean segment length L iterations (estimated from this run's change points), the expected
    share of the R remaining iterations still in the current segment is (L/R)(1 - exp(-R/L)). A run with
    at most one change point (a step) trusts its current pace. Hangs clipped from the pace come back at
    their observed rate once they recur (a single one may be one-off).
    """
    pace = run.window.pace
    if pace is None:
        return None
    remaining = max(0, total - iteration)
    current = pace
    current += hang_rate_of(run)
    weight = 1.0
    if run.changes > 1 and run.normal_iterations > 0 and remaining > 0:
        length = run.normal_iterations / (run.changes - 1)
        ratio = remaining / length
        weight = (1 - math.exp(-ratio)) / ratio
    future = current
    if weight < 1:
        future = weight * current + (1 - weight) * run.normal_seconds / run.normal_iterations
    return future * remaining + (run.periodic.seconds_remaining(iteration, total) if periodic else 0.0)

def split_of(run: Run, estimate: Estimate) -> TimeSplit:
    """Where the current run's wall time went up to ``estimate`` (this estimator's latest; its stall counts as
    the current stall); see ``phases``. O(history): read it when it is shown."""
    return time_split(
        run.timeline,
        baseline=run.baseline.value,
        warmup_seconds=run.warmup_seconds,
        stalled_seconds=estimate.seconds_since_progress or 0.0,
        clock_offset=run.wall_offset or 0.0,
    )

def pace_history_of(run: Run, points: int = 240) -> tuple[tuple[float, float], ...]:
    """(time, seconds per iteration of normal work) over the current run, at most ``points`` evenly spaced
    stretches of its history (for a plot); wall time when the records have times, else the run's own clock."""
    timeline = run.timeline
    n = len(timeline)
    if n < 2:
        return ()
    step = max(1, -(-(n - 1) // points))
    marks = list(range(0, n, step))
    if marks[-1] != n - 1:
        marks.append(n - 1)
    out = []
    for a, b in zip(marks, marks[1:]):
        pace = timeline.pace(a, b)
        if pace is not None:
            out.append((timeline.clock[b] + (run.wall_offset or 0.0), pace))
    return tuple(out)

def assemble(run: Run, *, total: int | None, now: float, runs: int, nonfinite: int, judged: Judged) -> Estimate:
    """The estimate of ``run`` as of ``now``: where it is, its pace, state, ETA and range, from its parts."""
    out = Estimate(runs=runs, nonfinite_loss_events=nonfinite, failure=run.failure)
    out.total_iterations = total
    last = run.last
    if last is None:
        out.state = "unknown_total" if total is None else "warmup"
        return out
    iteration = run.last_iteration or 0
    out.iteration = iteration
    out.epoch = last.epoch
    out.batches_per_epoch = run.config.batches_per_epoch
    out.loss = last.loss
    out.loss_nonfinite = last.loss is not None and not math.isfinite(last.loss)
    out.tokens_per_second = last.tokens_per_second
    out.mfu_ratio = last.mfu
    out.last_progress_timestamp_seconds = run.last_time
    out.warmup_seconds = run.warmup_seconds
    out.warmup_iterations = run.warmup_iterations
    out.arrives_in_blocks = run.buffered
    if run.data_ratios:
        # The same stretch as the pace: lines since the latest change point, not a mix across it.
        start = run.window.start_iteration()
        recent = [r for it, r in run.data_ratios if start is None or it > start] or [run.data_ratios[-1][1]]
        out.data_loading_ratio = min(1.0, max(0.0, sum(recent) / len(recent)))

    pace = run.window.pace
    if pace is None and run.warmup_pending:
        pace = median([s.pace for s, t in run.warmup_pending if not t] or [s.pace for s, _ in run.warmup_pending])
    out.seconds_per_iteration = pace
    baseline = run.baseline.value
    out.baseline_seconds_per_iteration = baseline
    if pace is not None and baseline:
        out.pace_ratio = pace / baseline
    periodic = run.periodic
    out.periodic_interval_iterations = periodic.interval
    out.periodic_overhead_seconds = periodic.cost
    if run.change is not None:
        out.shift_ratio = run.change.ratio
        out.shift_since_iteration = run.change.iteration
        out.shift_since_timestamp_seconds = run.change.time
    out.trend = trend_of(run, out.pace_ratio)

    step = typical_line_gap(run)
    # Finished at the last progress line the run can print: one logging step more would pass the total (a loop
    # that logs every 10th batch from batch 0 ends 9 batches after its last line, then evaluates or exits).
    finished = total is not None and total - iteration < step
    typical_seconds = median(run.gap_seconds) if run.gap_seconds else (pace * step if pace else None)
    if run.buffered:
        # The next block comes when it is full: about as long after the latest as that one took to write.
        typical_seconds = max(typical_seconds or 0.0, run.burst_seconds)
    eval_due, work = periodic.due_work(iteration, iteration + step)
    gap = (now - run.last_time) if (run.last_time is not None) else None
    expected = None if typical_seconds is None else typical_seconds + ((work or 0.0) if eval_due else 0.0)
    rhythm = Rhythm(
        usual_gap=typical_seconds,
        longest_gap=max(run.gap_seconds) if run.gap_seconds else None,
        work_due=eval_due,
        work_seconds=work,
        warmed_up=run.warmup_done,
    )
    stalled = gap is not None and gap > allowance(rhythm)
    if stalled:
        out.seconds_since_progress = gap
    evaluating = not stalled and (
        run.eval_open
        or (eval_due and gap is not None and typical_seconds is not None and gap > 1.5 * typical_seconds)
    )

    if total is not None:
        remaining = max(0, total - iteration)
        out.remaining_iterations = remaining
        out.progress_ratio = min(1.0, iteration / total) if total > 0 else None
        periodic_ahead = periodic.seconds_remaining(iteration, total)
        hang_rate = hang_rate_of(run)
        verdict = judged(run, remaining, hang_rate)
        ahead = None
        outlooks: list[tuple[float, tuple[float, ...]]] = []
        if verdict is not None:
            ahead, out.pace_source = verdict.pace, verdict.leader
            # Paces the range must also allow, each with its own backtests: what the best-backtested candidate
            # says (the tie-break leans to the pace now) and, for a slowdown taken as passing, its 10 % and 90 %
            # outcomes (it passes soon, it lasts).
            outlooks.append((verdict.paces[verdict.best], verdict.best_ratios))
            change = run.change
            if change is not None and change.ratio > HEDGE_ABOVE and verdict.pace > change.old_pace:
                age = iteration - change.iteration
                ahead = passing_slowdown(verdict.pace, change.old_pace, age, remaining)
                out.pace_source = HEDGED
                outcomes = slowdown_outcomes(verdict.pace, change.old_pace, age, remaining)
                outlooks += [(outcome, verdict.ratios) for outcome in outcomes]
            elif change is not None and change.ratio < 1 / HEDGE_ABOVE and pace is not None and verdict.pace > pace:
                # As large a speed-up is taken at its word (a cold first epoch over, a stall or a neighbour gone):
                # the backtests that favour a slower candidate were measured on the regime that ended.
                ahead, out.pace_source = pace, DEFAULT
            future: float | None = (ahead + hang_rate) * remaining + periodic_ahead
            out.eta_seconds_per_iteration = ahead
        else:
            future = future_seconds(run, iteration, total) if run.window.pace is not None else None
            if future is None and pace is not None:
                future = pace * remaining + periodic_ahead
        if future is not None:
            out.periodic_events_remaining = periodic.remaining(iteration, total)
            eta = future
            if gap is not None and expected is not None and gap > 0:
                # Time passes between log lines: count it down, but not past what the next line should take.
                eta = max(0.0, eta - min(gap, expected))
            _fill_eta(run, out, eta, remaining, total, now)
            if verdict is not None and ahead is not None:
                share = remaining / (remaining + iteration - run.origin)
                alternatives = [(ahead, verdict.ratios), *outlooks]
                ends = [judged_range(eta + (pace - ahead) * remaining, replace(verdict, pace=pace, ratios=ratios),
                                     remaining, share) for pace, ratios in alternatives]
                out.eta_lower_seconds = min(low for low, _ in ends)
                out.eta_upper_seconds = max(high for _, high in ends)
        if finished:
            out.eta_seconds = out.eta_lower_seconds = out.eta_upper_seconds = 0.0
            out.completion_timestamp_seconds = run.last_time
        elif stalled:
            # A hung run has no ETA: publishing the last one would be a stale number that looks alive.
            out.eta_seconds = out.eta_lower_seconds = out.eta_upper_seconds = None
            out.completion_timestamp_seconds = None
    out.state = _state_of(run, finished, stalled, evaluating, now, total is None)
    return _bounded(out)

def _fill_eta(run: Run, out: Estimate, eta: float, remaining: int, total: int, now: float) -> None:
    out.eta_seconds = eta
    out.completion_timestamp_seconds = now + eta
    window_sigma = run.window.relative_sigma()
    samples = max(len(run.window), 1)
    stat = (window_sigma or 0.0) / math.sqrt(samples)
    clock = (run.last_time if run.last_time is not None else run.clock) - run.overhead_seconds
    calibration = run.calibration.bounds(out.iteration or 0, clock, horizon=remaining)
    # The run's own errors cover horizons as long as the stretch it has run; beyond that (remaining work
    # longer than the work seen) only the prior speaks for what it has not shown yet.
    prior_share = 1.0
    if calibration is not None and remaining > 0:
        prior_share = max(0.0, 1.0 - run.normal_iterations / remaining)
    drift = run.blocks.sigma(sample_sigma=window_sigma or 0.0, prior_share=prior_share)
    elapsed = None
    if run.last_time is not None and run.first_progress_time is not None:
        elapsed = run.last_time - run.first_progress_time
    if elapsed and elapsed > 0:
        fraction = eta / (eta + elapsed)
    else:
        fraction = remaining / total if total else 1.0
    hang_rate = run.window.clipped_seconds / run.normal_iterations if run.normal_iterations else 0.0
    # The point estimate already carries recurring hangs ((n-1)/n of their rate): the upper end adds the rest.
    hang_rate /= max(1.0, run.window.hangs)
    lower, upper = eta_range(
        eta,
        remaining_fraction=fraction,
        stat_sigma=stat,
        drift_sigma=drift,
        hang_seconds=hang_rate * remaining,
        calibration=calibration,
    )
    out.eta_lower_seconds = lower
    out.eta_upper_seconds = upper

def trend_of(run: Run, pace_ratio: float | None) -> str:
    if not run.warmup_done or run.window.pace is None:
        return "unknown"
    if pace_ratio is not None and 1 / TREND_TOLERANCE <= pace_ratio <= TREND_TOLERANCE:
        return "steady"
    if run.change is None:
        return "steady"
    if run.change.ratio > TREND_TOLERANCE:
        return "slowing"
    if run.change.ratio < 1 / TREND_TOLERANCE:
        return "speeding_up"
    return "steady"

def _state_of(run: Run, finished: bool, stalled: bool, evaluating: bool, now: float, no_total: bool) -> str:
    if finished:
        return "finished"
    if stalled:
        return "stalled"
    if evaluating:
        return "evaluating"
    if not run.warmup_done:
        return "warmup"
    if run.regression.regressed(now if run.last_time is not None else None):
        return "regressed"
    if no_total:
        return "unknown_total"
    return "running"


def _bounded(out: Estimate) -> Estimate:
    """Figures past any meaningful range become unknown (None), never absurd gauges or unprintable dates."""
    if out.eta_seconds is not None and not 0 <= out.eta_seconds <= MAX_ETA_SECONDS:
        out.eta_seconds = out.eta_lower_seconds = out.eta_upper_seconds = None
        out.completion_timestamp_seconds = None
    if out.eta_upper_seconds is not None and out.eta_upper_seconds > MAX_ETA_SECONDS:
        out.eta_upper_seconds = MAX_ETA_SECONDS
    for name in ("seconds_per_iteration", "eta_seconds_per_iteration", "baseline_seconds_per_iteration",
                 "pace_ratio", "warmup_seconds", "periodic_overhead_seconds"):
        value = getattr(out, name)
        if value is not None and not (math.isfinite(value) and 0 <= value < MAX_ETA_SECONDS):
            setattr(out, name, None)
    return out
