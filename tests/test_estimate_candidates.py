"""The candidate paces and the judge that picks one (``exporter.estimate.candidates``), on timelines built here."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporter.estimate import candidates
from exporter.estimate.candidates import judge, pace_at, passing_slowdown, slowdown_outcomes
from exporter.estimate.timeline import Timeline


def timeline(paces: Callable[[int], float], lines: int, *, window: Callable[[int], float] | None = None) -> Timeline:
    """One point per 10 iterations whose normal work takes ``paces(i)`` s/it; the windowed pace as given (by
    default the line's own pace)."""
    t = Timeline()
    clock = 0.0
    for n in range(lines):
        pace = paces(n)
        clock += 10 * pace
        t.add(start_iteration=10 * n, end_iteration=10 * (n + 1), clock=clock, seconds=10 * pace,
              normal_seconds=10 * pace, window_pace=(window or paces)(n))
    return t


def no_extra(start: float, end: float) -> float:
    return 0.0


def test_each_candidate_answers_from_the_timeline_alone() -> None:
    # 100 lines at 1 s/it, then 50 at 3 s/it (each line is 10 s, then 30 s, of the run's clock).
    t = timeline(lambda n: 1.0 if n < 100 else 3.0, 150)
    k = len(t) - 1
    assert pace_at(t, "window", k) == 3.0
    assert pace_at(t, "long_run", k) == pytest.approx((1000 * 1.0 + 500 * 3.0) / 1500)
    assert pace_at(t, "typical", k) == 1.0  # the median of the last 200 lines: 100 fast, 50 slow
    assert pace_at(t, "recent_1m", k) == pytest.approx(3.0)  # the last 60 s are all slow
    assert pace_at(t, "recent_20m", k) == pytest.approx(3.0)  # the slow lines alone took the last 1500 s
    assert pace_at(t, "recent_20m", 120) == pytest.approx((600 + 600) / 800)  # 1600 s in: iterations 400-1200
    assert pace_at(t, "window", 0) is None


def test_a_steady_run_keeps_the_pace_now() -> None:
    t = timeline(lambda n: 1.0 + 0.01 * (n % 3), 200)
    verdict = judge(t, remaining=1000, extra=no_extra)
    assert verdict is not None and verdict.leader == "window"


def test_recurring_slow_phases_make_the_long_run_pace_lead() -> None:
    """Every 40 lines, 10 lines at 5x: at the horizon of the remaining work the slow phases recur, so the
    long-run pace predicted the run's own past better than the pace now (which sits in a fast stretch)."""
    t = timeline(lambda n: 5.0 if n % 40 >= 30 else 1.0, 395, window=lambda n: 5.0 if n % 40 >= 30 else 1.0)
    verdict = judge(t, remaining=2000, extra=no_extra)
    assert verdict is not None and verdict.leader in ("long_run", "recent_20m")
    assert verdict.pace > 1.5


def test_a_candidate_tied_with_the_best_but_closer_to_the_pace_now_leads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backtests that barely differ say little: of the candidates within ``TIE`` of the best score, the one
    closest to the pace now leads; with ``TIE`` 0 the best score alone would."""
    t = timeline(lambda n: 5.0 if n % 40 >= 30 else 1.0, 395)  # now in a slow phase: the pace now is 5 s/it
    verdict = judge(t, remaining=2000, extra=no_extra)
    assert verdict is not None and verdict.best == "long_run"
    assert verdict.scores["recent_20m"] <= verdict.scores["long_run"] * (1 + candidates.TIE)
    assert verdict.leader == "recent_20m" and verdict.pace > verdict.paces["long_run"]  # nearer 5 s/it
    monkeypatch.setattr(candidates, "TIE", 0.0)
    strict = judge(t, remaining=2000, extra=no_extra)
    assert strict is not None and strict.leader == "long_run"


def test_a_slowdown_weighs_by_how_long_it_has_lasted_against_what_remains() -> None:
    """Lindy's law: a slowdown that has lasted ``a`` iterations is expected at ``(a / R) ln(1 + R / a)`` of the
    ``R`` remaining ones; the rest at the pace before it."""
    young = passing_slowdown(5.0, 1.0, age=10, remaining=2000)
    assert 1.0 < young < 1.2
    assert passing_slowdown(5.0, 1.0, age=2000, remaining=2000) == pytest.approx(1.0 + 4.0 * math.log(2))
    old = passing_slowdown(5.0, 1.0, age=100_000, remaining=100)
    assert old == pytest.approx(5.0, rel=0.01)
    # It takes over smoothly as it ages.
    shares = [passing_slowdown(5.0, 1.0, age=a, remaining=1000) for a in (1, 10, 100, 1000, 10_000)]
    assert shares == sorted(shares)
    assert passing_slowdown(5.0, 1.0, age=50, remaining=0) == 5.0


def test_a_slowdowns_range_spans_its_10_and_90_percent_outcomes() -> None:
    """Under the same law it goes on past another ninth of its age with chance 0.9, past nine times it with 0.1."""
    low, high = slowdown_outcomes(5.0, 1.0, age=100, remaining=1800)
    assert low == pytest.approx((100 / 9 * 5.0 + (1800 - 100 / 9) * 1.0) / 1800)
    assert high == pytest.approx((900 * 5.0 + 900 * 1.0) / 1800)
    assert low < passing_slowdown(5.0, 1.0, age=100, remaining=1800) < high
    assert slowdown_outcomes(5.0, 1.0, age=1000, remaining=1800)[1] == 5.0  # nine times its age outlasts the run


@given(before=st.floats(1e-6, 1e3), factor=st.floats(1.0, 1e3), age=st.floats(0, 1e7), remaining=st.floats(1e-3, 1e7))
def test_the_blended_pace_and_its_outcomes_lie_between_the_two_paces(
    before: float, factor: float, age: float, remaining: float
) -> None:
    """(The mean of so skewed a law need not lie between its 10 % and 90 % outcomes; the range holds all three.)"""
    pace = before * factor
    blended = passing_slowdown(pace, before, age, remaining)
    low, high = slowdown_outcomes(pace, before, age, remaining)
    slack = 1e-9 * pace
    assert before - slack <= blended <= pace + slack
    assert before - slack <= low and low <= high + slack and high <= pace + slack
