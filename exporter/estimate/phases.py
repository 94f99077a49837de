"""Where the time went: a run's wall time split into steady training, warm-up, evals/checkpoints, hangs, slow
phases and the current stall, with the episodes that made up each.

From the ``Timeline`` (cumulative normal work, eval/checkpoint cost and clock per sample): each stretch between two
points spends its clock on eval/checkpoint work (the measured extra cost), on hangs (what the clock shows beyond
normal work and eval cost: one-off stops clipped from the pace), and on normal work; normal work slower than
``SLOW_FACTOR`` x the baseline pace is a slow phase, and what it took beyond the baseline pace is time lost there.
The parts add up to the wall time from the first record to now.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.estimate.timeline import Timeline

PHASES = ("training", "warmup", "eval_checkpoint", "hang", "slow", "stalled")
SLOW_FACTOR = 1.25
"""Normal work slower than this x the baseline is a slow phase (the regression threshold)."""
MIN_EPISODE_SECONDS = 5.0
"""Episodes shorter than this are counted but not listed (noise of a few samples)."""


@dataclass(frozen=True, slots=True)
class Episode:
    phase: str
    start_timestamp_seconds: float
    end_timestamp_seconds: float
    seconds: float
    """Seconds this episode added to the run (for a slow phase: beyond the baseline pace)."""


@dataclass(frozen=True, slots=True)
class TimeSplit:
    seconds: dict[str, float] = field(default_factory=dict)
    """Seconds per phase (``PHASES``); they add up to the wall time."""
    episodes: tuple[Episode, ...] = ()
    """The hangs, slow phases and evals/checkpoints of at least ``MIN_EPISODE_SECONDS``, in time order."""


def time_split(
    timeline: Timeline,
    *,
    baseline: float | None,
    warmup_seconds: float,
    stalled_seconds: float = 0.0,
    clock_offset: float = 0.0,
) -> TimeSplit:
    """The split of the run so far; ``baseline`` (seconds per iteration) sets what counts as slow; episodes are
    timed at the timeline's clock + ``clock_offset`` (wall time)."""
    seconds = dict.fromkeys(PHASES, 0.0)
    seconds["warmup"] = max(0.0, warmup_seconds)
    seconds["stalled"] = max(0.0, stalled_seconds)
    episodes: list[Episode] = []
    open_episode: dict[str, list[float]] = {}

    def extend(phase: str, start: float, end: float, amount: float) -> None:
        current = open_episode.get(phase)
        if current is not None and current[1] >= start - 1e-9:
            current[1] = end
            current[2] += amount
        else:
            close(phase)
            open_episode[phase] = [start, end, amount]

    def close(phase: str) -> None:
        current = open_episode.pop(phase, None)
        if current is not None and current[2] >= MIN_EPISODE_SECONDS:
            episodes.append(Episode(phase, current[0] + clock_offset, current[1] + clock_offset, current[2]))

    for k in range(1, len(timeline)):
        start, end = timeline.clock[k - 1], timeline.clock[k]
        wall = max(0.0, end - start)
        work = timeline.normal[k] - timeline.normal[k - 1]
        overhead = min(wall, timeline.overhead[k] - timeline.overhead[k - 1])
        hang = max(0.0, wall - work - overhead)
        work = wall - overhead - hang
        iterations = timeline.iteration[k] - timeline.iteration[k - 1]
        lost = 0.0
        if baseline and iterations > 0 and work > SLOW_FACTOR * baseline * iterations:
            lost = work - baseline * iterations
        seconds["eval_checkpoint"] += overhead
        seconds["hang"] += hang
        seconds["slow"] += lost
        seconds["training"] += work - lost
        for phase, amount in (("eval_checkpoint", overhead), ("hang", hang), ("slow", lost)):
            if amount > 0:
                extend(phase, start, end, amount)
            elif phase != "eval_checkpoint":
                close(phase)
        if overhead <= 0:
            close("eval_checkpoint")
    for phase in list(open_episode):
        close(phase)
    episodes.sort(key=lambda e: e.start_timestamp_seconds)
    return TimeSplit(seconds, tuple(episodes))
