"""The estimator: events in, an ``Estimate`` out. Pure code: no I/O, the clock is injected."""

from __future__ import annotations

import math
import time as _time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from exporter.estimate.baseline import Baseline, Regression
from exporter.estimate.candidates import Verdict, judge
from exporter.estimate.model import Estimate
from exporter.estimate.pace import ChangePoint, PaceWindow, Sample
from exporter.estimate.periodic import DETECTED, PeriodicOverhead
from exporter.estimate.phases import TimeSplit, time_split
from exporter.estimate.range import BlockSpread, Calibration, eta_range, judged_range
from exporter.estimate.robust import median
from exporter.estimate.stall import Rhythm, allowance
from exporter.estimate.timeline import Timeline
from exporter.events import Checkpoint, Config, Eval, Event, Progress

WARMUP_SAMPLES = 3
"""Samples held back at the start of a run to decide which leading ones were warm-up."""
WARMUP_FACTOR = 1.5
"""A leading sample slower than this x the typical early pace is warm-up (compile, caches, allocator)."""
SPIKE_FACTOR = 2.0
"""A sample slower than this x the current pace is a spike: an eval/checkpoint, a hang, or a new pace."""
MAX_ETA_SECONDS = 100 * 365.25 * 86400.0
"""An ETA beyond a century says "never" (a bar printing 1e-300 it/s): published as unknown, not as 9e302 s."""
TREND_TOLERANCE = 1.15
"""Pace within this factor of the baseline reads as steady."""


@dataclass
class _RunConfig:
    """What the log says about the run's size and schedule (merged from Config events)."""

    total_iterations: int | None = None
    total_epochs: int | None = None
    batches_per_epoch: int | None = None
    eval_interval: int | None = None

    def merge(self, event: Config) -> None:
        for name in ("total_iterations", "total_epochs", "batches_per_epoch", "eval_interval"):
            value = getattr(event, name)
            if value is not None:
                setattr(self, name, value)


@dataclass
class _Run:
    """Everything that restarts when the trainer restarts or resumes."""

    config: _RunConfig
    window: PaceWindow = field(default_factory=PaceWindow)
    periodic: PeriodicOverhead = field(default_factory=PeriodicOverhead)
    baseline: Baseline = field(default_factory=Baseline)
    regression: Regression = field(default_factory=Regression)
    blocks: BlockSpread = field(default_factory=BlockSpread)
    calibration: Calibration = field(default_factory=Calibration)
    timeline: Timeline = field(default_factory=Timeline)
    started: bool = False
    first_time: float | None = None
    first_progress_time: float | None = None
    last: Progress | None = None
    last_iteration: int | None = None
    last_time: float | None = None
    anchor_iteration: int | None = None
    anchor_time: float | None = None
    line_total: int | None = None
    warmup_pending: list[tuple[Sample, frozenset[str]]] = field(default_factory=list)
    warmup_done: bool = False
    warmup_seconds: float = 0.0
    warmup_iterations: int = 0
    samples: int = 0
    normal_iterations: float = 0.0
    normal_seconds: float = 0.0
    """Unclipped seconds of the normal iterations (warm-up and periodic work excluded): the long-run pace."""
    changes: int = 0
    """Change points after warm-up: how often this run's pace has switched."""
    clock: float = 0.0
    """Seconds elapsed as the samples tell it: the history's clock, in one basis whether the records have times
    or not (a log read as history without times and then followed live with arrival times stays continuous)."""
    wall_offset: float | None = None
    """Record time minus ``clock`` at the latest sample with a time: maps the history's clock to wall time."""
    overhead_seconds: float = 0.0
    """Extra seconds measured in eval/checkpoint samples so far (kept out of the pace's calibration)."""
    origin: int = 0
    """The run's first iteration."""
    steps: deque[int] = field(default_factory=lambda: deque(maxlen=32))
    gap_seconds: deque[float] = field(default_factory=lambda: deque(maxlen=32))
    """Seconds between consecutive progress lines of normal work (hangs and periodic work left out)."""
    step: int | None = None
    """round(median(steps)), read by every sample and every estimate; None when stale."""
    data_ratios: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=64))
    change: ChangePoint | None = None
    eval_open: bool = False
    tagged_kinds: set[str] = field(default_factory=set)
    tagged_at: int | None = None


class Estimator:
    """Follows one log's events and estimates pace, ETA with a range, and the run's state.

    ``observe`` is O(1) amortised and ``estimate`` is O(window), so replaying a long log stays linear.
    """

    def __init__(self, *, total_iterations: int | None = None, clock: Callable[[], float] = _time.time) -> None:
        self._total_flag = total_iterations
        self._clock = clock
        self._run = _Run(_RunConfig())
        self._runs = 0
        self._nonfinite = 0
        self._last_event_time: float | None = None
        self._verdict: tuple[tuple[object, ...], Verdict | None] | None = None

    @property
    def runs(self) -> int:
        return self._runs

    @property
    def last_event_time(self) -> float | None:
        """Time of the latest event that had one (a log read after the fact ends there)."""
        return self._last_event_time

    @property
    def wants_last_time(self) -> bool:
        """Whether the latest progress line has no time yet (``assume_last_time`` would give it one)."""
        return self._run.last is not None and self._run.last_time is None

    def assume_last_time(self, time: float) -> None:
        """The latest record was written no later than ``time`` (the file's modification time): a log without
        record times, read after the fact, gets a position in time, so a dead run can be seen to be stalled."""
        run = self._run
        if self.wants_last_time:
            run.last_time = time
            if run.anchor_iteration == run.last_iteration:
                run.anchor_time = time
            if run.wall_offset is None:
                run.wall_offset = time - run.clock

    def observe(self, event: Event) -> None:
        """Take one event into account."""
        if event.time is not None:
            self._last_event_time = event.time
        run = self._run
        if run.first_time is None and event.time is not None:
            run.first_time = event.time
        if isinstance(event, Config):
            self._config(event)
        elif isinstance(event, Eval):
            run.eval_open = not event.done
            self._tag(event.iteration, "eval")
        elif isinstance(event, Checkpoint):
            self._tag(event.iteration, "checkpoint")
        elif isinstance(event, Progress):
            self._progress(event)

    def _config(self, event: Config) -> None:
        if event.new_run and self._run.started:
            self._run = _Run(_RunConfig(), first_time=event.time)
        self._run.config.merge(event)
        if self._run.config.eval_interval:
            self._run.periodic.configured_interval = self._run.config.eval_interval

    def _tag(self, iteration: int | None, kind: str) -> None:
        """An eval/checkpoint line: its cost belongs to the sample that contains it, not to the pace."""
        run = self._run
        at = iteration if iteration is not None else run.last_iteration
        if run.tagged_kinds and at == run.tagged_at and kind not in run.tagged_kinds:
            # A second kind at the same iteration (nanoGPT saves right after its eval): one block of work.
            return
        if at is not None:
            run.periodic.tag(
                at,
                kind=kind,
                after_progress=at == run.last_iteration,
                origin=run.origin,
                epoch_length=run.config.batches_per_epoch,
            )
        run.tagged_kinds.add(kind)
        run.tagged_at = at

    def _progress(self, event: Progress) -> None:
        run = self._run
        iteration = event.global_iteration
        if run.last_iteration is not None and iteration < run.last_iteration:
            # A restart or resume: the pace, warm-up and schedule start over; the configured size stays.
            run = self._run = _Run(run.config, first_time=event.time)
            if run.config.eval_interval:
                run.periodic.configured_interval = run.config.eval_interval
        if not run.started:
            run.started = True
            self._runs += 1
        if event.global_total is not None:
            run.line_total = event.global_total
        if event.batches_per_epoch and run.config.batches_per_epoch is None:
            run.config.batches_per_epoch = event.batches_per_epoch
        if event.loss is not None and not math.isfinite(event.loss):
            self._nonfinite += 1
        if event.data_seconds is not None and event.iteration_seconds:
            run.data_ratios.append((iteration, event.data_seconds / event.iteration_seconds))

        if run.last is None:
            self._first_progress(run, event)
        elif iteration > (run.last_iteration or 0):
            self._step(run, event, iteration)
        run.eval_open = run.eval_open and iteration == run.last_iteration
        run.last = event
        run.last_iteration = iteration
        if event.time is not None:
            run.last_time = event.time

    def _first_progress(self, run: _Run, event: Progress) -> None:
        """The first line of a run carries start-up and compile time: warm-up, never pace."""
        run.first_progress_time = event.time
        if event.time is not None and run.first_time is not None and event.time > run.first_time:
            run.warmup_seconds += event.time - run.first_time
        elif event.iteration_seconds is not None:
            run.warmup_seconds += event.iteration_seconds
        run.warmup_iterations = 1
        run.anchor_iteration = event.global_iteration
        run.anchor_time = event.time
        run.origin = event.global_iteration
        run.tagged_kinds = set()

    def _step(self, run: _Run, event: Progress, iteration: int) -> None:
        gap = iteration - (run.last_iteration or 0)
        run.steps.append(gap)
        run.step = None
        sample: Sample | None = None
        if event.time is not None and run.anchor_time is not None:
            seconds = event.time - run.anchor_time
            if seconds <= 0:
                return  # same timestamp: let the next sample span both updates
            sample = Sample(iteration - (run.anchor_iteration or 0), seconds, iteration, event.time, span=gap)
        elif event.iteration_seconds is not None and event.iteration_seconds >= 0:
            # A printed time stands for the iterations it was measured over, never for the logging gap.
            count = min(event.averaged_over or 1, gap)
            sample = Sample(count, event.iteration_seconds * count, iteration, event.time, span=gap)
        run.anchor_iteration = iteration
        run.anchor_time = event.time
        kinds = frozenset(run.tagged_kinds | set(run.periodic.due_kinds(iteration - gap, iteration)))
        run.tagged_kinds = set()
        if sample is not None and sample.seconds >= 0:
            # Printed times cover only the printed iterations: the unprinted ones in the gap ran at the pace.
            unprinted = max(0.0, gap - sample.iterations)
            run.clock += sample.seconds + unprinted * (run.window.pace or sample.pace)
            if event.time is not None:
                run.wall_offset = event.time - run.clock
            self._ingest(run, sample, kinds)

    def _ingest(self, run: _Run, sample: Sample, tagged: frozenset[str]) -> None:
        if not run.warmup_done:
            run.warmup_pending.append((sample, tagged))
            if sum(1 for _, t in run.warmup_pending if not t) >= WARMUP_SAMPLES:
                self._end_warmup(run)
            return
        self._classify(run, sample, tagged)

    def _end_warmup(self, run: _Run) -> None:
        pending, run.warmup_pending = run.warmup_pending, []
        run.warmup_done = True
        typical = median([s.pace for s, t in pending if not t])
        leading = 0
        for sample, tagged in pending:
            if tagged or sample.pace <= WARMUP_FACTOR * typical:
                break
            run.warmup_seconds += sample.seconds
            run.warmup_iterations += int(sample.iterations)
            leading += 1
        for sample, tagged in pending[leading:]:
            self._classify(run, sample, tagged)

    def _classify(self, run: _Run, sample: Sample, tagged: frozenset[str]) -> None:
        run.samples += 1
        reference = run.window.pace
        clock = sample.end_time if sample.end_time is not None else run.clock
        if tagged:
            if reference is not None:
                self._overhead(run, sample, reference, tagged)
            return
        spike = reference is not None and sample.pace > SPIKE_FACTOR * reference
        step = self._typical_step(run)
        if run.periodic.sample(sample.end_iteration, spike=spike, step=step) and reference is not None:
            self._overhead(run, sample, reference, [DETECTED])
            return
        hang = run.window.excess(sample)
        change = run.window.add(sample)
        run.normal_iterations += sample.iterations
        run.normal_seconds += sample.seconds
        if change is not None:
            hang = 0.0  # the slow sample opened a new pace: not a hang
            self._change(run, change)
        run.blocks.add(sample.iterations, sample.seconds)
        if not hang:
            run.gap_seconds.append(sample.line_seconds)
        pace = run.window.pace
        # One-off hangs stay out of the history the candidates are judged on; their recurrence is added back.
        self._record(run, sample, sample.seconds - hang)
        if pace is not None:
            run.baseline.add(pace, clock)
            baseline = run.baseline.value
            run.regression.update(pace / baseline if baseline else None, sample.end_time)
        total = self._total(run)
        if total is not None and total > sample.end_iteration:
            # Calibrate the pace part only: eval/checkpoint work has its own schedule and measured cost, and a
            # schedule learnt late must not read as the pace having been wrong.
            remaining = total - sample.end_iteration
            future = self._future_seconds(run, sample.end_iteration, total, periodic=False)
            if future is not None:
                run.calibration.record(sample.end_iteration, clock - run.overhead_seconds, future / remaining)

    @staticmethod
    def _typical_step(run: _Run) -> int:
        """The usual logging gap in iterations (1 before any), cached until the next step."""
        if run.step is None:
            run.step = round(median(run.steps)) if run.steps else 1
        return run.step

    def _overhead(self, run: _Run, sample: Sample, reference: float, kinds: Iterable[str]) -> None:
        """A sample holding eval/checkpoint work: its excess over the pace is the work's cost, the rest normal."""
        normal = sample.iterations * reference
        seconds = sample.seconds - normal
        run.periodic.add_cost(seconds, kinds)
        run.overhead_seconds += max(0.0, seconds)
        self._record(run, sample, min(sample.seconds, normal), overhead=max(0.0, seconds))

    @staticmethod
    def _record(run: _Run, sample: Sample, normal_seconds: float, *, overhead: float = 0.0) -> None:
        if run.window.pace is None:
            return
        if sample.span > sample.iterations > 0:
            normal_seconds *= sample.span / sample.iterations
        run.timeline.add(
            start_iteration=sample.end_iteration - max(sample.span, sample.iterations),
            end_iteration=sample.end_iteration,
            clock=run.clock,
            seconds=sample.seconds,
            normal_seconds=normal_seconds,
            overhead_seconds=overhead,
            window_pace=run.window.pace,
        )

    def _change(self, run: _Run, change: ChangePoint) -> None:
        """A speed-up that ends the first segment after warm-up, before the baseline froze, is the tail of
        warm-up (caches, allocator, a slow first epoch settling): it moves to warm-up and the baseline starts
        over, instead of reading as a trend or as a regime switch."""
        if change.ratio < 1 and not run.baseline.frozen and run.changes == 0:
            moved = min(change.old_iterations, run.normal_iterations)
            run.warmup_iterations += round(moved)
            run.warmup_seconds += change.old_seconds
            run.normal_iterations -= moved
            run.normal_seconds = max(0.0, run.normal_seconds - change.old_seconds)
            run.baseline = Baseline()
            run.calibration.clear()
            run.timeline.drop_before(change.iteration - 1)
            return
        run.change = change
        run.changes += 1

    def _judged(self, run: _Run, remaining: int, hang_rate: float) -> Verdict | None:
        """The judge's verdict, computed again only when the history, the remaining work or the added costs
        changed (a scrape between two progress lines reuses it: same inputs, same verdict)."""
        periodic = run.periodic
        key = (id(run), len(run.timeline), run.timeline.iteration[-1] if len(run.timeline) else None,
               run.timeline.clock[-1] if len(run.timeline) else None, remaining, hang_rate, periodic.state_key())
        if self._verdict is None or self._verdict[0] != key:
            verdict = judge(
                run.timeline,
                remaining,
                lambda start, end: hang_rate * (end - start) + periodic.seconds_between(start, end),
            )
            self._verdict = (key, verdict)
        return self._verdict[1]

    @staticmethod
    def _hang_rate(run: _Run) -> float:
        """Seconds per iteration of clipped hangs expected ahead: none after a single one (it may be one-off),
        (n - 1) / n of their observed rate after n."""
        clipped = run.window.clipped_samples
        if clipped <= 1 or run.normal_iterations <= 0:
            return 0.0
        return run.window.clipped_seconds / run.normal_iterations * (clipped - 1) / clipped

    def _future_seconds(self, run: _Run, iteration: int, total: int, *, periodic: bool = True) -> float | None:
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
        clipped = run.window.clipped_samples
        if clipped > 1 and run.normal_iterations > 0:
            current += run.window.clipped_seconds / run.normal_iterations * (clipped - 1) / clipped
        weight = 1.0
        if run.changes > 1 and run.normal_iterations > 0 and remaining > 0:
            length = run.normal_iterations / (run.changes - 1)
            ratio = remaining / length
            weight = (1 - math.exp(-ratio)) / ratio
        future = current
        if weight < 1:
            future = weight * current + (1 - weight) * run.normal_seconds / run.normal_iterations
        return future * remaining + (run.periodic.seconds_remaining(iteration, total) if periodic else 0.0)

    def time_split(self, estimate: Estimate) -> TimeSplit:
        """Where the current run's wall time went up to ``estimate`` (this estimator's latest; its stall counts as
        the current stall); see ``phases``. O(history): read it when it is shown."""
        run = self._run
        return time_split(
            run.timeline,
            baseline=run.baseline.value,
            warmup_seconds=run.warmup_seconds,
            stalled_seconds=estimate.seconds_since_progress or 0.0,
            clock_offset=run.wall_offset or 0.0,
        )

    def pace_history(self, points: int = 240) -> tuple[tuple[float, float], ...]:
        """(time, seconds per iteration of normal work) over the current run, at most ``points`` evenly spaced
        stretches of its history (for a plot); wall time when the records have times, else the run's own clock."""
        timeline = self._run.timeline
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
                out.append((timeline.clock[b] + (self._run.wall_offset or 0.0), pace))
        return tuple(out)

    def estimate(self, *, now: float | None = None) -> Estimate:
        """The current picture; ``now`` (Unix seconds) defaults to the injected clock."""
        run = self._run
        if now is None:
            now = self._clock()
        out = Estimate(runs=self._runs, nonfinite_loss_events=self._nonfinite)
        total = self._total(run)
        out.total_iterations = total
        last = run.last
        if last is None:
            out.state = "unknown_total" if total is None else "warmup"
            return out
        iteration = run.last_iteration or 0
        out.iteration = iteration
        out.epoch = last.epoch
        out.loss = last.loss
        out.loss_nonfinite = last.loss is not None and not math.isfinite(last.loss)
        out.tokens_per_second = last.tokens_per_second
        out.mfu_ratio = last.mfu
        out.last_progress_timestamp_seconds = run.last_time
        out.warmup_seconds = run.warmup_seconds
        out.warmup_iterations = run.warmup_iterations
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
        out.trend = self._trend(run, out.pace_ratio)

        step = self._typical_step(run)
        typical_seconds = median(run.gap_seconds) if run.gap_seconds else (pace * step if pace else None)
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
            hang_rate = self._hang_rate(run)
            verdict = self._judged(run, remaining, hang_rate)
            if verdict is not None:
                future: float | None = (verdict.pace + hang_rate) * remaining + periodic_ahead
                out.eta_seconds_per_iteration = verdict.pace
                out.pace_source = verdict.leader
            else:
                future = self._future_seconds(run, iteration, total) if run.window.pace is not None else None
                if future is None and pace is not None:
                    future = pace * remaining + periodic_ahead
            if future is not None:
                out.periodic_events_remaining = periodic.remaining(iteration, total)
                eta = future
                if gap is not None and expected is not None and gap > 0:
                    # Time passes between log lines: count it down, but not past what the next line should take.
                    eta = max(0.0, eta - min(gap, expected))
                self._fill_eta(run, out, eta, remaining, total, now)
                if verdict is not None:
                    out.eta_lower_seconds, out.eta_upper_seconds = judged_range(
                        eta, verdict, remaining, remaining / (remaining + iteration - run.origin)
                    )
            if remaining == 0:
                out.eta_seconds = out.eta_lower_seconds = out.eta_upper_seconds = 0.0
                out.completion_timestamp_seconds = run.last_time
            elif stalled:
                # A hung run has no ETA: publishing the last one would be a stale number that looks alive.
                out.eta_seconds = out.eta_lower_seconds = out.eta_upper_seconds = None
                out.completion_timestamp_seconds = None
        out.state = self._state(run, out, total, stalled, evaluating, now)
        return _bounded(out)

    def _fill_eta(self, run: _Run, out: Estimate, eta: float, remaining: int, total: int, now: float) -> None:
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
        hang_rate /= max(1, run.window.clipped_samples)
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

    def _total(self, run: _Run) -> int | None:
        if self._total_flag is not None:
            return self._total_flag
        if run.line_total is not None:
            return run.line_total
        config = run.config
        if config.total_iterations is not None:
            return config.total_iterations
        if config.total_epochs and config.batches_per_epoch:
            return config.total_epochs * config.batches_per_epoch
        return None

    def _trend(self, run: _Run, pace_ratio: float | None) -> str:
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

    def _state(
        self, run: _Run, out: Estimate, total: int | None, stalled: bool, evaluating: bool, now: float
    ) -> str:
        if total is not None and out.iteration is not None and out.iteration >= total:
            return "finished"
        if stalled:
            return "stalled"
        if evaluating:
            return "evaluating"
        if not run.warmup_done:
            return "warmup"
        if run.regression.regressed(now if run.last_time is not None else None):
            return "regressed"
        if total is None:
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
