"""A long run's unremarkable lines share samples (``estimate.coalesce``): the analysis runs per sample, so a log
of millions of lines is analysed tens of thousands of times; short runs, spikes, periodic work and slow-logging
runs are read exactly as with one sample per line."""

from __future__ import annotations

import math
import random

import pytest

from exporter.estimate import Estimator, coalesce
from exporter.estimate.coalesce import COALESCE_AFTER, MAX_SAMPLE_SECONDS, MAX_TIMED_SAMPLE_SECONDS, lines_per_sample
from exporter.estimate.pace import Sample
from exporter.events import Config, Eval, Event, Progress

FIELDS = ("seconds_per_iteration", "eta_seconds", "eta_lower_seconds", "eta_upper_seconds", "pace_ratio",
          "periodic_overhead_seconds", "periodic_interval_iterations", "state", "pace_source")


def printed_run(lines: int, *, seed: int = 1, eval_every: int = 0, eval_seconds: float = 0.0) -> list[Event]:
    """A nanoGPT-like run of ``lines`` lines with printed times (no record times): 0.1 s +- 10 % per iteration."""
    rng = random.Random(seed)
    events: list[Event] = [Config(total_iterations=lines * 2, new_run=True)]
    if eval_every:
        events.append(Config(eval_interval=eval_every))
    for i in range(lines):
        seconds = 0.1 * (0.9 + 0.2 * rng.random())
        if eval_every and i and i % eval_every == 0:
            events.append(Eval(iteration=i, loss=2.0))
            seconds += eval_seconds
        events.append(Progress(iteration=i, loss=1.0, iteration_seconds=seconds))
    return events


def timed_run(gaps: list[float], *, start: float = 1.7e9) -> list[Event]:
    """Progress lines with record times ``gaps`` seconds apart, one iteration each."""
    events: list[Event] = [Config(total_iterations=len(gaps) * 2, new_run=True, time=start)]
    at = start
    for i, gap in enumerate(gaps):
        at += gap
        events.append(Progress(iteration=i, loss=1.0, time=at))
    return events


def figures(events: list[Event], *, now: float = 0.0) -> dict[str, object]:
    estimator = Estimator(clock=lambda: now)
    for event in events:
        estimator.observe(event)
    estimate = estimator.estimate(now=now)
    return {name: getattr(estimate, name) for name in FIELDS}


def samples_taken(events: list[Event], monkeypatch: pytest.MonkeyPatch) -> list[Sample]:
    """Every sample the estimator analysed, in order."""
    taken: list[Sample] = []
    original = Estimator._ingest

    def ingest(self: Estimator, run: object, sample: Sample, tagged: frozenset[str]) -> None:
        taken.append(sample)
        original(self, run, sample, tagged)  # type: ignore[arg-type]

    monkeypatch.setattr(Estimator, "_ingest", ingest)
    figures(events)
    return taken


def test_lines_per_sample_doubles_with_the_run() -> None:
    assert [lines_per_sample(n) for n in (0, COALESCE_AFTER - 1)] == [1, 1]
    assert lines_per_sample(COALESCE_AFTER) == 2
    assert lines_per_sample(2 * COALESCE_AFTER) == lines_per_sample(4 * COALESCE_AFTER - 1) == 4
    assert lines_per_sample(4 * COALESCE_AFTER) == 8


def test_a_short_run_is_read_one_sample_per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    events = printed_run(COALESCE_AFTER - 100, eval_every=250, eval_seconds=3.0)
    coalesced = figures(events)
    monkeypatch.setattr(coalesce, "COALESCE_AFTER", 10**9)
    assert figures(events) == coalesced
    assert all(s.lines == 1 for s in samples_taken(events, monkeypatch))


def test_a_long_run_is_analysed_per_sample_not_per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = 100_000
    samples = samples_taken(printed_run(lines), monkeypatch)
    levels = math.log2(lines / COALESCE_AFTER)
    assert len(samples) <= COALESCE_AFTER * (1 + levels / 2) * 1.1
    assert sum(s.span for s in samples) >= lines - 2 * lines_per_sample(lines) - 10  # every line is in one


def test_a_long_run_keeps_its_figures() -> None:
    lines = 60_000
    coalesced = figures(printed_run(lines))
    pace = coalesced["seconds_per_iteration"]
    assert isinstance(pace, float) and pace == pytest.approx(0.1, rel=0.02)
    eta = coalesced["eta_seconds"]
    assert isinstance(eta, float) and eta == pytest.approx(lines * 0.1, rel=0.05)


def test_periodic_work_is_measured_as_with_one_sample_per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    events = printed_run(30_000, eval_every=500, eval_seconds=5.0)
    coalesced = figures(events)
    cost = coalesced["periodic_overhead_seconds"]
    assert isinstance(cost, float) and cost == pytest.approx(5.0, rel=0.05)
    assert coalesced["periodic_interval_iterations"] == 500
    monkeypatch.setattr(coalesce, "COALESCE_AFTER", 10**9)
    plain = figures(events)["periodic_overhead_seconds"]
    assert isinstance(plain, float) and cost == pytest.approx(plain, rel=0.02)


def test_a_spike_is_a_sample_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    gaps = [0.005] * 20_000  # a second of lines holds more than a sample takes
    gaps[15_001] = 30.0  # one hang, well after coalescing started
    samples = samples_taken(timed_run(gaps), monkeypatch)
    slow = [s for s in samples if s.pace > 1.0]
    assert len(slow) == 1 and slow[0].lines == 1 and slow[0].seconds == pytest.approx(30.0)
    assert max(s.lines for s in samples) == lines_per_sample(20_000)


def test_a_sample_spans_a_few_seconds_at_most(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = 5 * COALESCE_AFTER
    assert lines_per_sample(lines) > 3
    gap = 0.4 * MAX_TIMED_SAMPLE_SECONDS
    samples = samples_taken(timed_run([gap] * lines), monkeypatch)
    assert max(s.lines for s in samples) == math.ceil(MAX_TIMED_SAMPLE_SECONDS / gap)
    seconds = 0.4 * MAX_SAMPLE_SECONDS
    events: list[Event] = [Config(total_iterations=2 * lines, new_run=True)]
    events += [Progress(iteration=i, loss=1.0, iteration_seconds=seconds) for i in range(lines)]
    samples = samples_taken(events, monkeypatch)
    assert max(s.lines for s in samples) == math.ceil(MAX_SAMPLE_SECONDS / seconds)


def test_a_stall_after_coalescing_is_seen_on_the_usual_line_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines 10 s apart taken three to a sample (samples of up to 30 s here): the usual gap between lines stays
    10 s (a stall after 5 x 10 s), not the sample's 30 s."""
    monkeypatch.setattr(coalesce, "MAX_TIMED_SAMPLE_SECONDS", 30.0)
    events = timed_run([10.0] * (5 * COALESCE_AFTER))
    last = events[-1].time
    assert last is not None
    assert figures(events, now=last + 45.0)["state"] != "stalled"
    assert figures(events, now=last + 60.0)["state"] == "stalled"


def test_lines_read_in_one_poll_keep_the_pace() -> None:
    """A followed run read in bursts: each 0.5 s poll finds 25 new lines, all stamped with the poll's time. Long
    after coalescing started, the pace is still 0.5 s / 25 lines (no line of a burst is a spike, none is free)."""
    events: list[Event] = [Config(total_iterations=400_000, new_run=True, time=1.7e9)]
    at, iteration = 1.7e9, 0
    for _ in range(2_000):
        at += 0.5
        for _ in range(25):
            events.append(Progress(iteration=iteration, loss=1.0, time=at))
            iteration += 1
    pace = figures(events, now=at)["seconds_per_iteration"]
    assert isinstance(pace, float) and pace == pytest.approx(0.02, rel=0.02)
