"""Where the time went: on synthetic runs with known phases the split recovers them, and on the real perturbed
nanoGPT log it adds up to the wall time and names the contention, the stop and the slow phase."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.estimate import Estimator
from exporter.events import Config, Eval, Progress
from exporter.pipeline import Pipeline

DATA = Path(__file__).parent / "data"


def known_run() -> tuple[Estimator, float, float]:
    """20 s compile; 1 s/it; a 10 s eval every 100; a 60 s hang at 250; 2x slower for 100 its from 400."""
    t = start = 1000.0
    events: list = [Config(total_iterations=600, eval_interval=100, time=t)]
    t += 20.0
    events.append(Progress(0, iteration_seconds=20.0, time=t))
    for i in range(1, 601):
        dt = 2.0 if 400 < i <= 500 else 1.0
        if i == 250:
            dt += 60.0
        if i % 100 == 0:
            dt += 10.0
            events.append(Eval(iteration=i, time=t + dt - 0.01))
        t += dt
        events.append(Progress(i, iteration_seconds=dt, time=t))
    estimator = Estimator(clock=lambda: t)
    for event in events:
        estimator.observe(event)
    return estimator, start, t


def test_a_run_with_known_phases() -> None:
    estimator, start, end = known_run()
    split = estimator.time_split(estimator.estimate(now=end))
    s = split.seconds
    assert sum(s.values()) == pytest.approx(end - start, rel=0.01)
    assert s["warmup"] == pytest.approx(20.0, abs=3.0)
    assert s["eval_checkpoint"] == pytest.approx(60.0, rel=0.15)  # six evals of 10 s
    assert s["hang"] == pytest.approx(60.0, rel=0.1)
    assert s["slow"] == pytest.approx(100.0, rel=0.15)  # 100 iterations 1 s slower than the baseline
    assert s["training"] == pytest.approx(600.0, rel=0.05)
    phases = [(e.phase, round(e.start_timestamp_seconds - start)) for e in split.episodes if e.phase != "eval_checkpoint"]
    hang = [at for phase, at in phases if phase == "hang"]
    slow = [at for phase, at in phases if phase == "slow"]
    assert len(hang) == 1 and 250 < hang[0] < 340  # iteration 250 ends ~330 s in
    assert slow and 500 < slow[0] < 620


def test_the_stall_in_progress_is_its_own_phase() -> None:
    estimator, start, end = known_run()
    estimate = estimator.estimate(now=end + 300)
    assert estimate.state == "finished"  # a finished run is not stalled
    events = [Config(total_iterations=1000, time=0.0)] + [Progress(i, time=float(i)) for i in range(0, 300)]
    live = Estimator(clock=lambda: 0.0)
    for event in events:
        live.observe(event)
    stalled = live.estimate(now=299.0 + 200.0)
    assert stalled.state == "stalled"
    assert live.time_split(stalled).seconds["stalled"] == pytest.approx(200.0)


def test_the_real_perturbed_log_names_its_contention_stop_and_slow_phase() -> None:
    """tests/data/real_ng_perturbed.tslog with ng_perturbed.events: contention 45 s from 1795826087.7, SIGSTOP
    20 s from 1795826167.7, then a long noisy-neighbour phase."""
    estimator = Estimator()
    first = None
    for event in Pipeline().read(DATA / "real_ng_perturbed.tslog"):
        if first is None and event.time is not None:
            first = event.time
        estimator.observe(event)
    end = estimator.last_event_time
    assert first is not None and end is not None
    split = estimator.time_split(estimator.estimate(now=end))
    assert sum(split.seconds.values()) == pytest.approx(end - first, rel=0.01)
    lost = [e for e in split.episodes if e.phase in ("hang", "slow")]

    def named(start: float, stop: float) -> bool:
        return any(e.start_timestamp_seconds < stop and e.end_timestamp_seconds > start for e in lost)

    assert named(1795826087.7, 1795826132.7)  # the contention
    assert named(1795826167.7, 1795826187.8)  # the stop
    slow = [e for e in lost if e.phase == "slow" and e.end_timestamp_seconds - e.start_timestamp_seconds > 120]
    assert slow  # the long slow phase
    assert split.seconds["slow"] + split.seconds["hang"] > 0.5 * (end - first)
