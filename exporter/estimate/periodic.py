"""Periodic overhead (eval, checkpoint): where it recurs, what one occurrence costs, how many remain.

Each kind of recurring work (``eval``, ``checkpoint``, or spikes found without any tag) has its own schedule:
trainers often evaluate and save on different periods (evaluate every 300, save every 400), and one merged
list of tagged iterations would read as a period of 100. A schedule comes from the trainer's echoed
``eval_interval``, from its tagged lines, or from spikes that recur at a fixed iteration period. Its cost is
measured per occurrence and added back for each remaining occurrence instead of being smeared into the pace
(or, worse, counted once per logged iteration).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from exporter.estimate.robust import clipped_mean, median

DETECTED = "detected"
"""The schedule of untagged spikes found at a recurring period."""


class Schedule:
    """One kind of recurring work: its period, phase and cost per occurrence."""

    def __init__(self, *, max_costs: int = 32) -> None:
        self.configured_interval: int | None = None
        """Period stated by the trainer's config (``eval_interval``), when known."""
        self.tagged: list[int] = []
        self.guess: tuple[int, int] | None = None
        """(period, anchor) inferred from a single tag: see ``PeriodicOverhead.tag``."""
        self.detected: tuple[int, int] | None = None
        self.after_progress = False
        """True when the work runs after the progress line of its iteration (tqdm bars: the bar reaches N, then
        evaluation starts), so it belongs to the next sample and an occurrence at the final iteration lies
        beyond the last training iteration. False when it runs before it (nanoGPT evaluates, then prints)."""
        self._costs: deque[float] = deque(maxlen=max_costs)
        self._cost: float | None = None
        self._carried: float | None = None
        """The cost measured before a resume (``PeriodicOverhead.resume_from``), until this run measures its own."""
        self.inline = False
        """The work recurs at least once per logged line (Keras ``verbose=2``: one line per epoch, its validation
        in it): no line is free of it, so its cost is part of the pace and no occurrence is added on top."""

    @property
    def interval(self) -> int | None:
        """Configured, else inferred from tagged lines, else guessed from one tag, else detected."""
        if self.configured_interval:
            return self.configured_interval
        if len(self.tagged) >= 2:
            diffs = [b - a for a, b in zip(self.tagged, self.tagged[1:]) if b > a]
            if diffs:
                return max(1, round(median(diffs)))
        if self.guess:
            return self.guess[0]
        return self.detected[0] if self.detected else None

    @property
    def anchor(self) -> int:
        """An iteration at which an occurrence happened (the schedule's phase)."""
        if self.configured_interval:
            return 0
        if len(self.tagged) >= 2:
            return self.tagged[-1]
        if self.guess:
            return self.guess[1]
        return self.detected[1] if self.detected else 0

    @property
    def cost(self) -> float | None:
        """Mean extra seconds of one occurrence beyond normal iterations (clipped against one-off hangs)."""
        return self._cost if self._cost is not None else self._carried

    @property
    def longest_cost(self) -> float | None:
        """The longest recent occurrence's extra seconds (what a stall allowance must cover)."""
        return max(self._costs) if self._costs else None

    def add_cost(self, seconds: float) -> None:
        self._costs.append(max(0.0, seconds))
        self._cost = clipped_mean(list(self._costs))

    def resume_from(self, previous: Schedule) -> None:
        """Continue ``previous``, the same work's schedule before a resume: its period and phase where this run
        has not stated its own (the trainer counts iterations as before), and its cost until this run measures
        an occurrence."""
        self.configured_interval = self.configured_interval or previous.configured_interval
        if not self.tagged:
            self.tagged, self.guess = list(previous.tagged), previous.guess
            self.after_progress = previous.after_progress
        self.detected = self.detected or previous.detected
        self._carried = previous.cost

    def count(self, start: int, end: int) -> int:
        """Occurrences whose cost falls in the samples ending in (start, end]."""
        period = self.interval
        if not period or end <= start:
            return 0
        shift = 1 if self.after_progress else 0
        anchor = self.anchor + shift
        return (end - anchor) // period - (start - anchor) // period

    def remaining(self, iteration: int, total: int) -> int:
        """Occurrences still ahead before the last training iteration ends."""
        ahead = self.count(iteration, total)
        if self.after_progress and self.tagged and self.tagged[-1] == iteration and ahead:
            ahead -= 1  # the occurrence at this iteration already started (its line came in)
        return ahead


class PeriodicOverhead:
    """The recurring schedules of one run, by kind, and their combined cost ahead."""

    def __init__(self, *, min_detected: int = 3, max_recent: int = 512) -> None:
        self._min_detected = min_detected
        self._schedules: dict[str, Schedule] = {}
        self._recent: deque[tuple[int, bool]] = deque(maxlen=max_recent)

    def resume_from(self, previous: PeriodicOverhead) -> None:
        """Continue the schedules of the run before a resume (``Schedule.resume_from``): an eval of the same job
        costs what it cost before, and without that the resumed run would count its evals as free until it has
        measured one, an interval or more."""
        for kind, schedule in previous._schedules.items():
            self.schedule(kind).resume_from(schedule)

    def schedule(self, kind: str) -> Schedule:
        if kind not in self._schedules:
            self._schedules[kind] = Schedule()
        return self._schedules[kind]

    @property
    def configured_interval(self) -> int | None:
        schedule = self._schedules.get("eval")
        return schedule.configured_interval if schedule else None

    @configured_interval.setter
    def configured_interval(self, value: int | None) -> None:
        self.schedule("eval").configured_interval = value

    def _known(self) -> list[Schedule]:
        return [s for s in self._schedules.values() if s.interval and not s.inline]

    def separable(self, kinds: Iterable[str], line_gap: int) -> frozenset[str]:
        """The kinds among those due in a sample whose cost can be told apart from the pace: work that recurs
        every ``line_gap`` iterations or more often is in every line (``Schedule.inline``)."""
        kept: list[str] = []
        for kind in kinds:
            schedule = self.schedule(kind)
            interval = schedule.interval
            schedule.inline = interval is not None and interval <= line_gap
            if not schedule.inline:
                kept.append(kind)
        return frozenset(kept)

    def _primary(self) -> Schedule | None:
        """The schedule reported as "the" periodic overhead: the most frequent one."""
        known = self._known()
        return min(known, key=lambda s: s.interval or 0) if known else None

    @property
    def interval(self) -> int | None:
        primary = self._primary()
        return primary.interval if primary else None

    @property
    def cost(self) -> float | None:
        primary = self._primary()
        if primary is not None and primary.cost is not None:
            return primary.cost
        costs = [s.cost for s in self._schedules.values() if s.cost is not None]
        return costs[0] if costs else None

    def tag(self, iteration: int, *, kind: str, after_progress: bool, origin: int, epoch_length: int | None) -> None:
        """The trainer said work of ``kind`` happens at ``iteration`` (several lines may name the same one).

        ``after_progress``: the progress line of ``iteration`` was already seen. Until a second tag gives the
        period, one tag still says something: at a whole epoch of a per-epoch counter (``epoch_length``) the
        work recurs every epoch; otherwise the first occurrence ``iteration - origin`` iterations into the run
        is the best guess of the period (trainers schedule by "every N steps" counted from the start).
        """
        schedule = self.schedule(kind)
        if schedule.tagged and schedule.tagged[-1] == iteration:
            return
        schedule.after_progress = after_progress
        schedule.tagged.append(iteration)
        del schedule.tagged[:-16]
        if len(schedule.tagged) == 1 and not schedule.configured_interval:
            if epoch_length and iteration > 0 and iteration % epoch_length == 0:
                schedule.guess = (epoch_length, iteration)
            elif iteration > origin:
                schedule.guess = (iteration - origin, iteration)

    def add_cost(self, seconds: float, kinds: Iterable[str]) -> None:
        """Attribute the extra ``seconds`` of one sample to the kinds that happened in it, in proportion to what
        each usually costs (equal shares while unknown)."""
        schedules = [self.schedule(k) for k in kinds]
        if not schedules:
            return
        known = [s.cost for s in schedules]
        if all(c is not None and c > 0 for c in known):
            total = sum(c for c in known if c is not None)
            shares = [(c or 0.0) / total for c in known]
        else:
            shares = [1.0 / len(schedules)] * len(schedules)
        for schedule, share in zip(schedules, shares):
            schedule.add_cost(seconds * share)

    def due_kinds(self, start: int, end: int) -> list[str]:
        """Kinds with a configured schedule whose occurrence falls in the sample (start, end]."""
        due: list[str] = []
        if end <= start:
            return due
        for kind, schedule in self._schedules.items():
            # ``count`` for a configured schedule (anchor 0), inline: every progress line asks.
            period = schedule.configured_interval
            if period:
                shift = 1 if schedule.after_progress else 0
                if (end - shift) // period != (start - shift) // period:
                    due.append(kind)
        return due

    def next_due(self, after: int) -> int | None:
        """The first iteration past ``after`` that ``due_kinds`` would find due (None without a configured
        schedule): a line ending before it has nothing due."""
        due: int | None = None
        for schedule in self._schedules.values():
            period = schedule.configured_interval
            if period:
                shift = 1 if schedule.after_progress else 0
                at = ((after - shift) // period + 1) * period + shift
                due = at if due is None else min(due, at)
        return due

    def due_work(self, start: int, end: int) -> tuple[bool, float | None]:
        """(any occurrence due in (start, end], the longest measured cost among the due schedules; None when
        a due schedule has never been measured)."""
        due = [s for s in self._known() if s.count(start, end) > 0]
        if not due:
            return False, None
        costs = [s.longest_cost for s in due]
        if any(c is None for c in costs):
            return True, None
        return True, sum(c for c in costs if c is not None)

    def remaining(self, iteration: int, total: int) -> int:
        """Occurrences ahead on all known schedules; 0 when none is known."""
        if total <= iteration:
            return 0
        return sum(s.remaining(iteration, total) for s in self._known())

    def seconds_remaining(self, iteration: int, total: int) -> float:
        """Expected overhead seconds ahead: each schedule's occurrences ahead x its cost (0 while unmeasured)."""
        if total <= iteration:
            return 0.0
        return sum(s.remaining(iteration, total) * (s.cost or 0.0) for s in self._known())

    def seconds_between(self, start: float, end: float) -> float:
        """Expected overhead seconds of the occurrences in (start, end] at today's costs (for backtests)."""
        return sum(s.count(int(start), int(end)) * (s.cost or 0.0) for s in self._known())

    def state_key(self) -> tuple[tuple[str, int | None, int, float | None, bool], ...]:
        """What the schedules' counts and costs depend on (to tell when a result computed from them is stale)."""
        return tuple((k, s.interval, s.anchor, s.cost, s.after_progress) for k, s in self._schedules.items())

    def rate(self) -> float:
        """Overhead seconds per iteration on the known schedules (for a pace that includes them)."""
        return sum((s.cost or 0.0) / (s.interval or 1) for s in self._known())

    def sample(self, iteration: int, *, spike: bool, step: int) -> bool:
        """Record a sample ending at ``iteration`` (``spike``: much slower than the pace); True when it is a
        spike on a detected schedule (its cost then belongs to the schedule, not to the pace).

        Only used when the trainer states no schedule. A period is accepted when, over the last
        ``min_detected`` periods, at least that many lines on its phase are spikes, at least 3 in 4 of the lines
        on its phase are spikes, and at most 1 in 10 of the other lines are: random jitter hits every phase
        alike, a slow phase makes every line a spike (a change of pace), an eval hits one phase only. ``step``
        is the usual logging gap: the line showing an occurrence may come up to one gap after it.
        """
        self._recent.append((iteration, spike))
        stated = any(s.configured_interval or s.tagged for k, s in self._schedules.items() if k != DETECTED)
        if not spike or stated:
            return False
        detected = self._schedules.get(DETECTED)
        if detected is not None and detected.detected:
            period, last = detected.detected
            if iteration - last > period - step and _near_multiple(iteration - last, period, step):
                detected.detected = (period, iteration)
                return True
        spikes = [it for it, flag in self._recent if flag and it < iteration][-8:]
        for period in sorted({iteration - it for it in spikes if iteration - it >= 3 * max(step, 1)}):
            since = iteration - self._min_detected * period
            on_total = on_spikes = off_total = off_spikes = 0
            for it, flag in self._recent:
                if it <= since:
                    continue
                if _near_multiple(iteration - it, period, step):
                    on_total += 1
                    on_spikes += flag
                else:
                    off_total += 1
                    off_spikes += flag
            if (
                on_spikes >= self._min_detected
                and 4 * on_spikes >= 3 * on_total
                and 10 * off_spikes <= off_total
                and off_total >= on_total
            ):
                self.schedule(DETECTED).detected = (period, iteration)
                return True
        return False


def _near_multiple(offset: int, period: int, step: int) -> bool:
    """Whether ``offset`` is a whole number of periods, give or take less than one logging step (the line that
    shows an occurrence may be the first one logged after it)."""
    rest = offset % period
    return rest < step or period - rest < step
