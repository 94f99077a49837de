"""Each diagnosis rule, with fake GPU snapshots and with Estimates made by hand from real-shaped log lines."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporter.diagnosis import (
    CAUSES,
    DATA_DOMINANT_RATIO,
    GPU_BUSY_RATIO,
    GPU_IDLE_RATIO,
    SLOW_PACE_RATIO,
    Diagnosis,
    diagnose,
)
from exporter.estimate.model import STATES, Estimate
from exporter.gpu.fake import FakeDeviceLayer
from exporter.gpu.sampler import GpuSampler
from exporter.gpu.snapshot import CLOCKS_EVENT_REASONS, GpuSnapshot

DATA = Path(__file__).parent / "data"


def gpu(
    index: int = 0,
    util: float | None = 0.97,
    low: float | None = None,
    *,
    window: float | None = None,
    window_low: float | None = None,
    reasons: tuple[str, ...] = (),
) -> GpuSnapshot:
    return GpuSnapshot(
        index=index,
        uuid=f"GPU-{index}",
        utilization_ratio=util,
        utilization_min_ratio=util if low is None else low,
        utilization_window_ratio=window,
        utilization_window_min_ratio=window_low,
        clocks_event_reasons={name: name in reasons for name in CLOCKS_EVENT_REASONS.values()},
    )


def slow(pace: float = 1.8, **kwargs) -> Estimate:
    return Estimate(state="regressed", pace_ratio=pace, **kwargs)


# -- Estimates made by hand from log lines (what the estimator would say, computed transparently) --------------

MMENGINE = re.compile(r"Iter\(train\) \[\s*(\d+)/(\d+)\].*?\btime: ([\d.]+)\s+data_time: ([\d.]+)")
NANOGPT = re.compile(r"^iter (\d+): loss [\d.]+, time ([\d.]+)ms")


def mmengine_estimate(lines: list[str]) -> Estimate:
    """Baseline = median printed time of the first 10 lines; current = the last 5 lines (time and data share)."""
    rows = [(int(m[1]), int(m[2]), float(m[3]), float(m[4])) for m in map(MMENGINE.search, lines) if m]
    baseline = statistics.median(r[2] for r in rows[:10])
    recent = rows[-5:]
    current = statistics.mean(r[2] for r in recent)
    pace = current / baseline
    return Estimate(
        state="regressed" if pace >= SLOW_PACE_RATIO else "running",
        iteration=rows[-1][0],
        total_iterations=rows[-1][1],
        seconds_per_iteration=current,
        baseline_seconds_per_iteration=baseline,
        pace_ratio=pace,
        data_loading_ratio=sum(r[3] for r in recent) / sum(r[2] for r in recent),
    )


def nanogpt_estimate(lines: list[str]) -> Estimate:
    """Baseline = median iteration time over iterations 690–1190 of the real run (before the noisy neighbour);
    current = median of the last 20 printed iterations; eval iterations (every 250th) left out as nanoGPT
    includes the eval and checkpoint in them."""
    rows = [(int(m[1]), float(m[2]) / 1000) for m in map(NANOGPT.match, lines) if m]
    normal = [r for r in rows if r[0] % 250]
    baseline = statistics.median(t for i, t in normal if 690 <= i <= 1190)
    current = statistics.median(t for _, t in normal[-20:])
    pace = current / baseline
    return Estimate(
        state="regressed" if pace >= SLOW_PACE_RATIO else "running",
        iteration=rows[-1][0],
        seconds_per_iteration=current,
        baseline_seconds_per_iteration=baseline,
        pace_ratio=pace,
    )


def read(name: str) -> list[str]:
    return (DATA / name).read_text().splitlines()


# -- stalled / eval / warm-up / finished ------------------------------------------------------------------------


def test_stalled_with_busy_gpus_points_at_a_collective_deadlock() -> None:
    d = diagnose(Estimate(state="stalled"), [gpu(0, 1.0), gpu(1, 0.99)])
    assert d.cause == "stalled" and "deadlock" in d.hint


def test_stalled_with_idle_gpu_says_waiting_or_gone() -> None:
    d = diagnose(Estimate(state="stalled"), [gpu(0, 0.0)])
    assert d.cause == "stalled" and "waiting" in d.hint and "deadlock" not in d.hint


def test_stalled_from_the_log_alone() -> None:
    # Even with data loading dominating before the hang, no progress is the cause to report.
    d = diagnose(Estimate(state="stalled", data_loading_ratio=0.9))
    assert d.cause == "stalled" and "hung" in d.hint


def test_evaluating_is_eval_or_checkpoint_even_with_idle_gpu() -> None:
    d = diagnose(Estimate(state="evaluating", pace_ratio=3.0), [gpu(0, 0.1)])
    assert d.cause == "eval_or_checkpoint"


@pytest.mark.parametrize(("state", "word"), [("warmup", "warming up"), ("finished", "finished")])
def test_warmup_and_finished_are_healthy(state: str, word: str) -> None:
    d = diagnose(Estimate(state=state, pace_ratio=4.0, data_loading_ratio=0.9), [gpu(0, 0.0)])
    assert d == Diagnosis("healthy", d.hint) and word in d.hint


# -- input_bound ------------------------------------------------------------------------------------------------


def test_mmengine_data_stall_is_input_bound_from_the_log_alone() -> None:
    estimate = mmengine_estimate(read("gpu_diag_mmengine_data_stall.log"))
    assert estimate.pace_ratio is not None and estimate.pace_ratio > 2.5
    assert estimate.data_loading_ratio is not None and estimate.data_loading_ratio > 0.6
    d = diagnose(estimate)
    assert d.cause == "input_bound"
    assert "num_workers" in d.hint and "pin_memory" in d.hint and "local disk" in d.hint
    assert f"data loading takes {estimate.data_loading_ratio:.0%} of each iteration" in d.hint


def test_mmengine_data_stall_with_idle_gpus_is_input_bound() -> None:
    estimate = mmengine_estimate(read("gpu_diag_mmengine_data_stall.log"))
    d = diagnose(estimate, [gpu(0, 0.35, 0.0), gpu(1, 0.33, 0.0)])
    assert d.cause == "input_bound" and "GPU busy 34% (min 0%)" in d.hint


def test_mmengine_before_the_stall_is_healthy() -> None:
    estimate = mmengine_estimate(read("gpu_diag_mmengine_data_stall.log")[:20])
    assert estimate.state == "running"
    assert diagnose(estimate, [gpu(0, 0.96, 0.9)]) == Diagnosis("healthy", "on pace.")


def test_data_dominating_is_input_bound_even_on_pace() -> None:
    on_pace = Estimate(state="running", pace_ratio=1.0, data_loading_ratio=DATA_DOMINANT_RATIO + 0.05)
    assert diagnose(on_pace).cause == "input_bound"
    below = Estimate(state="running", pace_ratio=1.0, data_loading_ratio=DATA_DOMINANT_RATIO - 0.05)
    assert diagnose(below).cause == "healthy"


@pytest.mark.parametrize(
    ("pace", "data", "cause"),
    [
        (1.5, 0.20, "input_bound"),  # extra share 0.33; data covers more than half of it
        (1.5, 0.10, "compute_slowdown"),
        (3.0, 0.35, "input_bound"),  # extra share 0.67
        (3.0, 0.25, "compute_slowdown"),
    ],
)
def test_data_share_that_explains_the_slowdown(pace: float, data: float, cause: str) -> None:
    assert diagnose(slow(pace, data_loading_ratio=data)).cause == cause


def test_slow_with_idle_gpu_is_input_bound() -> None:
    d = diagnose(slow(), [gpu(0, GPU_IDLE_RATIO - 0.1)])
    assert d.cause == "input_bound" and "waits for the host" in d.hint


def test_slow_with_dips_to_idle_is_input_bound() -> None:
    # A mean that is not busy plus a window minimum at 0: periodic loader stalls between polls.
    assert diagnose(slow(), [gpu(0, 0.9, window=0.7, window_low=0.0)]).cause == "input_bound"
    assert diagnose(slow(), [gpu(0, 0.9, window=0.7, window_low=0.3)]).cause == "compute_slowdown"
    # A busy mean with one dip is a compute-side slowdown with a hiccup, not an input stall.
    assert diagnose(slow(), [gpu(0, 0.9, window=0.9, window_low=0.0)]).cause == "compute_slowdown"


def test_window_values_win_over_one_noisy_poll() -> None:
    momentary_dip = gpu(0, 0.0, 0.0, window=0.95, window_low=0.9)
    assert diagnose(slow(), [momentary_dip]).cause == "compute_slowdown"
    # Without window values the poll values are used.
    assert diagnose(slow(), [gpu(0, 0.0, 0.0)]).cause == "input_bound"


# -- throttled ----------------------------------------------------------------------------------------------


def test_mmengine_compute_slowdown_with_thermal_throttle_is_throttled() -> None:
    estimate = mmengine_estimate(read("gpu_diag_mmengine_compute_slow.log"))
    assert estimate.state == "regressed" and estimate.data_loading_ratio is not None
    assert estimate.data_loading_ratio < 0.05
    gpus = [gpu(0, 0.99), gpu(1, 0.98, reasons=("hw_thermal_slowdown", "sw_thermal_slowdown"))]
    d = diagnose(estimate, gpus)
    assert d.cause == "throttled"
    assert "GPU 1: hw_thermal_slowdown, sw_thermal_slowdown" in d.hint and "GPU 0" not in d.hint


@pytest.mark.parametrize("reason", ["sw_power_cap", "hw_slowdown", "hw_power_brake_slowdown"])
def test_power_reasons_are_throttling(reason: str) -> None:
    assert diagnose(slow(), [gpu(0, 0.99, reasons=(reason,))]).cause == "throttled"


@pytest.mark.parametrize("reason", ["gpu_idle", "applications_clocks_setting", "sync_boost"])
def test_non_throttle_reasons_are_ignored(reason: str) -> None:
    assert diagnose(slow(), [gpu(0, 0.99, reasons=(reason,))]).cause == "compute_slowdown"


def test_throttling_without_slowdown_is_healthy_with_a_note() -> None:
    d = diagnose(Estimate(state="running", pace_ratio=1.02), [gpu(0, 0.99, reasons=("sw_power_cap",))])
    assert d.cause == "healthy" and "sw_power_cap" in d.hint


def test_input_evidence_wins_over_throttling() -> None:
    d = diagnose(slow(data_loading_ratio=0.5), [gpu(0, 0.2, reasons=("sw_power_cap",))])
    assert d.cause == "input_bound"


# -- compute_slowdown --------------------------------------------------------------------------------------


def test_mmengine_compute_slowdown_with_busy_gpus() -> None:
    estimate = mmengine_estimate(read("gpu_diag_mmengine_compute_slow.log"))
    d = diagnose(estimate, [gpu(0, GPU_BUSY_RATIO + 0.1, 0.8)])
    assert d.cause == "compute_slowdown" and "not throttled" in d.hint and "contention" in d.hint


def test_mmengine_compute_slowdown_from_the_log_alone() -> None:
    d = diagnose(mmengine_estimate(read("gpu_diag_mmengine_compute_slow.log")))
    assert d.cause == "compute_slowdown" and "data loading only 1%" in d.hint


def test_real_nanogpt_noisy_neighbour_is_compute_slowdown_without_gpu_data() -> None:
    # Real log (CPU run): a CPU-heavy neighbour took iterations from ~80 ms to ~300 ms.
    estimate = nanogpt_estimate(read("gpu_diag_nanogpt_noisy_neighbour.log"))
    assert estimate.pace_ratio is not None and estimate.pace_ratio > 2.5
    d = diagnose(estimate)
    assert d.cause == "compute_slowdown" and "not ruled out" in d.hint


def test_real_nanogpt_before_the_neighbour_is_healthy() -> None:
    lines = read("gpu_diag_nanogpt_noisy_neighbour.log")
    cut = next(i for i, line in enumerate(lines) if line.startswith("iter 1190:"))
    estimate = nanogpt_estimate(lines[: cut + 1])
    assert diagnose(estimate).cause == "healthy"


def test_shift_ratio_counts_as_slowdown_before_a_baseline_exists() -> None:
    early = Estimate(state="running", pace_ratio=None, shift_ratio=2.0, trend="slowing")
    d = diagnose(early, [gpu(0, 0.98)])
    assert d.cause == "compute_slowdown" and "before the latest change" in d.hint
    assert diagnose(Estimate(state="running", shift_ratio=1.1), [gpu(0, 0.98)]).cause == "healthy"


def test_regressed_state_is_slow_even_below_the_ratio() -> None:
    assert diagnose(Estimate(state="regressed", pace_ratio=1.2), [gpu(0, 0.98)]).cause == "compute_slowdown"


# -- healthy -------------------------------------------------------------------------------------------------


def test_on_pace_with_a_mostly_idle_gpu_is_healthy_with_a_note() -> None:
    d = diagnose(Estimate(state="running", pace_ratio=1.0), [gpu(0, 0.3)])
    assert d.cause == "healthy" and "input- or CPU-bound" in d.hint


def test_unknown_total_uses_the_same_rules() -> None:
    assert diagnose(Estimate(state="unknown_total", pace_ratio=2.0), [gpu(0, 0.1)]).cause == "input_bound"


def test_gpus_without_utilization_count_as_no_gpu_data() -> None:
    d = diagnose(slow(), [gpu(0, None)])
    assert d.cause == "compute_slowdown" and "no GPU data" in d.hint


# -- fake GPU samples through the real sampler ----------------------------------------------------------------


def test_sampler_snapshots_drive_the_diagnosis() -> None:
    now = [5_000.0]
    layer = FakeDeviceLayer(2, clock=lambda: now[0])
    sampler = GpuSampler(layer=layer, clock=lambda: now[0], window_seconds=30.0)
    regressed = slow(2.0)

    # Loader stalls: every 4 s the GPUs idle for 2 s.
    for g in layer.gpus:
        g.utilization_percent = lambda t: 0.0 if (t % 4.0) < 2.0 else 99.0
    for _ in range(30):
        sampler.poll_once()
        now[0] += 1.0
    assert diagnose(regressed, sampler.snapshots()).cause == "input_bound"

    # Busy again but slow (another job on the GPU): once the window forgets the stalls, compute_slowdown.
    for g in layer.gpus:
        g.utilization_percent = 99.0
    for _ in range(31):
        sampler.poll_once()
        now[0] += 1.0
    assert diagnose(regressed, sampler.snapshots()).cause == "compute_slowdown"

    layer.gpus[1].clocks_reasons = 0x40  # hw_thermal_slowdown
    sampler.poll_once()
    d = diagnose(regressed, sampler.snapshots())
    assert d.cause == "throttled" and "GPU 1" in d.hint


# -- always a valid answer --------------------------------------------------------------------------------------

ratios = st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0))


@given(
    state=st.sampled_from(STATES),
    pace=st.one_of(st.none(), st.floats(min_value=0.01, max_value=100.0)),
    shift=st.one_of(st.none(), st.floats(min_value=0.01, max_value=100.0)),
    data=ratios,
    gpus=st.lists(
        st.builds(
            gpu,
            index=st.integers(0, 7),
            util=ratios,
            low=ratios,
            window=ratios,
            window_low=ratios,
            reasons=st.lists(st.sampled_from(sorted(CLOCKS_EVENT_REASONS.values())), max_size=3).map(tuple),
        ),
        max_size=4,
    ),
)
def test_any_input_gives_one_known_cause_and_a_hint(state, pace, shift, data, gpus) -> None:
    estimate = Estimate(state=state, pace_ratio=pace, shift_ratio=shift, data_loading_ratio=data)
    d = diagnose(estimate, gpus)
    assert d.cause in CAUSES and d.hint.strip()


def test_no_progress_yet_says_so_instead_of_on_pace() -> None:
    diagnosis = diagnose(Estimate(state="unknown_total"), [])
    assert diagnosis.cause == "healthy"
    assert "no progress line" in diagnosis.hint and "on pace" not in diagnosis.hint
