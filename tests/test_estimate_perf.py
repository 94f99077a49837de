"""The estimator's fast paths: same figures as the plain computation, bounded work and memory per sample.

No timings: work is checked structurally (bounded structures, how often the exact O(window) path runs).
"""

from __future__ import annotations

import math
import random
from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.estimate import Estimator
from exporter.estimate.pace import ChangePoint, PaceWindow, Sample
from exporter.estimate.range import Calibration
from exporter.estimate.robust import clip_limit, clipped_mean, mad_sorted, median, robust_sigma
from exporter.events import Progress


class PlainWindow:
    """The window computed from scratch every sample (sorts and left-to-right prefix sums): the reference."""

    def __init__(self, max_samples: int = 200) -> None:
        self.samples: deque[Sample] = deque(maxlen=max_samples)
        self.pace: float | None = None
        self.limit: float | None = None

    def add(self, sample: Sample) -> ChangePoint | None:
        self.samples.append(sample)
        change = self.detect()
        paces = [s.pace for s in self.samples]
        self.pace = clipped_mean(paces, [s.iterations for s in self.samples])
        self.limit = clip_limit(paces) if len(paces) >= 3 else None
        return change

    def detect(self) -> ChangePoint | None:
        samples = list(self.samples)
        k, n = 4, len(samples)
        if n < 2 * k or any(s.pace <= 0 for s in samples):
            return None
        paces = [s.pace for s in samples]
        limit = clip_limit(paces)
        sigma = robust_sigma([math.log(p) for p in paces], floor_ratio=0.0)
        seconds, iterations = [0.0], [0.0]
        for s in samples:
            seconds.append(seconds[-1] + min(s.pace, limit) * s.iterations)
            iterations.append(iterations[-1] + s.iterations)
        m = k
        while 2 * m <= n:
            split = n - m
            old = seconds[split] / iterations[split]
            new = (seconds[n] - seconds[split]) / (iterations[n] - iterations[split])
            if m == k:
                ratios = [p / old for p in paces[split:]]
                found = all(r > 1.3 for r in ratios) or all(r < 1 / 1.3 for r in ratios)
            else:
                error = sigma * math.sqrt(1 / m + 1 / split)
                found = abs(math.log(new / old)) > max(math.log(1.1), 4.0 * error)
            if found:
                recent, dropped = samples[split:], samples[:split]
                self.samples = deque(recent, maxlen=self.samples.maxlen)
                new = sum(s.seconds for s in recent) / sum(s.iterations for s in recent)
                return ChangePoint(
                    new / old, recent[0].end_iteration, recent[0].end_time, old, new,
                    sum(s.iterations for s in dropped), sum(s.seconds for s in dropped),
                )
            m *= 2
        return None


def noisy_samples(rnd: random.Random, count: int) -> list[Sample]:
    """Noisy paces with hangs, steps, zero-length and infinite samples, uneven logging gaps."""
    out, level, iteration = [], 1.0, 0
    for _ in range(count):
        roll = rnd.random()
        if roll < 0.01:
            level *= rnd.choice([0.5, 0.8, 1.25, 2.0])
        gap = rnd.choice([1, 1, 1, 2, 10])
        seconds = gap * level * rnd.lognormvariate(0, 0.05)
        if roll > 0.98:
            seconds *= rnd.uniform(3, 30)  # a hang: clipped
        elif roll > 0.997:
            seconds = 0.0
        elif 0.5 < roll < 0.5005:
            seconds = math.inf
        iteration += gap
        out.append(Sample(gap, seconds, iteration, None))
    return out


def test_window_matches_the_plain_computation_sample_by_sample() -> None:
    """Every pace, clipping level and change point equals the from-scratch computation (bit for bit)."""
    for seed in range(3):
        fast, plain = PaceWindow(max_samples=60), PlainWindow(max_samples=60)
        changes = 0
        for sample in noisy_samples(random.Random(seed), 3000):
            got, want = fast.add(sample), plain.add(sample)
            assert got == want
            changes += got is not None
            assert fast.pace == plain.pace or (math.isnan(fast.pace) and math.isnan(plain.pace))
            assert fast._limit == plain.limit or (math.isnan(fast._limit) and math.isnan(plain.limit))
            assert fast.samples == tuple(plain.samples)
        assert changes >= 5  # the streams do exercise the change path


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=40),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)
def test_mad_of_sorted_values_equals_sorting_the_deviations(values: list[float], centre: float) -> None:
    for c in (centre, median(values), values[0]):
        assert mad_sorted(sorted(values), c) == median([abs(v - c) for v in values])


def test_calibration_bounds_equal_the_plain_computation_over_every_point() -> None:
    """The bisected bounds equal the scan over every point: repeated iterations, clocks that step back (overhead
    is subtracted), zero paces that are not kept, thinning, a clear, and points recorded out of order."""
    for seed in range(4):
        rnd = random.Random(seed)
        calibration = Calibration(max_points=16, min_points=rnd.choice([1, 3, 5]))
        iteration, clock = 0, 0.0
        unordered = False
        for step in range(600):
            iteration += rnd.choice([0, 1, 1, 5, 40])
            clock += rnd.uniform(-3.0, 10.0)
            pace = rnd.choice([0.0, rnd.uniform(0.1, 3.0), rnd.uniform(0.1, 3.0)])
            if seed == 3 and step % 97 == 50:
                iteration -= 30  # out of order: the plain scan takes over
            if step == 300:
                calibration.clear()
            calibration.record(iteration, clock, pace)
            unordered = unordered or not calibration._ordered
            for at, now in ((iteration, clock), (iteration + 7, clock + rnd.uniform(-20.0, 20.0))):
                for horizon in (0, 1, rnd.randint(1, 200), rnd.uniform(1, 5000), 10**6):
                    assert calibration.bounds(at, now, horizon=horizon) == calibration._bounds_plain(
                        at, now, horizon=horizon
                    )
        assert unordered == (seed == 3)


def test_work_and_memory_do_not_grow_with_the_log() -> None:
    """50k samples (250 windows) of a steady noisy run: every structure stays within its bound, and the exact O(window)
    change computation runs only near real changes (the cheap screen settles the rest)."""
    estimator = Estimator(total_iterations=10**6, clock=lambda: 0.0)
    exact_calls = 0
    window_type = PaceWindow
    original = window_type._change

    def counting(self: PaceWindow, limit: float, sigma: float) -> ChangePoint | None:
        nonlocal exact_calls
        exact_calls += 1
        return original(self, limit, sigma)

    rnd = random.Random(7)
    t = 1000.0
    window_type._change = counting  # type: ignore[method-assign]
    try:
        for i in range(50_001):
            t += rnd.lognormvariate(0, 0.05) * (25.0 if rnd.random() < 0.002 else 1.0)
            estimator.observe(Progress(i, time=t))
    finally:
        window_type._change = original  # type: ignore[method-assign]
    run = estimator._run
    window = run.window
    assert len(window) <= window.capacity == 200
    assert len(window._ordered) == len(window._ordered_logs) == len(window._paces) == len(window)
    assert len(window._weights) == len(window._products) == len(window)
    assert len(run.blocks._blocks) <= 64
    assert len(run.calibration._points) <= 64
    assert len(run.line_gaps) <= 32 and len(run.gap_seconds) <= 32 and len(run.data_ratios) <= 64
    assert exact_calls < 50  # a steady run: the screen settles (nearly) every sample
    estimate = estimator.estimate(now=t)
    assert estimate.seconds_per_iteration is not None and 0.9 < estimate.seconds_per_iteration < 1.2
