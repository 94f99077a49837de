"""The estimator on small synthetic event sequences: one test per behaviour, each failing without it."""

from __future__ import annotations

import math
import random

import pytest

from exporter.estimate import STATES, Estimator
from exporter.events import Checkpoint, Config, Eval, Progress


def trainer(
    *,
    total: int = 3000,
    pace: float = 1.0,
    log: int = 10,
    eval_every: int | None = 250,
    eval_cost: float = 30.0,
    compile_s: float = 40.0,
    noise: float = 0.05,
    times: bool = True,
    tag_evals: bool = True,
    pace_at=None,
    hangs: dict[int, float] | None = None,
    seed: int = 0,
    start: float = 1000.0,
    config_total: bool = True,
):
    """A nanoGPT-like run: compile in iteration 0, every ``log``-th iteration printed with its own time,
    eval every ``eval_every`` inside that iteration. Returns (events, time of each iteration)."""
    rnd = random.Random(seed)
    t = start
    events = [Config(total_iterations=total if config_total else None, time=t)]
    t += compile_s
    events.append(Progress(0, iteration_seconds=compile_s, time=t))
    at = {0: t}
    for i in range(1, total + 1):
        p = pace_at(i) if pace_at else pace
        dt = p * rnd.lognormvariate(0, noise) + (hangs or {}).get(i, 0.0)
        if eval_every and i % eval_every == 0:
            dt += eval_cost
            if tag_evals:
                events.append(Eval(iteration=i, time=t + dt - 0.01 if times else None))
        t += dt
        at[i] = t
        if i % log == 0:
            events.append(Progress(i, iteration_seconds=dt, time=t if times else None))
    if not times:
        for e in events:
            e.time = None
    return events, at


def run_until(events, iteration, **kwargs):
    est = Estimator(clock=lambda: 0.0, **kwargs)
    last = None
    for e in events:
        est.observe(e)
        if isinstance(e, Progress):
            last = e
            if e.iteration >= iteration:
                break
    return est, est.estimate(now=last.time if last and last.time is not None else None)


def true_remaining(at, iteration, total):
    return at[total] - at[iteration]


def test_warmup_excluded_from_pace_and_reported():
    events, _ = trainer(compile_s=60.0, eval_every=None)
    est, early = run_until(events, 20)
    assert early.state == "warmup"
    _, e = run_until(events, 1000)
    assert e.seconds_per_iteration == pytest.approx(1.0, rel=0.05)
    assert e.warmup_seconds >= 60.0
    assert e.state == "running"


def test_slow_first_iterations_are_warmup():
    events, _ = trainer(eval_every=None, pace_at=lambda i: 4.0 if i <= 10 else 1.0)
    _, e = run_until(events, 200)
    assert e.warmup_iterations > 1
    assert e.warmup_seconds > 40.0 + 30.0
    assert e.seconds_per_iteration == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("times", [True, False])
def test_periodic_eval_with_log_interval_10_is_added_back_once_per_eval(times):
    events, at = trainer(times=times)
    _, e = run_until(events, 1010)
    assert e.periodic_interval_iterations == 250
    assert e.periodic_overhead_seconds == pytest.approx(30.0, rel=0.1)
    assert e.periodic_events_remaining == 8
    # Averaging printed times would count every eval 10x (pace ~1.3 s); the pace must stay the normal one.
    assert e.seconds_per_iteration == pytest.approx(1.0, rel=0.05)
    assert e.eta_seconds == pytest.approx(true_remaining(at, 1010, 3000), rel=0.03)


def test_untagged_periodic_spikes_are_detected():
    events, at = trainer(tag_evals=False, noise=0.02)
    _, e = run_until(events, 1510)
    assert e.periodic_interval_iterations == 250
    assert e.periodic_overhead_seconds == pytest.approx(30.0, rel=0.15)
    assert e.eta_seconds == pytest.approx(true_remaining(at, 1510, 3000), rel=0.03)


def test_checkpoint_lines_tag_overhead_too():
    events, _ = trainer(tag_evals=False, eval_every=300, noise=0.02)
    tagged = []
    for e in events:
        if isinstance(e, Progress) and e.iteration and e.iteration % 300 == 0:
            tagged.append(Checkpoint(iteration=e.iteration, time=e.time - 0.001))
        tagged.append(e)
    _, e = run_until(tagged, 700)
    assert e.periodic_interval_iterations == 300
    assert e.periodic_overhead_seconds == pytest.approx(30.0, rel=0.15)


def test_config_eval_interval_tags_spikes():
    events, _ = trainer(tag_evals=False, noise=0.02)
    events.insert(1, Config(eval_interval=250, time=events[0].time))
    _, e = run_until(events, 300)
    assert e.periodic_interval_iterations == 250
    assert e.periodic_overhead_seconds == pytest.approx(30.0, rel=0.15)


def test_step_change_is_followed_and_reported():
    events, at = trainer(eval_every=None, pace_at=lambda i: 1.5 if i > 1500 else 1.0)
    _, e = run_until(events, 1700)
    assert e.seconds_per_iteration == pytest.approx(1.5, rel=0.07)
    assert e.shift_ratio == pytest.approx(1.5, rel=0.1)
    assert 1500 < e.shift_since_iteration <= 1600
    assert e.shift_since_timestamp_seconds is not None
    assert e.trend == "slowing"
    assert e.eta_seconds == pytest.approx(true_remaining(at, 1700, 3000), rel=0.05)


def test_speed_up_is_reported():
    events, _ = trainer(eval_every=None, pace_at=lambda i: 0.5 if i > 1500 else 1.0)
    _, e = run_until(events, 1800)
    assert e.trend == "speeding_up"
    assert e.seconds_per_iteration == pytest.approx(0.5, rel=0.07)


def test_one_off_hang_is_clipped():
    events, at = trainer(eval_every=None, hangs={1205: 600.0})
    _, e = run_until(events, 1300)
    assert e.seconds_per_iteration == pytest.approx(1.0, rel=0.1)
    assert e.state == "running"
    assert e.shift_ratio is None
    # The hang is real time, so the upper end of the range allows some of it to recur.
    assert e.eta_upper_seconds > e.eta_seconds


def test_iteration_going_backwards_starts_a_new_run():
    first, _ = trainer(total=1000, eval_every=None)
    second, _ = trainer(total=1000, eval_every=None, pace=2.0, start=first[-1].time + 100)
    events = first[: len(first) // 2] + second[1:]
    est = Estimator(clock=lambda: 0.0)
    for e in events[: len(first) // 2 + 3]:
        est.observe(e)
    assert est.estimate(now=events[len(first) // 2 + 2].time).state == "warmup"
    for e in events[len(first) // 2 + 3 :]:
        est.observe(e)
    e = est.estimate(now=events[-1].time)
    assert e.runs == 2
    assert e.seconds_per_iteration == pytest.approx(2.0, rel=0.05)
    assert e.warmup_seconds >= 40.0


def test_new_config_header_starts_a_new_run_with_its_total():
    first, _ = trainer(total=1000, eval_every=None)
    resumed, _ = trainer(total=2000, eval_every=None, start=first[-1].time + 100)
    resumed[0] = Config(total_iterations=2000, new_run=True, time=resumed[0].time)
    # A resume from a checkpoint continues the counter: it need not go backwards.
    resumed = [resumed[0]] + [
        Progress(e.iteration + 1000, iteration_seconds=e.iteration_seconds, time=e.time)
        for e in resumed[1:]
        if isinstance(e, Progress) and e.iteration <= 500
    ]
    est = Estimator(clock=lambda: 0.0)
    for e in first + resumed:
        est.observe(e)
    e = est.estimate(now=resumed[-1].time)
    assert e.runs == 2
    assert e.total_iterations == 2000
    assert e.iteration == 1500
    assert e.remaining_iterations == 500


def test_unknown_total_reports_pace_but_no_eta():
    events, _ = trainer(eval_every=None, config_total=False)
    _, e = run_until(events, 500)
    assert e.state == "unknown_total"
    assert e.seconds_per_iteration == pytest.approx(1.0, rel=0.05)
    assert e.eta_seconds is None and e.remaining_iterations is None and e.completion_timestamp_seconds is None


def test_total_flag_wins_over_config():
    events, _ = trainer(eval_every=None)
    _, e = run_until(events, 500, total_iterations=1000)
    assert e.total_iterations == 1000
    assert e.remaining_iterations == 500


def test_total_from_epochs_and_batches_per_epoch():
    est = Estimator(clock=lambda: 0.0)
    t = 0.0
    for epoch in range(2):
        for batch in range(0, 101, 10):
            t += 10.0
            est.observe(Progress(batch, epoch=epoch, batches_per_epoch=100, total_epochs=3, time=t))
    e = est.estimate(now=t)
    assert e.total_iterations == 300
    assert e.iteration == 200
    assert e.seconds_per_iteration == pytest.approx(1.0, rel=0.01)
    assert e.eta_seconds == pytest.approx(100.0, rel=0.05)
    assert e.runs == 1


def test_nonfinite_loss_is_reported():
    est = Estimator(clock=lambda: 0.0)
    for i, loss in enumerate([2.0, 1.9, float("nan"), float("inf"), 1.8]):
        est.observe(Progress(i * 10, loss=loss, time=float(i)))
    e = est.estimate(now=4.0)
    assert e.nonfinite_loss_events == 2
    assert not e.loss_nonfinite
    est.observe(Progress(50, loss=float("nan"), time=5.0))
    e = est.estimate(now=5.0)
    assert e.loss_nonfinite and math.isnan(e.loss)
    assert e.nonfinite_loss_events == 3


def test_stalled_uses_injected_now():
    events, at = trainer(eval_every=None)
    est, e = run_until(events, 1000)
    last = at[1000]
    assert est.estimate(now=last + 5).state == "running"
    assert est.estimate(now=last + 3600).state == "stalled"
    clock_est = Estimator(clock=lambda: last + 3600)
    for ev in events:
        clock_est.observe(ev)
        if isinstance(ev, Progress) and ev.iteration == 1000:
            break
    assert clock_est.estimate().state == "stalled"


def test_eval_gap_reads_as_evaluating_not_stalled():
    events, at = trainer(eval_cost=120.0)
    est, _ = run_until(events, 990)
    # Iteration 1000 carries an eval of ~120 s: a 100 s silence is expected.
    assert est.estimate(now=at[990] + 100).state == "evaluating"
    assert est.estimate(now=at[990] + 5000).state == "stalled"


def test_open_eval_bar_is_evaluating_until_progress():
    events, at = trainer(eval_every=None)
    est, _ = run_until(events, 500)
    est.observe(Eval(done=False, time=at[500] + 1))
    assert est.estimate(now=at[500] + 2).state == "evaluating"
    est.observe(Progress(510, iteration_seconds=1.0, time=at[510] + 3))
    assert est.estimate(now=at[510] + 3).state == "running"


def test_finished_when_total_reached():
    events, at = trainer(total=500, eval_every=None)
    _, e = run_until(events, 500)
    assert e.state == "finished"
    assert e.remaining_iterations == 0 and e.eta_seconds == 0.0


def test_sustained_slowdown_is_regressed_after_persistence():
    # Baseline period is 300 s: slow down well after it, then stay slow.
    events, at = trainer(total=3000, eval_every=None, pace_at=lambda i: 2.0 if i > 1000 else 1.0)
    _, before = run_until(events, 1000)
    assert before.state == "running" and before.baseline_seconds_per_iteration == pytest.approx(1.0, rel=0.05)
    _, early = run_until(events, 1050)
    assert early.state == "running"
    _, late = run_until(events, 1300)
    assert late.state == "regressed"
    assert late.pace_ratio == pytest.approx(2.0, rel=0.1)


def test_data_loading_ratio_and_passthrough():
    est = Estimator(clock=lambda: 0.0)
    for i in range(5):
        est.observe(Progress(i, iteration_seconds=1.0, data_seconds=0.4, tokens_per_second=1e4, mfu=0.3))
    e = est.estimate()
    assert e.data_loading_ratio == pytest.approx(0.4)
    assert e.tokens_per_second == 1e4 and e.mfu_ratio == 0.3
    assert e.last_progress_timestamp_seconds is None


def test_no_progress_yet():
    est = Estimator(clock=lambda: 0.0)
    est.observe(Config(total_iterations=10, time=0.0))
    e = est.estimate()
    assert e.state == "warmup" and e.eta_seconds is None and e.runs == 0
    assert Estimator(clock=lambda: 0.0).estimate().state == "unknown_total"


def test_states_are_from_the_contract():
    events, _ = trainer(total=600)
    est = Estimator(clock=lambda: 0.0)
    for ev in events:
        est.observe(ev)
        assert est.estimate(now=ev.time).state in STATES


def test_range_contains_truth_about_80_percent_on_noisy_runs():
    inside = total = 0
    for seed in range(12):
        rnd = random.Random(100 + seed)
        # A pace that wanders: a few level shifts of up to +-30% at random points, noisy iterations.
        shifts = sorted(rnd.sample(range(200, 2800), 3))
        levels = [rnd.uniform(0.75, 1.3) for _ in shifts]

        def pace_at(i, shifts=shifts, levels=levels):
            level = 1.0
            for s, lv in zip(shifts, levels):
                if i >= s:
                    level = lv
            return level

        events, at = trainer(noise=0.3, seed=seed, pace_at=pace_at, hangs={rnd.randrange(300, 2900): 60.0})
        est = Estimator(clock=lambda: 0.0)
        for ev in events:
            est.observe(ev)
            if isinstance(ev, Progress) and ev.iteration % 100 == 0 and 300 <= ev.iteration <= 2700:
                e = est.estimate(now=ev.time)
                truth = true_remaining(at, ev.iteration, 3000)
                total += 1
                inside += e.eta_lower_seconds <= truth <= e.eta_upper_seconds
    coverage = inside / total
    assert 0.65 <= coverage <= 0.97, coverage
