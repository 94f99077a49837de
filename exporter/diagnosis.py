"""The likely cause of a run's current behaviour, from its pace/state and its GPUs, with a short hint.

Rules, first match wins:

1. ``crashed``: the last thing the trainer printed after its last progress line (or before any) is an exception
   it did not catch (a traceback's last line, ``estimate.failure``), and the run is not finished: its process has
   exited, unless the exception was a caught one logged with its traceback (progress then follows and clears it).
   Known at once, before the stall rule's delay; the state stays what the progress says (``stalled`` later).
2. ``stalled``: the estimator says no progress (hung collective, stopped or dead process).
3. ``eval_or_checkpoint``: the estimator says an evaluation/checkpoint is running.
4. ``healthy``: warming up or finished (slowness then is expected or moot).
5. ``input_bound``: data loading dominates the iteration, or the run is slow and either the data time explains
   most of the slowdown or the GPUs idle / dip to idle (waiting for the host: the classic I/O stall).
6. ``throttled``: slow while a thermal/power clocks-event reason (``THROTTLE_REASONS``) is active.
7. ``compute_slowdown``: slow with busy, unthrottled GPUs (contention, smaller batches, a heavier step), or slow
   with no GPU data and nothing pointing at input.
8. ``healthy`` otherwise.

Slow means ``regressed``, or a pace ratio of at least ``SLOW_PACE_RATIO`` against the baseline (or, before a
baseline exists, against the pace before the latest change point: ``shift_ratio``).

Without GPU snapshots the rules use the log alone (state, pace, data-loading share). GPU utilization is read
from the sampler's window (~60 s, like the estimator's current pace) when present, else from the last poll;
over several GPUs the mean of their means and the lowest minimum are used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from exporter.estimate.model import Estimate
from exporter.gpu.snapshot import THROTTLE_REASONS, GpuSnapshot

CAUSES = ("input_bound", "throttled", "eval_or_checkpoint", "stalled", "crashed", "compute_slowdown", "healthy")

SLOW_PACE_RATIO = 1.25
"""Current pace this much slower than the baseline counts as slow even before the estimator's persistence
rule calls it ``regressed``: the 25 % margin of the usual regression alert, well above the few-% jitter of
normal iterations, so noise does not move the diagnosis."""

DATA_DOMINANT_RATIO = 0.4
"""Data-loading share at or above which the run is input-bound whatever its pace: with prefetching workers a
healthy loader shows a few % of the iteration (data_time ≈ 0.01 s of 0.3–1 s in mmengine/detectron2 logs);
at 40 % the accelerator waits for close to half of every step, so faster input would pay off up to ~1.7×."""

DATA_EXPLAINS_SLOWDOWN = 0.5
"""When slow, input-bound if the data wait covers at least this fraction of the extra time per iteration.
Pace ratio r means a share (r - 1) / r of the current iteration is extra; a data share of at least half of that
makes input the main reason for the slowdown (1.5× slower: data share ≥ 17 %; 3× slower: ≥ 33 %)."""

GPU_IDLE_RATIO = 0.5
"""Mean busy ratio below which the GPUs mostly wait for the host: a training step keeps a GPU busy most of
the time (utilization counts any kernel running), so under half while slow means it is starved."""

GPU_BUSY_RATIO = 0.8
"""Mean busy ratio at or above which the GPUs are considered busy (a slowdown is on the compute side)."""

GPU_DIP_RATIO = 0.05
"""A window minimum at or below this while the mean is not busy means the GPU went fully idle between polls:
periodic data-loader stalls show as such dips before they pull the mean down."""


@dataclass(slots=True)
class Diagnosis:
    """One likely cause (one of ``CAUSES``) and a short human hint with the evidence."""

    cause: str
    hint: str


@dataclass(slots=True)
class _Gpus:
    mean: float | None
    minimum: float | None
    throttled: list[str]
    """``"GPU 0: sw_power_cap, hw_thermal_slowdown"`` per throttled GPU."""

    @property
    def known(self) -> bool:
        return self.mean is not None

    def busy_text(self) -> str:
        if self.mean is None or self.minimum is None:
            return "no GPU utilization data"
        return f"GPU busy {self.mean:.0%} (min {self.minimum:.0%})"


def _gpus(gpus: Sequence[GpuSnapshot]) -> _Gpus:
    means: list[float] = []
    mins: list[float] = []
    throttled: list[str] = []
    for gpu in gpus:
        mean = gpu.utilization_window_ratio if gpu.utilization_window_ratio is not None else gpu.utilization_ratio
        low = (
            gpu.utilization_window_min_ratio
            if gpu.utilization_window_min_ratio is not None
            else gpu.utilization_min_ratio
        )
        if mean is not None:
            means.append(mean)
            mins.append(low if low is not None else mean)
        active = sorted(r for r, on in (gpu.clocks_event_reasons or {}).items() if on and r in THROTTLE_REASONS)
        if active:
            throttled.append(f"GPU {gpu.index}: {', '.join(active)}")
    return _Gpus(
        mean=sum(means) / len(means) if means else None,
        minimum=min(mins) if mins else None,
        throttled=throttled,
    )


def _slowdown(estimate: Estimate) -> tuple[float | None, str]:
    """How much slower the run is, and against what: the baseline, or before the latest pace change while no
    baseline is established yet (the first minutes of a run, or a log without timestamps)."""
    if estimate.pace_ratio is not None:
        return estimate.pace_ratio, f"{estimate.pace_ratio:.2f}× the baseline time per iteration"
    if estimate.shift_ratio is not None:
        return estimate.shift_ratio, f"{estimate.shift_ratio:.2f}× the time per iteration before the latest change"
    return None, "slower than its baseline"


def diagnose(estimate: Estimate, gpus: Sequence[GpuSnapshot] = ()) -> Diagnosis:
    """The likely cause for one run; ``gpus`` are the snapshots of the GPUs that run uses (may be empty)."""
    g = _gpus(gpus)
    state = estimate.state

    if estimate.failure is not None and state != "finished":
        when = "after its last progress line" if estimate.iteration is not None else "before any progress line"
        return Diagnosis("crashed", f"the trainer printed {estimate.failure!r} {when}: unless progress follows, its "
                                    "process has exited. Fix the error and restart (or resume).")
    if state == "stalled":
        if g.known and g.mean is not None and g.mean >= GPU_BUSY_RATIO:
            detail = f"{g.busy_text()} with no progress: typical of a collective (NCCL) deadlock or a hung rank"
        elif g.known:
            detail = f"{g.busy_text()}: the process is waiting (I/O, lock, stopped) or gone"
        else:
            detail = "the process may be hung, stopped or dead"
        return Diagnosis("stalled", f"no progress; {detail}. Check the process and its last log lines.")

    if state == "evaluating":
        return Diagnosis("eval_or_checkpoint", "evaluation or checkpoint in progress; the pace resumes after it.")

    if state == "warmup":
        return Diagnosis("healthy", "warming up (compilation, first iterations); the pace settles after it.")
    if state == "finished":
        return Diagnosis("healthy", "finished.")

    data = estimate.data_loading_ratio
    pace, pace_text = _slowdown(estimate)
    slow = state == "regressed" or (pace is not None and pace >= SLOW_PACE_RATIO)
    input_advice = (
        "Try more DataLoader workers (num_workers), pin_memory=True, persistent_workers and prefetching, "
        "data on local disk or in page cache rather than network storage, and check CPU contention."
    )

    if data is not None and data >= DATA_DOMINANT_RATIO:
        return Diagnosis(
            "input_bound",
            f"waiting for input: data loading takes {data:.0%} of each iteration; {g.busy_text()}. {input_advice}",
        )

    if slow:
        extra_share = (pace - 1.0) / pace if pace is not None and pace > 1.0 else None
        if data is not None and extra_share is not None and data >= DATA_EXPLAINS_SLOWDOWN * extra_share:
            return Diagnosis(
                "input_bound",
                f"{pace_text}, and data loading takes {data:.0%} of each iteration: input explains "
                f"most of the slowdown; {g.busy_text()}. {input_advice}",
            )
        if g.mean is not None and g.minimum is not None and (
            g.mean < GPU_IDLE_RATIO or (g.minimum <= GPU_DIP_RATIO and g.mean < GPU_BUSY_RATIO)
        ):
            return Diagnosis(
                "input_bound",
                f"{pace_text} while the GPU waits for the host: {g.busy_text()}. {input_advice}",
            )
        if g.throttled:
            return Diagnosis(
                "throttled",
                f"{pace_text} while GPU clocks are held down ({'; '.join(g.throttled)}). "
                "Check cooling, power limits and power capping (nvidia-smi -q -d PERFORMANCE).",
            )
        if g.known:
            evidence = f"{g.busy_text()}, not throttled"
        elif data is not None:
            evidence = f"data loading only {data:.0%} of each iteration; no GPU data"
        else:
            evidence = "no GPU data and no data time in the log, so input stalls are not ruled out"
        return Diagnosis(
            "compute_slowdown",
            f"{pace_text} ({evidence}). Look for contention (other processes on the GPU or CPU), "
            "smaller batches or longer sequences, or a changed configuration.",
        )

    notes = []
    if g.mean is not None and g.mean < GPU_IDLE_RATIO:
        notes.append(f"{g.busy_text()}: the job may be input- or CPU-bound from the start")
    if g.throttled:
        notes.append(f"clocks held down ({'; '.join(g.throttled)}) without a slowdown so far")
    if estimate.iteration is None and estimate.seconds_per_iteration is None and not notes:
        return Diagnosis("healthy", "no progress line recognised yet; nothing to judge (check the format).")
    return Diagnosis("healthy", "on pace." + (" Note: " + "; ".join(notes) + "." if notes else ""))
