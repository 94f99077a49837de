"""The one Prometheus collector: fresh metric families per scrape from the runtime's cached state.

Names and labels are the contract in ``docs/metrics.md``. Unknown values are omitted (no NaN or 0 sentinels);
the only NaN is ``training_loss`` when the log itself printed ``nan``.

Rendering the text format costs milliseconds, while the state it shows changes about once a second (run workers
publish at most that often when idle, the GPU sampler polls at 1 Hz): ``CachedMetrics.render`` keeps the
last body and renders again only when the published state differs from the one that body was rendered from.
"""

from __future__ import annotations

import math
import platform
import threading
from collections.abc import Iterator, Sequence
from typing import Protocol

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter import __version__
from exporter.diagnosis import CAUSES
from exporter.estimate.model import STATES
from exporter.estimate.phases import PHASES
from exporter.gpu.snapshot import CLOCKS_EVENT_REASONS
from exporter.state import GpuState, RunState

# Estimate attribute -> (metric name, help). Gauges omitted when the attribute is None.
_RUN_GAUGES = (
    ("iteration", "training_iteration", "Latest global iteration of the run."),
    ("total_iterations", "training_total_iterations", "Total iterations of the run."),
    ("remaining_iterations", "training_remaining_iterations", "Total minus current iteration."),
    ("progress_ratio", "training_progress_ratio", "Iteration divided by total, 0-1."),
    (
        "seconds_per_iteration",
        "training_seconds_per_iteration",
        "Current pace of normal iterations (warm-up, eval and hangs excluded).",
    ),
    (
        "baseline_seconds_per_iteration",
        "training_baseline_seconds_per_iteration",
        "The run's reference pace after warm-up.",
    ),
    ("pace_ratio", "training_pace_ratio", "Current pace divided by baseline pace; above 1 is slower."),
    ("eta_seconds", "training_eta_seconds", "Estimated remaining seconds."),
    ("eta_lower_seconds", "training_eta_lower_seconds", "Lower bound of the ~80% ETA range."),
    ("eta_upper_seconds", "training_eta_upper_seconds", "Upper bound of the ~80% ETA range."),
    (
        "completion_timestamp_seconds",
        "training_estimated_completion_timestamp_seconds",
        "Unix time the run should finish.",
    ),
    (
        "last_progress_timestamp_seconds",
        "training_last_progress_timestamp_seconds",
        "Unix time of the latest progress record.",
    ),
    ("warmup_seconds", "training_warmup_seconds", "Time spent in warm-up, excluded from the pace."),
    (
        "periodic_overhead_seconds",
        "training_periodic_overhead_seconds",
        "Measured cost of one eval/checkpoint occurrence.",
    ),
    ("data_loading_ratio", "training_data_loading_ratio", "Data-loading time divided by iteration time."),
    ("tokens_per_second", "training_tokens_per_second", "Tokens per second as printed by the trainer."),
    ("mfu_ratio", "training_mfu_ratio", "Model FLOPs utilisation 0-1 as printed by the trainer."),
)

_GPU_GAUGES = (
    ("utilization_ratio", "training_gpu_utilization_ratio", "Mean GPU busy ratio over the samples since the previous poll."),
    ("utilization_min_ratio", "training_gpu_utilization_min_ratio", "Minimum GPU busy ratio among those samples."),
    ("memory_used_bytes", "training_gpu_memory_used_bytes", "GPU memory used."),
    ("memory_total_bytes", "training_gpu_memory_total_bytes", "GPU memory total."),
    ("power_watts", "training_gpu_power_watts", "GPU power draw."),
    ("temperature_celsius", "training_gpu_temperature_celsius", "GPU temperature."),
    ("sm_clock_hertz", "training_gpu_sm_clock_hertz", "GPU SM clock."),
)

# Clocks-event reasons in NVML's bit order; reasons a layer reports beyond these sort after them by name.
_REASON_ORDER = {name: i for i, name in enumerate(CLOCKS_EVENT_REASONS.values())}

# RunState attribute -> (counter name without _total, help)
_SELF_COUNTERS = (
    ("records_read", "training_exporter_records_read", "Log records read."),
    ("records_parsed", "training_exporter_records_parsed", "Log records a format parser understood."),
    ("records_unparsed", "training_exporter_records_unparsed", "Log records no parser understood."),
    ("oversized_records", "training_exporter_oversized_records", "Log records cut because they were too long."),
    ("rotations", "training_exporter_log_rotations", "Log rotations followed."),
    ("truncations", "training_exporter_log_truncations", "Log truncations detected."),
    ("read_errors", "training_exporter_read_errors", "Errors reading the log."),
)


class StateView(Protocol):
    """What the collector reads: the ``Runtime`` or a test double."""

    def runs(self) -> Sequence[RunState]: ...

    def gpu(self) -> GpuState | None: ...


Snapshot = tuple[tuple[RunState, ...], "GpuState | None"]
"""One read of the published state: every run's state and the GPU collector's."""


class ExporterCollector(Collector):
    """Builds every family from one consistent read of the cached state; never polls anything itself."""

    def __init__(self, state: StateView) -> None:
        self._state = state

    def snapshot(self) -> Snapshot:
        """Read the published state once (runs and GPUs are immutable snapshots, so equal reads render equal)."""
        return tuple(self._state.runs()), self._state.gpu()

    def collect(self) -> Iterator[Metric]:
        return self.metrics(self.snapshot())

    def metrics(self, snapshot: Snapshot) -> Iterator[Metric]:
        """Every family of one snapshot."""
        runs, gpu = snapshot
        yield from self._run_metrics(runs)
        if gpu is not None:
            yield from self._gpu_metrics(gpu)
        yield from self._self_metrics(runs, gpu)

    def _run_metrics(self, runs: Sequence[RunState]) -> Iterator[Metric]:
        for attribute, name, doc in _RUN_GAUGES:
            family = GaugeMetricFamily(name, doc, labels=["run"])
            for state in runs:
                value = _gauge(getattr(state.estimate, attribute))
                if value is not None:
                    family.add_metric([state.run], value)
            yield family

        deadline = GaugeMetricFamily(
            "training_deadline_timestamp_seconds", "Per-run deadline from the configuration.", labels=["run"]
        )
        for state in runs:
            if state.deadline_timestamp_seconds is not None:
                deadline.add_metric([state.run], state.deadline_timestamp_seconds)
        yield deadline

        states = GaugeMetricFamily("training_state", "Current state of the run: 1 for the current.", labels=["run", "state"])
        causes = GaugeMetricFamily(
            "training_diagnosis", "Likely cause of the run's pace: 1 for the current.", labels=["run", "cause"]
        )
        loss = GaugeMetricFamily("training_loss", "Latest training loss (NaN when the log printed nan).", labels=["run"])
        nonfinite = GaugeMetricFamily(
            "training_loss_nonfinite", "1 when the latest loss is NaN or infinite.", labels=["run"]
        )
        nonfinite_total = CounterMetricFamily(
            "training_loss_nonfinite", "Progress records with a non-finite loss.", labels=["run"]
        )
        restarts = CounterMetricFamily("training_run_restarts", "New runs or resumes detected in the log.", labels=["run"])
        blocks = GaugeMetricFamily(
            "training_log_arrives_in_blocks",
            "1 when the log arrives in blocks of many lines (block-buffered stdout: run the trainer with python -u).",
            labels=["run"],
        )
        info = GaugeMetricFamily("training_run_info", "Detected log format and source of the run.", labels=["run", "format", "source"])
        spent = GaugeMetricFamily(
            "training_time_spent_seconds",
            "Wall time of the current run so far, by phase (they add up to the run's wall time).",
            labels=["run", "phase"],
        )
        for state in runs:
            estimate = state.estimate
            for name in STATES:
                states.add_metric([state.run, name], 1.0 if estimate.state == name else 0.0)
            if state.diagnosis is not None:
                for cause in CAUSES:
                    causes.add_metric([state.run, cause], 1.0 if state.diagnosis.cause == cause else 0.0)
            if estimate.loss is not None:
                loss.add_metric([state.run], _float(estimate.loss))
                nonfinite.add_metric([state.run], 1.0 if estimate.loss_nonfinite else 0.0)
            nonfinite_total.add_metric([state.run], float(estimate.nonfinite_loss_events))
            restarts.add_metric([state.run], float(max(0, estimate.runs - 1)))
            blocks.add_metric([state.run], 1.0 if estimate.arrives_in_blocks else 0.0)
            info.add_metric([state.run, state.format, state.source], 1.0)
            if state.time_split is not None:
                for phase in PHASES:
                    spent.add_metric([state.run, phase], state.time_split.seconds.get(phase, 0.0))
        yield from (states, causes, loss, nonfinite, nonfinite_total, restarts, blocks, info, spent)
        yield from self._rank_metrics(runs)

    def _rank_metrics(self, runs: Sequence[RunState]) -> Iterator[Metric]:
        """Per-rank figures of runs whose ranks advance side by side (interleaved in one file, or one file each)."""
        labels = ["run", "rank"]
        iteration = GaugeMetricFamily("training_rank_iteration", "Latest iteration of each rank.", labels=labels)
        pace = GaugeMetricFamily("training_rank_seconds_per_iteration", "Recent pace of each rank.", labels=labels)
        eta = GaugeMetricFamily("training_rank_eta_seconds", "Each rank's own estimate of the time left.", labels=labels)
        straggler = GaugeMetricFamily(
            "training_straggler_ratio",
            "Slowest rank's seconds per iteration over the median rank's (1 = even; only with two or more ranks).",
            labels=["run"],
        )
        for state in runs:
            for rank in state.ranks:
                for family, value in ((iteration, rank.iteration), (pace, rank.seconds_per_iteration),
                                      (eta, rank.eta_seconds)):
                    number = _gauge(value)
                    if number is not None:
                        family.add_metric([state.run, rank.rank], number)
            ratio = _gauge(state.straggler_ratio)
            if ratio is not None:
                straggler.add_metric([state.run], ratio)
        yield from (iteration, pace, eta, straggler)

    def _gpu_metrics(self, gpu: GpuState) -> Iterator[Metric]:
        labels = ["gpu", "uuid"]
        info = GaugeMetricFamily("training_gpu_info", "GPU name and driver version.", labels=labels + ["name", "driver_version"])
        families = {attr: GaugeMetricFamily(name, doc, labels=labels) for attr, name, doc in _GPU_GAUGES}
        reasons = GaugeMetricFamily(
            "training_gpu_clocks_event_reason", "1 when the clocks-event reason is active.", labels=labels + ["reason"]
        )
        for snap in gpu.snapshots:
            key = [str(snap.index), snap.uuid]
            info.add_metric(key + [snap.name, snap.driver_version], 1.0)
            for attr, family in families.items():
                value = _gauge(getattr(snap, attr))
                if value is not None:
                    family.add_metric(key, value)
            if snap.clocks_event_reasons is not None:
                reasons_in_order = sorted(
                    snap.clocks_event_reasons, key=lambda r: (_REASON_ORDER.get(r, len(_REASON_ORDER)), r)
                )
                for reason in reasons_in_order:
                    reasons.add_metric(key + [reason], 1.0 if snap.clocks_event_reasons[reason] else 0.0)
        yield info
        yield from families.values()
        yield reasons

    def _self_metrics(self, runs: Sequence[RunState], gpu: GpuState | None) -> Iterator[Metric]:
        for attribute, name, doc in _SELF_COUNTERS:
            family = CounterMetricFamily(name, doc, labels=["run"])
            for state in runs:
                family.add_metric([state.run], float(getattr(state, attribute)))
            yield family
        errors = CounterMetricFamily(
            "training_exporter_errors", "Records, events or polls that failed and were skipped, by stage.",
            labels=["run", "stage"],
        )
        for state in runs:
            for stage, count in state.errors:
                errors.add_metric([state.run, stage], float(count))
        yield errors
        files = GaugeMetricFamily("training_exporter_log_files", "Files currently followed (0 = log missing).", labels=["run"])
        readable = GaugeMetricFamily(
            "training_exporter_log_readable", "0 while the log exists but cannot be read (permissions, I/O).",
            labels=["run"],
        )
        catching_up = GaugeMetricFamily(
            "training_exporter_log_catching_up",
            "1 while the exporter is still reading the log's history (its figures describe an earlier point).",
            labels=["run"],
        )
        for state in runs:
            files.add_metric([state.run], float(state.files))
            readable.add_metric([state.run], 1.0 if state.log_readable else 0.0)
            catching_up.add_metric([state.run], 1.0 if state.catching_up else 0.0)
        yield files
        yield readable
        yield catching_up

        nvml = CounterMetricFamily("training_exporter_nvml_errors", "NVML errors by kind.", labels=["kind"])
        if gpu is not None:
            for kind in sorted(gpu.errors):
                nvml.add_metric([kind], float(gpu.errors[kind]))
        yield nvml

        up = GaugeMetricFamily("training_exporter_collector_up", "1 when the collector's latest poll worked.", labels=["collector"])
        last = GaugeMetricFamily(
            "training_exporter_collector_last_success_timestamp_seconds",
            "Unix time of the collector's latest successful poll.",
            labels=["collector"],
        )
        if runs:
            up.add_metric(["log"], 1.0 if all(state.up for state in runs) else 0.0)
            successes = [state.last_success_timestamp_seconds for state in runs]
            if all(when is not None for when in successes):
                # The oldest run's success: the log collector is only as fresh as its stalest run.
                last.add_metric(["log"], min(when for when in successes if when is not None))
        if gpu is not None:
            up.add_metric(["gpu"], 1.0 if gpu.up else 0.0)
            if gpu.last_success_timestamp_seconds is not None:
                last.add_metric(["gpu"], gpu.last_success_timestamp_seconds)
        yield up
        yield last

        build = GaugeMetricFamily(
            "training_exporter_build_info", "Exporter version and Python version.", labels=["version", "python_version"]
        )
        build.add_metric([__version__, platform.python_version()], 1.0)
        yield build


def _float(value: float) -> float:
    """``float(value)``, with ints beyond the double range as +-inf instead of an ``OverflowError``."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _gauge(value: float | None) -> float | None:
    """A gauge's value, or None (series absent) for unknown, non-finite or unrepresentable numbers: one absurd
    figure must drop its own series, never the scrape."""
    if value is None:
        return None
    number = _float(value)
    return number if math.isfinite(number) else None


class _Frozen(Collector):
    """One snapshot as a collector, so that a rendering shows exactly the state that keys it."""

    def __init__(self, collector: ExporterCollector, snapshot: Snapshot) -> None:
        self._collector = collector
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        return self._collector.metrics(self._snapshot)


class CachedMetrics(Collector):
    """The exporter's collector with a cached rendering for ``/metrics`` (``render``); ``collect`` reads live.

    Not a ``CollectorRegistry``: nothing else is ever registered, and the global default registry is never used.
    """

    def __init__(self, collector: ExporterCollector) -> None:
        self._collector = collector
        self._render_lock = threading.Lock()
        self._rendered: tuple[Snapshot, bytes] | None = None

    def collect(self) -> Iterator[Metric]:
        return self._collector.collect()

    def render(self) -> bytes:
        """The exposition text; the previous body again while the published state is unchanged.

        The key is the state itself (compared by value; the same objects compare at once), so a body can never
        outlive the state it shows. Renders are serialised: concurrent scrapes wait for one render, not several.
        """
        with self._render_lock:
            snapshot = self._collector.snapshot()
            if self._rendered is not None and self._rendered[0] == snapshot:
                return self._rendered[1]
            body = generate_latest(_Frozen(self._collector, snapshot))
            self._rendered = (snapshot, body)
            return body


def make_registry(state: StateView) -> CachedMetrics:
    """The exporter's metrics over ``state`` (a fresh collector; never the global default registry)."""
    return CachedMetrics(ExporterCollector(state))
