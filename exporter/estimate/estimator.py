"""The estimator: events in, an ``Estimate`` out. Pure code: no I/O, the clock is injected."""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable, Iterable
from itertools import repeat

from exporter.estimate.assembly import assemble, future_seconds, pace_history_of, split_of
from exporter.estimate.baseline import Baseline
from exporter.estimate.candidates import Verdict, judge
from exporter.estimate.columns import take_ordinary
from exporter.estimate.model import Estimate
from exporter.estimate.pace import ChangePoint, Sample
from exporter.estimate.periodic import DETECTED
from exporter.estimate.phases import TimeSplit
from exporter.estimate.robust import median
from exporter.estimate.run import GAPS_KEPT, Run, RunPlan, total_of, typical_line_gap
from exporter.events import Checkpoint, Config, Eval, Event, Failure, Progress, ProgressColumns

BURST_LINES = 16
"""Progress lines arriving at one time that mark a log written out in blocks (``Run.buffered``): more than a live
poll (at most a second) holds of a trainer that prints each line as it goes, unless it prints 16 lines a second."""
WARMUP_SAMPLES = 3
"""Samples held back at the start of a run to decide which leading ones were warm-up."""
WARMUP_FACTOR = 1.5
"""A leading sample slower than this x the typical early pace is warm-up (compile, caches, allocator)."""
SPIKE_FACTOR = 2.0
"""A sample slower than this x the current pace is a spike: an eval/checkpoint, a hang, or a new pace."""
_NO_KINDS: frozenset[str] = frozenset()


class Estimator:
    """Follows one log's events and estimates pace, ETA with a range, and the run's state.

    ``observe`` is O(1) amortised and ``estimate`` is O(window), so replaying a long log stays linear.
    """

    def __init__(self, *, total_iterations: int | None = None, total_epochs: int | None = None,
                 clock: Callable[[], float] = _time.time) -> None:
        """``total_iterations`` / ``total_epochs``: what the user says of the run's length (wins over the log; epochs
        count once the log states an epoch's size)."""
        self._total_flag = total_iterations
        self._epochs_flag = total_epochs
        self._clock = clock
        self._run = Run(RunPlan())
        self._previous: Run | None = None
        """The run a restart or resume replaced, until the new run's first progress line tells which it is."""
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

    def observe(self, event: Event | ProgressColumns) -> None:
        """Take one event (or a run of progress lines read as columns) into account."""
        if isinstance(event, ProgressColumns):
            self._run.failure = None
            self._columns(event)
        else:
            self._event(event)

    def _event(self, event: Event) -> None:
        if event.time is not None:
            self._last_event_time = event.time
        run = self._run
        if run.first_time is None and event.time is not None:
            run.first_time = event.time
        if isinstance(event, Progress):
            run.failure = None  # progress after a printed exception: it was caught, the run goes on
            self._progress(event)
        elif isinstance(event, Config):
            self._config(event)
        elif isinstance(event, Eval):
            run.eval_open = not event.done
            if event.done and event.seconds:
                run.printed_work += event.seconds
            self._tag(event.iteration, "eval")
        elif isinstance(event, Checkpoint):
            self._tag(event.iteration, "checkpoint")
        elif isinstance(event, Failure):
            run.failure = event.message

    def _columns(self, columns: ProgressColumns) -> None:
        """Consecutive progress lines, as ``observe`` on each: lines without record times that only join the open
        sample are taken many at once (``columns.take_ordinary``)."""
        iterations, seconds = columns.iterations, columns.seconds
        last = len(iterations) - 1
        index = 0
        while index < last:
            if columns.times is None:
                taken, full = take_ordinary(self._run, iterations, seconds, index, last, spike_factor=SPIKE_FACTOR)
                if taken > index:
                    run = self._run
                    if full:
                        self._close(run, iterations[taken - 1], None, _NO_KINDS)
                    run.last_iteration = iterations[taken - 1]
                    run.eval_open = False
                    index = taken
                    continue
            self._event(columns.line(index))
            index += 1
        self._event(columns.last)

    def _config(self, event: Config) -> None:
        if event.new_run and self._run.started:
            self._previous = self._run
            self._run = Run(RunPlan(), first_time=event.time)
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
            # A restart or resume: the pace, warm-up and schedule start over; the configured size stays, and a
            # resume continues the schedule (``_first_progress``).
            self._previous = run
            run = self._run = Run(run.config, first_time=event.time)
            if run.config.eval_interval:
                run.periodic.configured_interval = run.config.eval_interval
        if not run.started:
            run.started = True
            self._runs += 1
        if event.global_total is not None or event.batches_per_epoch:
            run.line_total = event.global_total  # None for an epoch's count without the epochs: the run's is not known
        if event.batches_per_epoch and run.config.batches_per_epoch is None:
            run.config.batches_per_epoch = event.batches_per_epoch
        if event.loss is not None and not math.isfinite(event.loss):
            self._nonfinite += 1
        if event.data_seconds is not None and event.iteration_seconds:
            run.data_ratios.append((iteration, event.data_seconds / event.iteration_seconds))

        if run.last is None:
            self._first_progress(run, event)
        elif iteration > (run.last_iteration or 0):
            self._advance(run, event, iteration)
        run.eval_open = run.eval_open and iteration == run.last_iteration
        run.last = event
        run.last_iteration = iteration
        if event.time is not None:
            run.last_time = event.time

    def _first_progress(self, run: Run, event: Progress) -> None:
        """The first line of a run carries start-up and compile time: warm-up, never pace. A run that starts
        past where the one before it started resumes it: the schedule of periodic work continues."""
        previous, self._previous = self._previous, None
        if previous is not None and previous.last is not None and event.global_iteration > previous.origin:
            run.periodic.resume_from(previous.periodic)
        run.first_progress_time = event.time
        # The first line stands for one iteration, or for all of its first epoch's that it counts (Keras
        # ``verbose=2``: one line per epoch).
        run.warmup_iterations = max(1, event.iteration) if event.epoch == 0 else 1
        if event.time is not None and run.first_time is not None and event.time > run.first_time:
            run.warmup_seconds += event.time - run.first_time
        elif event.iteration_seconds is not None:
            run.warmup_seconds += event.iteration_seconds * run.warmup_iterations
        run.anchor_iteration = event.global_iteration
        run.anchor_time = event.time
        run.origin = event.global_iteration
        run.tagged_kinds = set()

    def _advance(self, run: Run, event: Progress, iteration: int) -> None:
        gap = iteration - (run.last_iteration or 0)
        run.line_gaps.append(gap)
        run.line_gap = None
        run.lines += 1
        pending = run.pending
        printed = event.iteration_seconds is not None and event.iteration_seconds >= 0
        pace = event.iteration_seconds if printed else run.window.pace
        self._arrival(run, event.time, (pace or 0.0) * gap)
        # A log in blocks is read as a log without record times where its lines print their own time: the arrival
        # says when a block was written out, not when a line was printed. Its arrivals still time the silence.
        time = None if run.buffered and printed else event.time
        timed = time is not None and run.anchor_time is not None
        work, run.printed_work = run.printed_work, 0.0
        line: tuple[float, float] | None = None
        if time is not None and run.anchor_time is not None:
            # From the previous line with a later time than the one before it: lines read in one poll share
            # their arrival time, and such a burst counts as one line, the first of it carrying them all.
            since_iteration, since_time = run.anchor_iteration or 0, run.anchor_time
            if pending.lines and pending.timed and pending.end_time is not None:
                since_iteration, since_time = pending.end_iteration, pending.end_time
            if time - since_time <= 0:
                return  # same timestamp: let the next sample span both updates
            line = (iteration - since_iteration, time - since_time)
        elif printed and event.iteration_seconds is not None:
            # A printed time stands for the iterations it was measured over, never for the logging gap; an
            # evaluation printed since the line before adds the time it printed.
            count = min(event.averaged_over or 1, gap)
            line = (count, event.iteration_seconds * count + work)
        due = run.periodic.due_kinds(iteration - gap, iteration)
        kinds = _NO_KINDS
        if due or run.tagged_kinds:
            kinds = run.periodic.separable(run.tagged_kinds.union(due), typical_line_gap(run))
            run.tagged_kinds = set()
        alone = line is None or bool(kinds) or not self._ordinary(run, line, timed)
        if alone and pending.lines:
            # A line of its own: the lines taken so far close first, as the sample before it.
            self._close(run, pending.end_iteration, pending.end_time, frozenset())
        if line is None:
            run.anchor_iteration, run.anchor_time = iteration, time
            return
        # With record times a line spans everything since its start; with printed ones the logging gap.
        pending.add(line[0], line[1], line[0] if timed else gap, timed=timed, iteration=iteration, time=time)
        if not alone and not pending.full(run.lines):
            if not timed:
                run.anchor_iteration, run.anchor_time = iteration, time
            return
        self._close(run, iteration, time, kinds)

    @staticmethod
    def _arrival(run: Run, time: float | None, seconds: float) -> None:
        """Count the lines that move the run on and arrive at one time (a redraw of the same iteration between
        them does not part them), and the ``seconds`` their iterations took (printed, else at the pace); in a log
        that arrives in blocks (``Run.buffered``) the seconds between two blocks are the gaps the stall allowance
        learns."""
        if time is None:
            return
        if time != run.burst_time:
            run.alone = run.alone + 1 if run.burst == 1 else 0
            if run.buffered and run.alone >= BURST_LINES:
                run.buffered = False
            elif run.buffered and run.burst_time is not None:
                run.gap_seconds.append(time - run.burst_time)
            run.burst, run.burst_seconds, run.burst_time = 1, seconds, time
            return
        run.burst += 1
        run.burst_seconds += seconds
        if run.burst >= BURST_LINES:
            run.buffered = True

    @staticmethod
    def _ordinary(run: Run, line: tuple[float, float], timed: bool) -> bool:
        """Whether a line may share a sample with the lines before it: warm-up is over, it is of the same kind
        (record times or printed ones) as them, and it is no spike."""
        reference = run.window.pace
        iterations, seconds = line
        if not run.warmup_done or reference is None or iterations <= 0:
            return False
        if run.pending.lines and run.pending.timed != timed:
            return False
        return seconds <= SPIKE_FACTOR * reference * iterations

    def _close(self, run: Run, iteration: int, time: float | None, kinds: frozenset[str]) -> None:
        """The lines taken since the anchor become one sample ending at ``iteration``."""
        pending = run.pending
        iterations: float
        if pending.timed and time is not None and run.anchor_time is not None:
            iterations, seconds = iteration - (run.anchor_iteration or 0), time - run.anchor_time
        else:
            iterations, seconds = pending.iterations, pending.seconds
        sample = Sample(iterations, seconds, iteration, time, span=pending.span, lines=pending.lines)
        pending.clear()
        run.anchor_iteration, run.anchor_time = iteration, time
        # Printed times cover only the printed iterations: the unprinted ones in the gap ran at the pace.
        unprinted = max(0.0, sample.span - sample.iterations)
        run.clock += sample.seconds + unprinted * (run.window.pace or sample.pace)
        if time is not None:
            run.wall_offset = time - run.clock
        self._ingest(run, sample, kinds)

    def _ingest(self, run: Run, sample: Sample, tagged: frozenset[str]) -> None:
        if not run.warmup_done:
            run.warmup_pending.append((sample, tagged))
            if sum(1 for _, t in run.warmup_pending if not t) >= WARMUP_SAMPLES:
                self._end_warmup(run)
            return
        self._classify(run, sample, tagged)

    def _end_warmup(self, run: Run) -> None:
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

    def _classify(self, run: Run, sample: Sample, tagged: frozenset[str]) -> None:
        run.samples += 1
        reference = run.window.pace
        clock = sample.end_time if sample.end_time is not None else run.clock
        if tagged:
            if reference is not None:
                self._overhead(run, sample, reference, tagged)
            return
        spike = reference is not None and sample.pace > SPIKE_FACTOR * reference
        step = typical_line_gap(run)
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
        if not hang and not run.buffered:
            # Per line: a sample of several lines stands for as many gaps of its mean length.
            run.gap_seconds.extend(repeat(sample.line_seconds / sample.lines, min(sample.lines, GAPS_KEPT)))
        pace = run.window.pace
        # One-off hangs stay out of the history the candidates are judged on; their recurrence is added back.
        self._record(run, sample, sample.seconds - hang)
        if pace is not None:
            run.baseline.add(pace, clock)
            baseline = run.baseline.value
            run.regression.update(pace / baseline if baseline else None, sample.end_time)
        total = total_of(run, self._total_flag, self._epochs_flag)
        if total is not None and total > sample.end_iteration:
            # Calibrate the pace part only: eval/checkpoint work has its own schedule and measured cost, and a
            # schedule learnt late must not read as the pace having been wrong.
            remaining = total - sample.end_iteration
            future = future_seconds(run, sample.end_iteration, total, periodic=False)
            if future is not None:
                run.calibration.record(sample.end_iteration, clock - run.overhead_seconds, future / remaining)

    def _overhead(self, run: Run, sample: Sample, reference: float, kinds: Iterable[str]) -> None:
        """A sample holding eval/checkpoint work: its excess over the pace is the work's cost, the rest normal."""
        normal = sample.iterations * reference
        seconds = sample.seconds - normal
        run.periodic.add_cost(seconds, kinds)
        run.overhead_seconds += max(0.0, seconds)
        self._record(run, sample, min(sample.seconds, normal), overhead=max(0.0, seconds))

    @staticmethod
    def _record(run: Run, sample: Sample, normal_seconds: float, *, overhead: float = 0.0) -> None:
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

    def _change(self, run: Run, change: ChangePoint) -> None:
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

    def _judged(self, run: Run, remaining: int, hang_rate: float) -> Verdict | None:
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

    def estimate(self, *, now: float | None = None) -> Estimate:
        """The current picture; ``now`` (Unix seconds) defaults to the injected clock."""
        run = self._run
        return assemble(run, total=total_of(run, self._total_flag, self._epochs_flag),
                        now=self._clock() if now is None else now, runs=self._runs, nonfinite=self._nonfinite,
                        judged=self._judged)

    def time_split(self, estimate: Estimate) -> TimeSplit:
        """Where the current run's wall time went up to ``estimate`` (see ``assembly.split_of``)."""
        return split_of(self._run, estimate)

    def pace_history(self, points: int = 240) -> tuple[tuple[float, float], ...]:
        """(time, seconds per iteration of normal work) over the current run (see ``assembly.pace_history_of``)."""
        return pace_history_of(self._run, points)
