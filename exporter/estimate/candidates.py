"""Candidate paces for the rest of the run, and a judge that weighs them by how well each would have done.

Every candidate answers "seconds of normal work per iteration from here on" from the ``Timeline`` alone, so
it can be asked what it would have answered at any past point:

- ``window``: the clipped mean since the latest change point (one-off hangs clipped): the pace *now*;
- ``recent_1m``, ``recent_5m``, ``recent_20m``: everything spent over the last 1, 5 or 20 minutes of the run's
  clock (hangs and slow phases included);
- ``long_run``: everything spent since warm-up ended: right when slow phases recur;
- ``typical``: the median pace of the last 200 lines: right when slow phases pass.

The judge backtests them on this run's own history, at the horizon the ETA is about: from past points, each
candidate predicts, as the ETA would (its pace plus the eval/checkpoint work and hang allowance ahead), the time
to reach a later point ``H`` iterations on (``H`` = the iterations still to go, at most half of the history), and
the prediction is compared with the wall time the run took, as the ETA is graded: the absolute error relative to
the truth. A short-horizon error would favour the recent pace even when the rest of a run holds recurring slow
phases; this horizon does not. The best candidate leads; ``window`` (the pace now) unless another one does
clearly better, since in any steady stretch they all tie; and of the candidates that backtest about as well as the
best (within ``TIE``), the one closest to the pace now leads. The leader's backtest ratios give the ETA's range,
widened to hold the best candidate's ETA with its own range (``range.judged_range``).

A leader's pace that is a fresh slowdown is then blended with the pace before it by how long the slowdown has
lasted (``passing_slowdown``): the judge cannot know from a run's past whether its first stall will pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from exporter.estimate.robust import median
from exporter.estimate.timeline import Timeline

RECENT_SECONDS = {"recent_1m": 60.0, "recent_5m": 300.0, "recent_20m": 1200.0}
TYPICAL_POINTS = 200
"""``typical``: the median pace of the last this-many samples (robust to slow phases, like detectron2's ETA)."""
CANDIDATES = ("window", *RECENT_SECONDS, "long_run", "typical")
DESCRIPTIONS = {
    "window": "the pace since the latest change (one-off hangs left out)",
    "recent_1m": "the last minute's pace",
    "recent_5m": "the last 5 minutes' pace",
    "recent_20m": "the last 20 minutes' pace",
    "long_run": "the long-run pace: this run's slow phases recur",
    "typical": "the typical pace of the last 200 lines: this run's slow phases pass",
}
HEDGED = "slowdown_hedged"
"""``pace_source`` when the leader's pace is a slowdown blended with the pace before it (``passing_slowdown``)."""
DESCRIPTIONS[HEDGED] = ("the pace since this slowdown began, blended with the pace before it: a slowdown is "
                        "expected to last about as long again as it has lasted so far")
MIN_POINTS = 16
"""Points of history before the judge speaks (fewer backtests would be noise); until then: ``window``."""
MIN_PAIRS = 4
"""Backtests a candidate needs before it is judged."""
ENDS = 16
"""End points of the backtests per horizon, spread over the history that allows them."""
DEFAULT = "window"
"""The candidate that leads while none backtests clearly better (in any steady stretch they all tie)."""
MARGIN = 0.2
"""Another candidate must backtest this much better than ``window`` (the pace now) to lead: while they tie, as
in any steady stretch, the pace now is the natural answer."""
TIE = 0.5
"""Candidates whose backtests score within this share of the best one's tie with it; of those, the one closest to
the pace now (``window``) leads: backtests that barely differ say little, and the pace now is the natural answer
(chosen on the dev half, mean MAPE 32.9 % -> 27.5 %; held-out 18.9 % -> 16.3 %; ``benchmarks/eta_accuracy.py``).
Leaning to the fastest tied candidate instead did better on the mean (21.1 %) but worse per run and on coverage."""
ERROR_FLOOR = 0.01
"""Backtest errors below 1% count as 1%: candidates that good are equally good."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judge's answer at one moment."""

    pace: float
    """The pace the ETA uses, seconds per normal iteration: the leader's."""
    leader: str
    """The candidate whose pace the ETA uses: of those that backtest about as well as ``best``, the one closest to
    the pace now."""
    scores: dict[str, float]
    """Mean relative error of each candidate's backtests (before the margin)."""
    paces: dict[str, float]
    """Each candidate's pace now."""
    ratios: tuple[float, ...]
    """The leader's backtests: wall time taken / predicted (what the range is made of)."""
    horizon: float
    """Iterations ahead the backtests predicted."""
    best: str = ""
    """The candidate with the best backtests before the tie-break (``leader`` unless a faster one tied)."""
    best_ratios: tuple[float, ...] = ()
    """The best candidate's backtests (the range also covers its ETA)."""


def pace_at(timeline: Timeline, name: str, k: int) -> float | None:
    """What candidate ``name`` says at point ``k``: seconds per normal iteration, or None."""
    if k <= 0:
        return None
    if name == "window":
        return timeline.window[k]
    if name == "long_run":
        return timeline.pace(0, k)
    if name == "typical":
        recent = [p for p in (timeline.pace(i - 1, i) for i in range(max(1, k - TYPICAL_POINTS + 1), k + 1))
                  if p is not None]
        return median(recent) if recent else None
    j = timeline.index_at_or_before_clock(timeline.clock[k] - RECENT_SECONDS[name], k)
    return timeline.pace(min(j, k - 1), k)


def _pairs(timeline: Timeline, horizon: float) -> list[tuple[int, int]]:
    """(origin, end) point pairs about ``horizon`` iterations apart, ends spread from the earliest allowed
    to now; an origin has at least one sample of history before it."""
    it = timeline.iteration
    n = len(it) - 1
    first_end = it[1] + horizon
    if first_end > it[n]:
        return []
    pairs: list[tuple[int, int]] = []
    for e in range(ENDS):
        target = it[n] - (it[n] - first_end) * e / max(1, ENDS - 1)
        end = timeline.index_at_or_before(target)
        origin = timeline.index_at_or_before(it[end] - horizon)
        if origin >= 1 and end > origin and (not pairs or pairs[-1] != (origin, end)):
            pairs.append((origin, end))
    return pairs


def judge(timeline: Timeline, remaining: float, extra: Callable[[float, float], float]) -> Verdict | None:
    """Score the candidates by their backtests at the ETA's horizon; None while history is too short.

    A backtest predicts what the ETA would: the candidate's pace over the stretch plus ``extra(start, end)``
    (the eval/checkpoint work and hang allowance the ETA adds for it), against the wall time the run took.
    """
    n = len(timeline) - 1
    if n < MIN_POINTS or remaining <= 0:
        return None
    span = timeline.iteration[n] - timeline.iteration[0]
    horizon = min(remaining, span / 2)
    pairs = _pairs(timeline, horizon)
    if len(pairs) < MIN_PAIRS:
        return None
    now = {name: pace_at(timeline, name, n) for name in CANDIDATES}
    paces = {name: pace for name, pace in now.items() if pace is not None and pace > 0}
    actual = [timeline.clock[end] - timeline.clock[origin] for origin, end in pairs]
    added = [extra(timeline.iteration[origin], timeline.iteration[end]) for origin, end in pairs]
    scores: dict[str, float] = {}
    ratios: dict[str, tuple[float, ...]] = {}
    for name in paces:
        row = []
        for (origin, end), truth, more in zip(pairs, actual, added):
            pace = pace_at(timeline, name, origin)
            if pace is not None and pace > 0 and truth > 0:
                row.append(truth / (pace * (timeline.iteration[end] - timeline.iteration[origin]) + more))
        if len(row) >= MIN_PAIRS:
            ratios[name] = tuple(row)
            scores[name] = sum(max(ERROR_FLOOR, abs(1 / r - 1)) for r in row) / len(row)
    if not scores:
        return None
    leader = min(scores, key=lambda name: scores[name] * (1.0 if name == DEFAULT else 1 + MARGIN))
    best = leader
    if DEFAULT in paces:
        tied = [name for name in scores if scores[name] <= scores[best] * (1 + TIE)]
        leader = min(tied, key=lambda name: abs(math.log(paces[name] / paces[DEFAULT])))
    return Verdict(paces[leader], leader, scores, paces, ratios[leader], horizon, best, ratios[best])


def passing_slowdown(pace: float, before: float, age: float, remaining: float) -> float:
    """Seconds per iteration expected over the ``remaining`` iterations when the run has been slower (``pace``)
    than ``before`` for ``age`` iterations: the slowdown may pass.

    How long a slow phase lasts is unknown (a data-loader stall, a contended machine, a neighbour that stays);
    the scale-free answer (Lindy's law, a Pareto tail of index 1) is that a phase that has lasted ``a``
    iterations goes on past ``a + x`` with chance ``a / (a + x)``, so of the ``R`` remaining iterations the
    expected share still at ``pace`` is ``(a / R) ln(1 + R / a)`` and the rest run at ``before``. A young
    slowdown weighs little against a long remaining run; one that has lasted as long as what remains counts
    ln 2 = 69 %, and it takes over as it ages. Only slowdowns: a speed-up (warm caches, a neighbour gone) is
    taken at its word, as underestimating a slowdown costs far less than a runaway ETA that a passing stall
    would leave behind.
    """
    if remaining <= 0:
        return pace
    age = max(1.0, age)
    share = age / remaining * math.log1p(remaining / age)
    return before + share * (pace - before)


def slowdown_outcomes(pace: float, before: float, age: float, remaining: float) -> tuple[float, float]:
    """Seconds per iteration over the ``remaining`` iterations at the 10 % and 90 % outcomes of the same law: the
    slowdown lasts another ninth of its age (it goes on past that with chance 0.9) or nine times it (0.1)."""
    if remaining <= 0:
        return pace, pace
    shares = (min(1.0, max(1.0, age) * more / remaining) for more in (1 / 9, 9))
    low, high = (before + share * (pace - before) for share in shares)
    return low, high
