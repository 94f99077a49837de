"""The estimator on small synthetic event sequences: one test per behaviour, each failing without it."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest

from exporter.estimate import STATES, Estimator
from exporter.estimate import estimator as estimator_module
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


@pytest.mark.parametrize("printed", [True, False], ids=["eval_time_printed", "not_printed"])
def test_printed_eval_time_counts_without_record_times(printed):
    """HF Trainer / MetricLogger: the printed time of an iteration leaves out the evaluation after it, and the eval
    summary says how long it took (``eval_runtime``): without record times that is the eval's whole cost."""
    events = [Config(total_iterations=3000), Progress(0, iteration_seconds=40.0)]
    for i in range(10, 3001, 10):
        events.append(Progress(i, iteration_seconds=1.0))
        if i % 250 == 0:
            events.append(Eval(iteration=i, seconds=30.0 if printed else None))
    _, e = run_until(events, 1010)
    assert e.periodic_interval_iterations == 250
    if printed:
        assert e.periodic_overhead_seconds == pytest.approx(30.0, rel=0.05)
        assert e.eta_seconds == pytest.approx(1990 * 1.0 + 7 * 30.0, rel=0.02)  # evals at 1250 ... 2750 (3000: after)
    else:
        assert e.periodic_overhead_seconds == pytest.approx(0.0, abs=0.5)  # nothing says what it cost


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


def test_a_stall_is_expected_to_pass_and_the_range_allows_it_to_stay():
    """A 5x slowdown 100 iterations old, 1900 to go: it counts little against the remaining run (it may pass,
    ``candidates.passing_slowdown``); the range holds its 10 % and 90 % outcomes under the same law: it lasts
    another ninth of its age, or nine times its age (here: the rest of the run)."""
    events, at = trainer(eval_every=None, pace_at=lambda i: 5.0 if 1000 < i <= 1100 else 1.0)
    _, e = run_until(events, 1100)
    truth = true_remaining(at, 1100, 3000)
    assert e.seconds_per_iteration == pytest.approx(5.0, rel=0.1)
    assert e.pace_source == "slowdown_hedged"
    at_pace_now = e.seconds_per_iteration * e.remaining_iterations
    assert abs(e.eta_seconds - truth) < 0.2 * abs(at_pace_now - truth)
    assert e.eta_upper_seconds >= at_pace_now
    assert e.eta_lower_seconds <= 1.1 * e.remaining_iterations
    # A slowdown that has lasted as long as what remains has mostly taken over.
    events, at = trainer(eval_every=None, pace_at=lambda i: 2.0 if i > 1000 else 1.0)
    _, e = run_until(events, 2500)
    assert e.eta_seconds == pytest.approx(true_remaining(at, 2500, 3000), rel=0.12)


@pytest.mark.parametrize(("factor", "taken"), [(0.4, True), (0.8, False)])
def test_a_large_speed_up_is_taken_at_its_word_over_a_slower_leader(monkeypatch, factor, taken):
    """After a speed-up of more than ``HEDGE_ABOVE`` the ETA uses the pace since it even when the judge's leader is
    slower (its backtests measured the regime that ended); after a milder one the leader's pace stands."""
    events, _ = trainer(eval_every=None, pace_at=lambda i: 1.0 if i < 1500 else factor, noise=0.02)
    real = estimator_module.judge

    def slower(*args, **kwargs):
        verdict = real(*args, **kwargs)
        return None if verdict is None else dataclasses.replace(verdict, pace=2.0, leader="long_run")

    monkeypatch.setattr(estimator_module, "judge", slower)
    _, e = run_until(events, 2000)
    if taken:
        assert e.pace_source == "window" and e.eta_seconds_per_iteration == pytest.approx(factor, rel=0.05)
    else:
        assert e.pace_source == "long_run" and e.eta_seconds_per_iteration == 2.0


@pytest.mark.parametrize("factor", [0.5, 1.3])
def test_a_speed_up_or_a_mild_slowdown_is_taken_at_its_word(factor):
    events, at = trainer(eval_every=None, pace_at=lambda i: factor if i > 1000 else 1.0)
    _, e = run_until(events, 1500)
    assert e.shift_ratio == pytest.approx(factor, rel=0.1)
    assert e.pace_source != "slowdown_hedged"
    assert e.eta_seconds == pytest.approx(true_remaining(at, 1500, 3000), rel=0.1)


def test_one_off_hang_is_clipped():
    events, at = trainer(eval_every=None, hangs={1205: 600.0})
    _, e = run_until(events, 1300)
    assert e.seconds_per_iteration == pytest.approx(1.0, rel=0.1)
    assert e.state == "running"
    assert e.shift_ratio is None
    # The hang is real time, so the upper end of the range allows some of it to recur.
    assert e.eta_upper_seconds > e.eta_seconds


def test_one_long_hang_among_small_blips_is_not_taken_as_recurring():
    """Noise clips many samples by a fraction of a second; a 600 s stop is still one hang (``PaceWindow.hangs``
    counts them by size), so the ETA after it does not expect 600 s more per 1,300 iterations."""
    blips = {i: 0.5 for i in range(100, 1200, 40)}
    events, at = trainer(eval_every=None, log=1, hangs={**blips, 1205: 600.0})
    est, e = run_until(events, 1300)
    assert est._run.window.clipped_samples > 10
    assert est._run.window.hangs < 1.5
    assert e.eta_seconds == pytest.approx(true_remaining(at, 1300, 3000), rel=0.1)
    assert e.eta_upper_seconds > e.eta_seconds + 300  # the upper end still allows it to happen again


def test_a_hang_that_a_windowed_printed_time_spreads_over_two_lines_is_one_hang():
    """MetricLogger prints each line's time as the mean of the last 20 iterations and logs every 10: a 40 s stop
    shows in two consecutive lines (2.0 s/it each). That is one hang, not two, so nothing of it is expected again."""
    events = [Config(total_iterations=3000), Progress(0, iteration_seconds=30.0)]
    for i in range(10, 3001, 10):
        events.append(Progress(i, iteration_seconds=2.02 if i in (1500, 1510) else 0.02))
    est, e = run_until(events, 1600)
    assert est._run.window.hangs == pytest.approx(1.0)
    assert e.eta_seconds == pytest.approx(1400 * 0.02, rel=0.05)


def test_a_slowdown_taken_back_from_the_hangs_leaves_the_hang_before_it_whole():
    """A 60 s stop, then a 3x slowdown whose first lines are clipped as one stretch until the change point takes
    them back as a new pace: what remains is the one 60 s hang."""
    events, _ = trainer(eval_every=None, hangs={600: 60.0}, pace_at=lambda i: 3.0 if i > 1500 else 1.0)
    est, _ = run_until(events, 1520)
    assert est._run.window.hangs > 1.5  # the stop and the slowdown's first lines, until the change point
    est, e = run_until(events, 1540)
    assert e.shift_ratio == pytest.approx(3.0, rel=0.05)
    assert est._run.window.hangs == pytest.approx(1.0)


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


@pytest.mark.parametrize("tagged", [True, False], ids=["tagged_evals", "configured_interval"])
@pytest.mark.parametrize("header", [False, True], ids=["counter_back", "new_process_header"])
def test_a_resume_keeps_the_cost_of_periodic_work(header, tagged):
    """Killed at 1130 and resumed from the checkpoint at 1000 (iterations go back, or a new process's header
    comes first): the evals ahead still cost what they cost before, before the resumed run has measured one,
    on the schedule the tagged evals or the configured interval gave before the resume."""
    first, _ = trainer(eval_every=250, eval_cost=30.0, tag_evals=tagged)
    if not tagged:
        first.insert(1, Config(eval_interval=250, time=first[0].time))
    cut = next(i for i, e in enumerate(first) if isinstance(e, Progress) and e.iteration == 1130)
    resumed, at = trainer(eval_every=250, eval_cost=30.0, start=first[cut].time + 10, seed=1)
    start = Config(total_iterations=3000, new_run=header, time=resumed[0].time)
    again = [Progress(e.iteration + 1000, iteration_seconds=e.iteration_seconds, time=e.time)
             for e in resumed[1:] if isinstance(e, Progress) and e.iteration <= 200]
    est = Estimator(clock=lambda: 0.0)
    for e in [*first[: cut + 1], start, *again]:
        est.observe(e)
    e = est.estimate(now=again[-1].time)
    assert e.runs == 2 and e.iteration == 1200
    assert e.periodic_overhead_seconds == pytest.approx(30.0, rel=0.1)
    assert e.periodic_events_remaining == 8
    assert e.eta_seconds == pytest.approx(true_remaining(at, 200, 2000), rel=0.05)


def test_a_restart_from_the_start_measures_its_periodic_work_again():
    """A run started over from iteration 0 may be another job: nothing of the earlier one's schedule is assumed."""
    first, _ = trainer(eval_every=250, eval_cost=30.0)
    cut = next(i for i, e in enumerate(first) if isinstance(e, Progress) and e.iteration == 1130)
    again, _ = trainer(eval_every=None, start=first[cut].time + 10, seed=1)
    est = Estimator(clock=lambda: 0.0)
    for e in [*first[: cut + 1], *[e for e in again if not isinstance(e, Progress) or e.iteration <= 200]]:
        est.observe(e)
    e = est.estimate(now=again[-1].time)
    assert e.runs == 2 and e.iteration == 200
    assert e.periodic_overhead_seconds is None


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


def bar_run(*, total: int, log: int = 10, per_epoch: int | None = None, evals: int = 0, eval_cost: float = 0.0,
            saves: int = 0, save_cost: float = 0.0, seed: int = 0):
    """A tqdm-bar run (HF Trainer, Lightning): the bar reaches N, then eval/save run before N+1. With
    ``per_epoch`` the counter restarts every epoch and evals come at epoch ends. Returns (events, time of each
    logged iteration)."""
    rnd = random.Random(seed)
    t = 1000.0
    events: list = [Progress(0, time=t)]
    at = {0: t}
    for i in range(1, total + 1):
        t += rnd.lognormvariate(0, 0.02)
        if i % log == 0:
            if per_epoch:
                epoch, batch = divmod(i - 1, per_epoch)
                events.append(Progress(batch + 1, epoch=epoch, batches_per_epoch=per_epoch,
                                       total_iterations=per_epoch, time=t))
            else:
                events.append(Progress(i, total_iterations=total, time=t))
            at[i] = t
        if evals and i % evals == 0:
            events.append(Eval(iteration=i, time=t + 0.1))
            t += eval_cost
        if saves and i % saves == 0:
            events.append(Checkpoint(iteration=i, time=t + 0.1))
            t += save_cost
    return events, at


def test_eval_at_epoch_end_schedules_one_per_remaining_epoch():
    events, at = bar_run(total=3000, per_epoch=1000, evals=1000, eval_cost=200.0)
    est = Estimator(clock=lambda: 0.0, total_iterations=3000)
    for ev in events:
        est.observe(ev)
        if isinstance(ev, Progress) and ev.global_iteration == 1500:
            break
    e = est.estimate(now=ev.time)
    assert e.periodic_interval_iterations == 1000
    # The eval at 2000 is ahead; the one after the final iteration is not part of the training time.
    assert e.periodic_events_remaining == 1
    assert e.eta_seconds == pytest.approx(at[3000] - at[1500], rel=0.03)


def test_work_in_every_line_is_part_of_the_pace():
    """Keras ``verbose=2``: one line per epoch, its validation inside it. No line is free of the validation, so
    there is no pace without it to add it to: the lines' own pace is the run's, and warm-up ends as usual."""
    rnd = random.Random(0)
    est = Estimator(clock=lambda: 0.0)
    t = 1000.0
    est.observe(Config(total_epochs=10, time=t))
    for epoch in range(5):
        t += 100.0 * rnd.lognormvariate(0, 0.02) + 30.0  # 100 batches, then validation, then the line
        est.observe(Progress(100, total_iterations=100, epoch=epoch, total_epochs=10, batches_per_epoch=100, time=t))
        est.observe(Eval(iteration=100 * (epoch + 1), time=t))
    e = est.estimate(now=t)
    assert e.state == "running"
    assert e.periodic_interval_iterations is None
    assert e.eta_seconds == pytest.approx(5 * 130.0, rel=0.03)


def in_blocks(events: list, lines: int) -> list:
    """The events as a block-buffered stdout delivers them: every ``lines`` progress lines arrive together, at the
    time the last of them was printed."""
    out, held, count = [], [], 0
    for event in events:
        held.append(event)
        count += isinstance(event, Progress)
        if count == lines:
            out += [dataclasses.replace(e, time=event.time) for e in held]
            held, count = [], 0
    return out + [dataclasses.replace(e, time=events[-1].time) for e in held]


def test_a_log_written_out_in_blocks_is_paced_by_its_printed_times():
    """``python train.py > log`` without ``-u``: 80 lines (800 iterations) arrive at once, about every 15 minutes.
    A block's arrival says when it was written out, not when each line was printed: the lines' printed times give
    the pace (one sample per block would leave warm-up unfinished for most of the run)."""
    events, at = trainer(eval_every=None)
    blocks = in_blocks(events, 80)
    est = Estimator(clock=lambda: 0.0)
    arrivals = sorted({e.time for e in blocks})
    for event in blocks:
        if event.time > arrivals[1]:
            break
        est.observe(event)
    e = est.estimate(now=arrivals[1])
    assert e.state == "running" and e.iteration == 1590
    assert e.eta_seconds == pytest.approx(at[3000] - at[1590], rel=0.05)


def test_a_line_without_a_printed_time_in_a_block_is_no_hang():
    """MetricLogger closes each epoch with a line that prints no step time: in a log that arrives in blocks such a
    line is placed by the printed times around it, never timed from the block before it (that would be a whole
    block's silence over a few iterations: a hang)."""
    events, at = trainer(eval_every=None)
    for event in events[2:]:
        if isinstance(event, Progress) and event.iteration % 800 == 0:  # the first line of every block
            event.iteration_seconds = None
    blocks = in_blocks(events, 80)
    arrivals = sorted({e.time for e in blocks})
    est = Estimator(clock=lambda: 0.0)
    for event in blocks:
        if event.time <= arrivals[-2]:
            est.observe(event)
    e = est.estimate(now=arrivals[-2])
    assert est._run.window.hangs == 0 and e.periodic_interval_iterations is None
    assert e.eta_seconds == pytest.approx(at[3000] - at[2390], rel=0.05)


def test_the_silence_between_blocks_is_the_runs_rhythm_not_a_stall():
    events, at = trainer(eval_every=None)
    blocks = in_blocks(events, 80)
    arrivals = sorted({e.time for e in blocks})
    est = Estimator(clock=lambda: 0.0)
    index = 0
    for arrival, following in zip(arrivals, arrivals[1:]):
        while index < len(blocks) and blocks[index].time <= arrival:
            est.observe(blocks[index])
            index += 1
        # Just before the next block, ~800 s after this one: the first block alone already says that much.
        assert est.estimate(now=following - 1.0).state != "stalled"
    # A run that goes silent for several blocks' time has stalled (the last block, with the run's end, held back).
    est = Estimator(clock=lambda: 0.0)
    for event in blocks:
        if event.time <= arrivals[-2]:
            est.observe(event)
    gap = arrivals[-2] - arrivals[-3]
    assert est.estimate(now=arrivals[-2] + 2 * gap).state == "running"
    assert est.estimate(now=arrivals[-2] + 6 * gap).state == "stalled"


def test_the_silence_between_blocks_is_learnt_from_their_arrivals():
    """Blocks that come slower than their lines' printed times add up to (a printed step time that leaves part of
    the step out): the stall allowance follows the blocks' arrivals, not the printed times."""
    events, _ = trainer(eval_every=None)
    for event in events[2:]:
        if isinstance(event, Progress):
            event.iteration_seconds = 0.5  # half the 1 s each step really takes
    blocks = in_blocks(events, 40)
    arrivals = sorted({e.time for e in blocks})
    est = Estimator(clock=lambda: 0.0)
    for event in blocks:
        if event.time <= arrivals[5]:
            est.observe(event)
    gap = arrivals[5] - arrivals[4]  # ~400 s, while the block's printed times say ~200 s
    assert est.estimate(now=arrivals[5] + 3 * gap).state == "running"
    assert est.estimate(now=arrivals[5] + 6 * gap).state == "stalled"


def test_one_burst_from_a_sidecar_that_could_not_read_for_a_while_is_not_a_block_buffered_log():
    """A sidecar starved for a few seconds reads 20 lines at once, then each line as it comes again: after
    ``BURST_LINES`` lines alone the record times pace the run again (2 s/it here, against a printed 1 s/it)."""
    est = Estimator(clock=lambda: 0.0, total_iterations=1000)
    t = 1000.0
    for i in range(0, 400):
        t += 2.0
        arrival = 1040.0 if 0 < i <= 20 else t  # lines 1-20 read in one poll, at the time of line 20
        est.observe(Progress(i, total_iterations=1000, iteration_seconds=1.0, time=arrival))
    e = est.estimate(now=t)
    assert not e.arrives_in_blocks
    assert e.seconds_per_iteration == pytest.approx(2.0, rel=0.02)


def test_a_redraw_and_the_next_step_at_one_time_are_not_a_block():
    """Lightning redraws a bar's postfix, then draws the next step, in one write: each step shares its arrival
    time with the redraw before it, never with the step before it. Record times still pace such a bar (here
    2 s/it against a printed rate of 1 s/it)."""
    est = Estimator(clock=lambda: 0.0, total_iterations=1000)
    t = 1000.0
    for i in range(0, 400):
        est.observe(Progress(i, total_iterations=1000, iteration_seconds=1.0, time=t))
        t += 2.0
        est.observe(Progress(i, total_iterations=1000, iteration_seconds=1.0, time=t))  # the postfix redrawn
    e = est.estimate(now=t)
    assert e.seconds_per_iteration == pytest.approx(2.0, rel=0.02)


def test_eval_and_checkpoint_schedules_are_kept_apart():
    events, at = bar_run(total=1200, evals=300, eval_cost=20.0, saves=400, save_cost=10.0)
    _, e = run_until(events, 700)
    # One merged list of tagged iterations (300, 400, 600) would read as a period of 100 or 150.
    assert e.periodic_interval_iterations == 300
    assert e.periodic_events_remaining == 2  # eval at 900, save at 800
    assert e.eta_seconds == pytest.approx(at[1200] - at[700], rel=0.02)


def test_baseline_forms_from_printed_times_without_record_times():
    # mmengine-style: every 50th iteration printed with its time, no timestamps; slower after 2000.
    est = Estimator(clock=lambda: 0.0)
    est.observe(Config(total_iterations=6000))
    rnd = random.Random(3)
    for i in range(0, 3001, 50):
        pace = 2.0 if i > 2000 else 1.0
        est.observe(Progress(i, iteration_seconds=pace * rnd.lognormvariate(0, 0.03)))
    e = est.estimate()
    assert e.baseline_seconds_per_iteration == pytest.approx(1.0, rel=0.05)
    assert e.pace_ratio == pytest.approx(2.0, rel=0.1)
    assert e.state == "regressed"


def test_data_loading_ratio_follows_the_current_pace_window():
    est = Estimator(clock=lambda: 0.0)
    t = 0.0
    for i in range(0, 400, 10):
        stalled = i >= 300
        pace = 2.5 if stalled else 1.0
        t += 10 * pace
        est.observe(Progress(i, iteration_seconds=pace, data_seconds=pace * (0.64 if stalled else 0.1), time=t))
    e = est.estimate(now=t)
    assert e.shift_since_iteration is not None and e.shift_since_iteration >= 300
    # The last 32 lines would mix 22 lines at 0.1 with 10 at 0.64 (0.27).
    assert e.data_loading_ratio == pytest.approx(0.64, abs=0.05)


def test_warmup_speed_up_is_warmup_not_a_trend():
    # Slow first ~100 iterations (past the first few samples held back for warm-up), then the normal pace.
    events, _ = trainer(eval_every=None, compile_s=5.0, pace_at=lambda i: 1.6 if i <= 100 else 1.0)
    _, e = run_until(events, 600)
    assert e.trend == "steady"
    assert e.shift_ratio is None
    assert e.warmup_iterations > 50
    _, later = run_until(events, 1500)
    assert later.baseline_seconds_per_iteration == pytest.approx(1.0, rel=0.05)
    assert later.trend == "steady"


def test_recurring_hangs_are_counted_in_the_eta():
    rnd = random.Random(5)
    # Short hangs (5 s in a 10 s logging step): clipped from the pace, but not spikes of a schedule.
    hangs = {i + rnd.randrange(-20, 20): 5.0 for i in range(125, 3000, 50)}
    events, at = trainer(eval_every=None, hangs=hangs, noise=0.05)
    _, e = run_until(events, 1500)
    assert e.seconds_per_iteration == pytest.approx(1.0, rel=0.05)  # the pace itself stays clipped
    # About 30 hangs of 5 s remain (~10% of the remaining time): the ETA must carry them.
    assert e.eta_seconds == pytest.approx(true_remaining(at, 1500, 3000), rel=0.04)


def regime_pace(seed: int, *, total: int = 3000, mean_segment: int = 300):
    """A pace that switches at Poisson-random points between 1.0 and slow phases (2-5x)."""
    rnd = random.Random(seed)
    switches, at, slow = [], 0, False
    while True:
        at += max(1, round(rnd.expovariate(1 / mean_segment)))
        if at >= total:
            break
        slow = not slow
        switches.append((at, rnd.uniform(2.0, 5.0) if slow else rnd.uniform(0.9, 1.1)))

    def pace_at(i: int) -> float:
        level = 1.0
        for start, value in switches:
            if i >= start:
                level = value
        return level

    return pace_at, switches


def score_regime_runs(seeds):
    """(our abs errors, current-pace-only abs errors, inside-range flags) at every 100 iterations after the run
    has shown two switches."""
    ours, current, inside = [], [], []
    for seed in seeds:
        pace_at, switches = regime_pace(seed)
        if len(switches) < 4:
            continue
        events, at = trainer(eval_every=None, noise=0.05, seed=seed, pace_at=pace_at)
        est = Estimator(clock=lambda: 0.0)
        for ev in events:
            est.observe(ev)
            if isinstance(ev, Progress) and ev.iteration % 100 == 0 and switches[1][0] + 50 < ev.iteration <= 2700:
                e = est.estimate(now=ev.time)
                truth = true_remaining(at, ev.iteration, 3000)
                ours.append(abs(e.eta_seconds - truth) / truth)
                current.append(abs(e.seconds_per_iteration * e.remaining_iterations - truth) / truth)
                inside.append(e.eta_lower_seconds <= truth <= e.eta_upper_seconds)
    return ours, current, inside


def test_regime_switching_runs_do_no_worse_than_the_pace_now():
    """Random regime switches (a Poisson number of segments of random pace) are where a long-run blend pays; the
    judge leans towards the pace now whenever candidates backtest about alike (``candidates.TIE``), which the real
    corpus favours (``benchmarks/eta_accuracy.py``), so here it is at least as good as the pace now, not better
    by the 20 % the long-run blend once gave on these synthetic runs."""
    ours, current, _ = score_regime_runs(range(10))
    assert len(ours) > 50
    assert sum(ours) / len(ours) <= sum(current) / len(current)


def test_range_learns_from_past_switches_but_stays_narrow_on_steady_runs():
    """Regime switches seen in the history widen the range; on a steady run it narrows as the run goes. Early on
    it still allows for slowdowns to come (they are common in real runs: ``benchmarks/data``), so it may reach
    ~1.6x there, never more, and within 1.3x once half the run is done."""
    _, _, inside = score_regime_runs(range(10))
    assert sum(inside) / len(inside) >= 0.7
    steady_inside = []
    for seed in range(4):
        events, at = trainer(noise=0.05, seed=seed)
        est = Estimator(clock=lambda: 0.0)
        for ev in events:
            est.observe(ev)
            if isinstance(ev, Progress) and ev.iteration % 100 == 0 and 300 <= ev.iteration <= 2700:
                e = est.estimate(now=ev.time)
                truth = true_remaining(at, ev.iteration, 3000)
                steady_inside.append(e.eta_lower_seconds <= truth <= e.eta_upper_seconds)
                assert e.eta_upper_seconds < (1.3 if ev.iteration >= 1500 else 1.7) * truth
                assert e.eta_lower_seconds > 0.75 * truth
    assert sum(steady_inside) / len(steady_inside) >= 0.6


def test_a_slow_phase_is_a_new_pace_not_recurring_hangs():
    """The first samples of a slower phase are clipped as hangs until the change test sees the new pace; once it
    does, they belong to that pace and must not also be added back as recurring hang time."""
    from exporter.estimate.pace import PaceWindow, Sample

    window = PaceWindow()
    rnd = random.Random(3)
    changes = []
    for i in range(1, 301):
        slow = i > 200
        seconds = (3.0 if slow else 1.0) * rnd.lognormvariate(0, 0.03)
        change = window.add(Sample(1, seconds, i))
        if change is not None:
            changes.append(change)
    assert changes and changes[-1].ratio == pytest.approx(3.0, rel=0.1)
    assert window.clipped_samples == 0
    assert window.clipped_seconds == pytest.approx(0.0, abs=1e-9)
    # A one-off hang is still clipped and counted.
    window.add(Sample(1, 30.0, 301))
    assert window.clipped_samples == 1
