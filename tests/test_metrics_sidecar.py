"""The collector: names from docs/metrics.md, unknowns omitted, promtool-clean output, cached-state only."""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.diagnosis import Diagnosis
from exporter.estimate.model import Estimate
from exporter.estimate.phases import TimeSplit
from exporter.gpu.snapshot import GpuSnapshot
from exporter.metrics import make_registry
from exporter.state import GpuState, RankState, RunState

DOC = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


class View:
    def __init__(self, runs: list[RunState], gpu: GpuState | None) -> None:
        self._runs, self._gpu = runs, gpu
        self.reads = 0

    def runs(self) -> list[RunState]:
        self.reads += 1
        return self._runs

    def gpu(self) -> GpuState | None:
        return self._gpu


def full_run() -> RunState:
    estimate = Estimate(
        state="regressed", iteration=1200, total_iterations=3000, remaining_iterations=1800, progress_ratio=0.4,
        seconds_per_iteration=0.25, baseline_seconds_per_iteration=0.1, pace_ratio=2.5, eta_seconds=480.0,
        eta_lower_seconds=400.0, eta_upper_seconds=600.0, completion_timestamp_seconds=1_700_000_480.0,
        last_progress_timestamp_seconds=1_699_999_999.5, warmup_seconds=35.0, periodic_overhead_seconds=1.2,
        trend="slowing", loss=float("nan"), loss_nonfinite=True, nonfinite_loss_events=3, data_loading_ratio=0.6,
        tokens_per_second=20480.0, mfu_ratio=0.41, runs=2,
    )
    return RunState(
        run="gpt", source="/logs/train.log", format="nanogpt", estimate=estimate,
        diagnosis=Diagnosis("input_bound", "GPU idles"), deadline_timestamp_seconds=1_700_100_000.0,
        errors=(("parse", 0), ("check", 2), ("poll", 1)),
        time_split=TimeSplit({"training": 300.0, "warmup": 40.0, "eval_checkpoint": 20.0, "hang": 5.0, "slow": 60.0}),
        records_read=400, records_parsed=350, records_unparsed=50, oversized_records=1, rotations=2,
        truncations=1, read_errors=4, files=1, up=True, last_success_timestamp_seconds=1_700_000_000.0,
        ranks=(RankState("0", 1200, 0.1, 480.0), RankState("1", 1199, 0.1, 481.0), RankState("2", 1190, 0.2, None)),
    )


def full_gpu() -> GpuState:
    reasons = {"gpu_idle": False, "sw_power_cap": True, "hw_slowdown": False}
    snap = GpuSnapshot(
        index=0, uuid="GPU-1", name="NVIDIA H100", driver_version="550.54.15", utilization_ratio=0.5,
        utilization_min_ratio=0.1, memory_used_bytes=2**30, memory_total_bytes=80 * 2**30, power_watts=300.0,
        temperature_celsius=70.0, sm_clock_hertz=1.98e9, clocks_event_reasons=reasons,
    )
    bare = GpuSnapshot(index=1, uuid="GPU-2", name="NVIDIA H100", driver_version="550.54.15")
    return GpuState(up=True, last_success_timestamp_seconds=1_700_000_001.0, snapshots=(snap, bare),
                    errors={"NotSupported": 5})


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(view: View) -> str:
    return generate_latest(make_registry(view)).decode()


def documented_names() -> set[str]:
    names = set()
    for line in DOC.read_text().splitlines():
        for name in re.findall(r"`(training_[a-z_]+)", line):
            names.add(name)
    return names


def test_every_series_name_is_documented_and_every_documented_name_is_served() -> None:
    text = scrape(View([full_run()], full_gpu()))
    served = {name for name, _ in samples(text)}
    documented = documented_names()
    assert served - documented == set()
    # "training_gpu_memory_used_bytes` / `training_gpu_memory_total_bytes" etc. are all covered by a full state.
    assert documented - served == set()


def test_values_and_labels() -> None:
    got = samples(scrape(View([full_run()], full_gpu())))
    run = (("run", "gpt"),)
    assert got[("training_iteration", run)] == 1200
    assert got[("training_eta_upper_seconds", run)] == 600
    assert got[("training_estimated_completion_timestamp_seconds", run)] == 1_700_000_480
    assert got[("training_deadline_timestamp_seconds", run)] == 1_700_100_000
    assert got[("training_time_spent_seconds", (("phase", "slow"), ("run", "gpt")))] == 60
    assert got[("training_exporter_errors_total", (("run", "gpt"), ("stage", "check")))] == 2
    assert got[("training_time_spent_seconds", (("phase", "stalled"), ("run", "gpt")))] == 0
    assert math.isnan(got[("training_loss", run)])
    assert got[("training_loss_nonfinite", run)] == 1
    assert got[("training_loss_nonfinite_total", run)] == 3
    assert got[("training_run_restarts_total", run)] == 1
    assert got[("training_straggler_ratio", run)] == 2.0  # 0.2 s/it over the median 0.1
    assert got[("training_rank_iteration", (("rank", "2"), ("run", "gpt")))] == 1190
    assert ("training_rank_eta_seconds", (("rank", "2"), ("run", "gpt"))) not in got  # unknown: absent
    assert got[("training_state", (("run", "gpt"), ("state", "regressed")))] == 1
    assert sum(v for (n, _), v in got.items() if n == "training_state") == 1
    assert len([n for (n, _) in got if n == "training_state"]) == 7
    assert got[("training_diagnosis", (("cause", "input_bound"), ("run", "gpt")))] == 1
    assert got[("training_run_info", (("format", "nanogpt"), ("run", "gpt"), ("source", "/logs/train.log")))] == 1
    assert got[("training_exporter_records_unparsed_total", run)] == 50
    assert got[("training_exporter_read_errors_total", run)] == 4
    assert got[("training_exporter_log_files", run)] == 1
    assert got[("training_exporter_nvml_errors_total", (("kind", "NotSupported"),))] == 5
    assert got[("training_exporter_collector_up", (("collector", "log"),))] == 1
    assert got[("training_exporter_collector_up", (("collector", "gpu"),))] == 1
    assert got[("training_exporter_collector_last_success_timestamp_seconds", (("collector", "gpu"),))] == 1_700_000_001
    gpu0 = (("gpu", "0"), ("uuid", "GPU-1"))
    assert got[("training_gpu_utilization_min_ratio", gpu0)] == 0.1
    assert got[("training_gpu_sm_clock_hertz", gpu0)] == 1.98e9
    assert got[("training_gpu_clocks_event_reason", (*gpu0[:1], ("reason", "sw_power_cap"), gpu0[1]))] == 1
    assert got[("training_gpu_info", (("driver_version", "550.54.15"), ("gpu", "1"), ("name", "NVIDIA H100"),
                                      ("uuid", "GPU-2")))] == 1


def test_unknown_values_are_omitted_not_zero_or_nan() -> None:
    state = RunState(run="new", source="/l/new.log")
    gpu = full_gpu()
    got = samples(scrape(View([state], GpuState(up=True, last_success_timestamp_seconds=None,
                                                      snapshots=gpu.snapshots[1:], errors={}))))
    names = {name for name, _ in got}
    for absent in ("training_iteration", "training_eta_seconds", "training_loss", "training_loss_nonfinite",
                   "training_deadline_timestamp_seconds", "training_diagnosis", "training_pace_ratio",
                   "training_gpu_utilization_ratio", "training_gpu_power_watts", "training_gpu_clocks_event_reason"):
        assert absent not in names, absent
    assert not any(math.isnan(v) for v in got.values())
    assert got[("training_state", (("run", "new"), ("state", "unknown_total")))] == 1
    assert got[("training_exporter_collector_up", (("collector", "log"),))] == 0
    assert ("training_exporter_collector_last_success_timestamp_seconds", (("collector", "log"),)) not in got
    assert ("training_exporter_collector_last_success_timestamp_seconds", (("collector", "gpu"),)) not in got


def test_gpu_disabled_has_no_gpu_series_and_gpu_down_keeps_log_metrics() -> None:
    names = {name for name, _ in samples(scrape(View([full_run()], None)))}
    assert not any(name.startswith("training_gpu_") for name in names)
    down = GpuState(up=False, last_success_timestamp_seconds=None, snapshots=(), errors={"LibraryNotFound": 1})
    got = samples(scrape(View([full_run()], down)))
    assert got[("training_exporter_collector_up", (("collector", "gpu"),))] == 0
    assert got[("training_exporter_nvml_errors_total", (("kind", "LibraryNotFound"),))] == 1
    assert got[("training_iteration", (("run", "gpt"),))] == 1200


def test_each_scrape_reads_fresh_state() -> None:
    view = View([full_run()], None)
    registry = make_registry(view)
    generate_latest(registry)
    generate_latest(registry)
    assert view.reads == 2



def test_render_is_cached_until_the_published_state_changes() -> None:
    import dataclasses

    view = View([full_run()], full_gpu())
    registry = make_registry(view)
    first = registry.render()
    assert first == generate_latest(registry)
    assert registry.render() is first
    # A run worker publishes a new state: the next scrape shows it.
    run = view._runs[0]
    view._runs = [dataclasses.replace(run, records_read=401)]
    second = registry.render()
    assert samples(second.decode())[("training_exporter_records_read_total", (("run", "gpt"),))] == 401
    assert registry.render() is second
    # The GPU sampler polls: a changed reading shows too, an identical one (equal state) renders nothing.
    gpu = view._gpu
    view._gpu = dataclasses.replace(gpu, snapshots=(dataclasses.replace(gpu.snapshots[0], power_watts=250.0),
                                                    gpu.snapshots[1]))
    third = registry.render()
    assert samples(third.decode())[("training_gpu_power_watts", (("gpu", "0"), ("uuid", "GPU-1")))] == 250.0
    view._gpu = dataclasses.replace(view._gpu)
    assert registry.render() is third
    # A run that appears is rendered at once.
    view._runs = [view._runs[0], RunState(run="b", source="b.log")]
    assert b'run="b"' in registry.render()


def test_promtool_check_metrics_is_clean() -> None:
    for view in (View([full_run(), RunState(run="b", source="b.log")], full_gpu()), View([], None)):
        result = subprocess.run(["promtool", "check", "metrics"], input=scrape(view), capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip() == "" and result.stderr.strip() == "", result.stdout + result.stderr
