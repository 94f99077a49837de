"""Bad numbers never take the sidecar down: each case fails without its handling (issue: failure isolation).

- a 310-digit total must not blank ``/metrics`` for every run (``float()`` of a huge int overflowed);
- a 400-digit iteration must not freeze the run (the estimator raised on every later poll);
- a far-future completion (a total of 1e12 at 1 s/it, a bar at 1e-300 it/s) is published as unknown;
- a property over the whole path: random number text and times give no exception, no non-finite or negative
  gauge (the loss aside) and lower <= ETA <= upper.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from exporter.estimate import Estimator
from exporter.estimate.model import Estimate
from exporter.events import Progress
from exporter.metrics import make_registry
from exporter.pipeline import Pipeline
from exporter.runtime import RunState
from exporter.sources import Record


class View:
    def __init__(self, runs: list[RunState]) -> None:
        self._runs = runs

    def runs(self) -> list[RunState]:
        return self._runs

    def gpu(self) -> None:
        return None


def scrape(runs: list[RunState]) -> dict[tuple[str, str], float]:
    text = make_registry(View(runs)).render().decode()
    return {
        (sample.name, sample.labels.get("run", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def feed(lines: list[str], *, start: float = 1_800_000_000.0, step: float = 1.0) -> Estimator:
    pipeline = Pipeline()
    estimator = Estimator(clock=lambda: start)
    for i, line in enumerate(lines):
        for event in pipeline.feed(Record(line, start + i * step, i + 1, "x.log")):
            estimator.observe(event)
    return estimator


def test_a_huge_integer_drops_its_series_not_the_scrape():
    bad = RunState(run="bad", source="a.log", estimate=Estimate(iteration=5, total_iterations=10**310), up=True)
    good = RunState(run="good", source="b.log", estimate=Estimate(iteration=7, total_iterations=100), up=True)
    got = scrape([bad, good])
    assert got[("training_iteration", "good")] == 7
    assert got[("training_total_iterations", "good")] == 100
    assert got[("training_iteration", "bad")] == 5
    assert ("training_total_iterations", "bad") not in got


def test_a_400_digit_iteration_is_rejected_and_the_run_goes_on():
    lines = [f"iter {i}: loss 1.5, time 50.00ms, mfu 30.00%" for i in range(0, 500, 10)]
    lines.append("iter " + "9" * 400 + ": loss 1.5, time 50.00ms, mfu 30.00%")
    lines += [f"iter {i}: loss 1.5, time 50.00ms, mfu 30.00%" for i in range(500, 1000, 10)]
    pipeline = Pipeline()
    estimator = Estimator(clock=lambda: 0.0, total_iterations=2000)
    for i, line in enumerate(lines):
        for event in pipeline.feed(Record(line, 1_800_000_000.0 + i, i + 1, "x.log")):
            estimator.observe(event)
    assert pipeline.rejected == 1
    estimate = estimator.estimate(now=1_800_000_000.0 + len(lines))
    assert estimate.iteration == 990
    assert estimate.runs == 1  # the absurd line did not restart the run either
    state = RunState(run="r", source="x.log", estimate=estimate, up=True, errors=(("check", pipeline.rejected),))
    assert scrape([state])[("training_exporter_errors_total", "r")] == 1


def test_a_far_future_completion_is_unknown_not_an_absurd_gauge():
    lines = [f"iter {i}: loss 1.5, time 1000.00ms, mfu 30.00%" for i in range(0, 400, 10)]
    estimator = feed(lines, step=10.0)
    estimator_total = Estimator(clock=lambda: 0.0, total_iterations=10**12)
    for i, line in enumerate(lines):
        for event in Pipeline().feed(Record(line, 1_800_000_000.0 + 10.0 * i, i + 1, "x.log")):
            estimator_total.observe(event)
    far = estimator_total.estimate(now=1_800_000_000.0 + 400.0)
    assert far.eta_seconds is None and far.completion_timestamp_seconds is None
    assert far.seconds_per_iteration is not None  # the pace is still known
    assert estimator.estimate().eta_seconds is None  # no total: no ETA, no crash


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.integers(min_value=-5, max_value=10**30), st.sampled_from([0, 1, 10**400])),
            st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e-300, 1e300, -1.0])),
            st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(1.5)),
            st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_random_numbers_and_times_never_break_the_path(rows):
    pipeline = Pipeline()
    estimator = Estimator(clock=lambda: 1_800_000_000.0, total_iterations=None)
    other = Estimator(clock=lambda: 1_800_000_000.0, total_iterations=100)
    for i, (iteration, ms, loss, offset) in enumerate(rows):
        line = f"iter {iteration}: loss {loss}, time {ms}ms, mfu 30.00%"
        for event in pipeline.feed(Record(line, 1_800_000_000.0 + offset, i + 1, "x.log")):
            estimator.observe(event)
        other.observe(Progress(i, iteration_seconds=1.0, time=1_800_000_000.0 + i))
    estimate = estimator.estimate(now=1_800_000_000.0 + 1e6)
    state = RunState(run="r", source="x.log", estimate=estimate, up=True)
    healthy = RunState(run="ok", source="y.log", estimate=other.estimate(now=1_800_000_100.0), up=True)
    got = scrape([state, healthy])
    for (name, _), value in got.items():
        if name != "training_loss":
            assert math.isfinite(value) and value >= 0, name
    if estimate.eta_seconds is not None:
        assert estimate.eta_lower_seconds <= estimate.eta_seconds <= estimate.eta_upper_seconds
    assert got[("training_iteration", "ok")] == len(rows) - 1  # the other run is unaffected
