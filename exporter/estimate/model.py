"""What the estimator tells the rest of the product about one run at one moment."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

STATES = ("warmup", "running", "evaluating", "regressed", "stalled", "finished", "unknown_total")
TRENDS = ("steady", "slowing", "speeding_up", "unknown")


@dataclass(slots=True)
class Estimate:
    """A snapshot of one run's pace and ETA. ``None`` means unknown (never zero or invented)."""

    state: str = "unknown_total"
    """One of ``STATES``."""
    iteration: int | None = None
    """Global iteration (epoch x batches per epoch + batch for per-epoch counters)."""
    total_iterations: int | None = None
    remaining_iterations: int | None = None
    progress_ratio: float | None = None
    seconds_per_iteration: float | None = None
    """Current pace of normal iterations (warm-up, evals and one-off hangs excluded)."""
    eta_seconds_per_iteration: float | None = None
    """The pace the ETA assumes for the rest of the run (see ``pace_source``); may differ from the current pace."""
    pace_source: str | None = None
    """The candidate pace that leads the ETA (``estimate.candidates.CANDIDATES``); None before the run has the
    history to judge them."""
    baseline_seconds_per_iteration: float | None = None
    """The run's reference pace after warm-up, frozen once established."""
    pace_ratio: float | None = None
    """seconds_per_iteration / baseline_seconds_per_iteration: > 1 is slower."""
    eta_seconds: float | None = None
    eta_lower_seconds: float | None = None
    eta_upper_seconds: float | None = None
    completion_timestamp_seconds: float | None = None
    last_progress_timestamp_seconds: float | None = None
    seconds_since_progress: float | None = None
    """While stalled: seconds since the latest progress line (None otherwise)."""
    failure: str | None = None
    """The exception the trainer printed after its latest progress line (a traceback's last line), if any."""
    warmup_seconds: float | None = None
    """Time spent in warm-up (compile, first iterations), excluded from the pace."""
    warmup_iterations: int | None = None
    periodic_overhead_seconds: float | None = None
    """Measured cost of one eval/checkpoint occurrence beyond a normal iteration."""
    periodic_interval_iterations: int | None = None
    """Iterations between evals/checkpoints (from config, tagged lines or detected spikes)."""
    periodic_events_remaining: int | None = None
    trend: str = "unknown"
    """One of ``TRENDS``."""
    shift_ratio: float | None = None
    """Pace after the latest change point / pace before it."""
    shift_since_timestamp_seconds: float | None = None
    shift_since_iteration: int | None = None
    loss: float | None = None
    loss_nonfinite: bool = False
    nonfinite_loss_events: int = 0
    data_loading_ratio: float | None = None
    """Share of iteration time spent waiting for data, when the log prints data time."""
    arrives_in_blocks: bool = False
    """The log arrives in blocks of many lines (a block-buffered stdout): the lines' printed times pace it."""
    tokens_per_second: float | None = None
    mfu_ratio: float | None = None
    epoch: int | None = None
    batches_per_epoch: int | None = None
    """Iterations per epoch of a per-epoch counter (what the lines state), for a total given in epochs."""
    runs: int = 0
    """Runs (restarts/resumes) seen in this log; the figures above describe the latest."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
