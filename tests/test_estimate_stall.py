"""When a run is stalled: the run's own rhythm, its eval schedule, the file's mtime; no ETA while stalled; and the
provisional baseline that lets a regression be seen within minutes."""

from __future__ import annotations

import pytest

from exporter.estimate import Estimator
from exporter.estimate.stall import FLOOR_SECONDS, UNMEASURED_WORK_SECONDS, Rhythm, allowance
from exporter.events import Config, Eval, Progress


def fast_run(*, iterations: int = 3000, pace: float = 0.05, log: int = 10, eval_every: int = 200,
             eval_seconds: float = 3.0, times: bool = True, slow_from: int | None = None, slow: float = 3.0):
    """Events of a nanoGPT-like run and the time of its last line."""
    t = 1000.0
    events = [Config(total_iterations=100000, eval_interval=eval_every or None, time=t)]
    t += 20.0
    events.append(Progress(0, iteration_seconds=20.0, time=t))
    for i in range(log, iterations + 1, log):
        dt = pace * log * (slow if slow_from is not None and i > slow_from else 1.0)
        if eval_every and i % eval_every == 0:
            dt += eval_seconds
            events.append(Eval(iteration=i, time=t + dt - 0.01))
        t += dt
        events.append(Progress(i, iteration_seconds=dt / log, time=t))
    if not times:
        for event in events:
            event.time = None
    return events, t


def fed(events, **kwargs) -> Estimator:
    estimator = Estimator(clock=lambda: 0.0, **kwargs)
    for event in events:
        estimator.observe(event)
    return estimator


def test_allowance_floor_gaps_and_due_work():
    assert allowance(Rhythm(usual_gap=0.5, longest_gap=0.6)) == FLOOR_SECONDS
    assert allowance(Rhythm(usual_gap=20.0, longest_gap=22.0)) == 100.0  # five usual gaps
    assert allowance(Rhythm(usual_gap=1.0, longest_gap=30.0)) == 60.0  # twice the longest recent gap
    measured = allowance(Rhythm(usual_gap=0.5, longest_gap=0.6, work_due=True, work_seconds=90.0))
    assert measured == FLOOR_SECONDS + 1.25 * 90.0 + 10.0
    unmeasured = allowance(Rhythm(usual_gap=0.5, longest_gap=0.6, work_due=True, work_seconds=None))
    assert unmeasured == FLOOR_SECONDS + UNMEASURED_WORK_SECONDS
    assert allowance(Rhythm(usual_gap=None, longest_gap=None, warmed_up=False)) > FLOOR_SECONDS


def test_a_fast_run_is_stalled_after_the_floor_and_shows_no_eta():
    events, last = fast_run(iterations=2990)  # the next eval is due at 3000, two lines ahead
    estimator = fed(events[:-10])  # stop between evals
    last = events[-11].time
    calm = estimator.estimate(now=last + FLOOR_SECONDS - 1)
    assert calm.state == "running"
    assert calm.eta_seconds is not None and calm.completion_timestamp_seconds is not None
    hung = estimator.estimate(now=last + FLOOR_SECONDS + 1)
    assert hung.state == "stalled"
    assert hung.seconds_since_progress == pytest.approx(FLOOR_SECONDS + 1)
    assert hung.eta_seconds is None and hung.eta_lower_seconds is None and hung.eta_upper_seconds is None
    assert hung.completion_timestamp_seconds is None
    assert hung.last_progress_timestamp_seconds == last


def test_a_due_eval_gets_its_measured_length_plus_margin():
    events, _ = fast_run(iterations=1990, eval_seconds=30.0)  # the eval at 2000 is due next
    estimator = fed(events)
    last = events[-1].time
    assert estimator.estimate(now=last + 60.0).state != "stalled"  # 40 s floor + 30 s eval: still allowed
    assert estimator.estimate(now=last + FLOOR_SECONDS + 1.25 * 30.0 + 10.0 + 2.0).state == "stalled"


def test_a_run_logging_every_20_seconds_gets_five_gaps():
    events, _ = fast_run(iterations=200, pace=2.0, log=10, eval_every=0)
    estimator = fed(events)
    last = events[-1].time
    assert estimator.estimate(now=last + 90.0).state == "running"
    assert estimator.estimate(now=last + 101.0).state == "stalled"


def test_a_dead_log_without_times_is_stalled_from_its_mtime():
    events, _ = fast_run(iterations=1000, times=False)
    estimator = fed(events)
    assert estimator.estimate(now=10_000.0).state == "running"  # no position in time: cannot tell
    estimator.assume_last_time(9_900.0)  # the file was last written then
    assert estimator.estimate(now=9_930.0).state == "running"
    stalled = estimator.estimate(now=9_990.0)
    assert stalled.state == "stalled"
    assert stalled.last_progress_timestamp_seconds == 9_900.0
    estimator.assume_last_time(9_950.0)  # only the first view counts: a later stat does not move it
    assert estimator.estimate(now=9_990.0).last_progress_timestamp_seconds == 9_900.0


def test_a_provisional_baseline_gives_a_pace_ratio_within_a_minute():
    events, _ = fast_run(iterations=600)  # 60 lines in about 30 s
    estimate = fed(events).estimate(now=events[-1].time)
    assert estimate.baseline_seconds_per_iteration == pytest.approx(0.05, rel=0.05)
    assert estimate.pace_ratio == pytest.approx(1.0, rel=0.05)


def test_a_lasting_slowdown_soon_after_start_is_regressed():
    events, _ = fast_run(iterations=8000, slow_from=4000, eval_every=0)  # 3x slower after ~100 s
    estimator = fed(events)
    estimate = estimator.estimate(now=events[-1].time)
    assert estimate.pace_ratio == pytest.approx(3.0, rel=0.1)
    assert estimate.state == "regressed"
