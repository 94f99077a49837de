"""One run's state as the estimator builds it: what the log says about its size and schedule (``RunPlan``) and
everything that restarts when the trainer restarts or resumes (``Run``), each part an object with one job."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from exporter.estimate.baseline import Baseline, Regression
from exporter.estimate.coalesce import Pending
from exporter.estimate.pace import ChangePoint, PaceWindow, Sample
from exporter.estimate.periodic import PeriodicOverhead
from exporter.estimate.range import BlockSpread, Calibration
from exporter.estimate.robust import median
from exporter.estimate.timeline import Timeline
from exporter.events import Config, Progress

GAPS_KEPT = 32
"""Recent gaps between progress lines kept for the stall allowance."""


@dataclass
class RunPlan:
    """What the log says about the run's size and schedule (merged from Config events)."""

    total_iterations: int | None = None
    total_epochs: int | None = None
    batches_per_epoch: int | None = None
    eval_interval: int | None = None

    def merge(self, event: Config) -> None:
        for name in ("total_iterations", "total_epochs", "batches_per_epoch", "eval_interval"):
            value = getattr(event, name)
            if value is not None:
                setattr(self, name, value)


@dataclass
class Run:
    """Everything that restarts when the trainer restarts or resumes."""

    config: RunPlan
    window: PaceWindow = field(default_factory=PaceWindow)
    periodic: PeriodicOverhead = field(default_factory=PeriodicOverhead)
    baseline: Baseline = field(default_factory=Baseline)
    regression: Regression = field(default_factory=Regression)
    blocks: BlockSpread = field(default_factory=BlockSpread)
    calibration: Calibration = field(default_factory=Calibration)
    timeline: Timeline = field(default_factory=Timeline)
    started: bool = False
    first_time: float | None = None
    first_progress_time: float | None = None
    last: Progress | None = None
    last_iteration: int | None = None
    last_time: float | None = None
    anchor_iteration: int | None = None
    anchor_time: float | None = None
    line_total: int | None = None
    failure: str | None = None
    """A traceback's last line printed since the latest progress line (progress after it: the run went on)."""
    warmup_pending: list[tuple[Sample, frozenset[str]]] = field(default_factory=list)
    warmup_done: bool = False
    warmup_seconds: float = 0.0
    warmup_iterations: int = 0
    samples: int = 0
    normal_iterations: float = 0.0
    normal_seconds: float = 0.0
    """Unclipped seconds of the normal iterations (warm-up and periodic work excluded): the long-run pace."""
    changes: int = 0
    """Change points after warm-up: how often this run's pace has switched."""
    clock: float = 0.0
    """Seconds elapsed as the samples tell it: the history's clock, in one basis whether the records have times
    or not (a log read as history without times and then followed live with arrival times stays continuous)."""
    wall_offset: float | None = None
    """Record time minus ``clock`` at the latest sample with a time: maps the history's clock to wall time."""
    overhead_seconds: float = 0.0
    """Extra seconds measured in eval/checkpoint samples so far (kept out of the pace's calibration)."""
    origin: int = 0
    """The run's first iteration."""
    lines: int = 0
    """Progress lines after the run's first (how many lines a sample takes, see ``coalesce``)."""
    pending: Pending = field(default_factory=Pending)
    """Lines taken into the sample still open."""
    line_gaps: deque[int] = field(default_factory=lambda: deque(maxlen=32))
    """Iterations between consecutive progress lines (the logging interval), recent ones."""
    gap_seconds: deque[float] = field(default_factory=lambda: deque(maxlen=GAPS_KEPT))
    """Seconds between consecutive progress lines of normal work (hangs and periodic work left out)."""
    line_gap: int | None = None
    """round(median(line_gaps)), read by every sample and every estimate; None when stale."""
    data_ratios: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=64))
    change: ChangePoint | None = None
    eval_open: bool = False
    printed_work: float = 0.0
    """Seconds of evaluation the log printed since the latest progress line: without record times they belong to
    the next line's time (the printed time of an iteration does not hold the evaluation that followed it)."""
    tagged_kinds: set[str] = field(default_factory=set)
    tagged_at: int | None = None
    burst: int = 0
    """Consecutive lines that moved the run on with one arrival time, ``burst_time``."""
    burst_time: float | None = None
    burst_seconds: float = 0.0
    """The printed seconds of those lines' iterations: how long the latest block took to write (``buffered``)."""
    alone: int = 0
    """Consecutive lines that arrived alone, each at a time of its own: ``BURST_LINES`` of them end ``buffered``
    (one burst from a sidecar that could not read for a while is no block-buffered log)."""
    buffered: bool = False
    """The log arrives in blocks (``BURST_LINES`` or more progress lines at one time: a trainer's block-buffered
    stdout, ``python train.py > log`` without ``-u``): its record times say when a block was written out, not
    when each line was printed, so lines that print their own time are paced by it, and the silence between
    blocks is the run's rhythm."""


def typical_line_gap(run: Run) -> int:
    """The usual logging gap in iterations (1 before any), cached until the next step."""
    if run.line_gap is None:
        run.line_gap = round(median(run.line_gaps)) if run.line_gaps else 1
    return run.line_gap


def total_of(run: Run, flag: int | None, epochs_flag: int | None = None) -> int | None:
    """The run's total iterations: the flag, else the epochs flag times an epoch's size (what a progress line says
    is an epoch's, else its total: the flag says the log counts per epoch), else what a progress line says, else the
    log's config."""
    if flag is not None:
        return flag
    epoch_size = run.config.batches_per_epoch or run.line_total
    if epochs_flag is not None and epoch_size:
        return epochs_flag * epoch_size
    if run.line_total is not None:
        return run.line_total
    config = run.config
    if config.total_iterations is not None:
        return config.total_iterations
    if config.total_epochs and config.batches_per_epoch:
        return config.total_epochs * config.batches_per_epoch
    return None
