"""GpuSampler over the fake device layer: every NVML failure kind, utilization windows, selection."""

from __future__ import annotations

import logging
import sys
import threading

import pynvml
import pytest
from conftest import Clock

from exporter.gpu.errors import error_kind
from exporter.gpu.fake import FakeDeviceLayer, FakeGpu, nvml_error
from exporter.gpu.nvml import NvmlLayer
from exporter.gpu.sampler import (
    DEVICE_RETRY_MAX_SECONDS,
    INIT_RETRY_INITIAL_SECONDS,
    INIT_RETRY_MAX_SECONDS,
    GpuSampler,
)
from exporter.gpu.selection import GpuSelection
from exporter.gpu.snapshot import CLOCKS_EVENT_REASONS

LOGGER = "exporter.gpu.sampler"


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(n: int, clock: Clock, **kwargs) -> tuple[FakeDeviceLayer, GpuSampler]:
    layer = FakeDeviceLayer(n, clock=clock)
    for gpu in layer.gpus:
        gpu.utilization_percent = 90.0
    return layer, GpuSampler(layer=layer, clock=clock, **kwargs)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


# -- happy path ---------------------------------------------------------------------------------------------


def test_reads_every_field_with_units(clock: Clock) -> None:
    layer, sampler = make(2, clock)
    layer.gpus[1].clocks_reasons = 0x4 | 0x40
    layer.gpus[1].pids = (4242,)
    sampler.poll_once()
    snaps = sampler.snapshots()
    assert [s.index for s in snaps] == [0, 1]
    s = snaps[1]
    assert s.uuid == layer.gpus[1].uuid
    assert s.name == "NVIDIA H100 80GB HBM3"
    assert s.driver_version == "550.54.15"
    assert s.timestamp_seconds == clock.now
    assert s.utilization_ratio == pytest.approx(0.9)
    assert s.memory_used_bytes == 20 * 2**30 and s.memory_total_bytes == 80 * 2**30
    assert s.power_watts == 350.0
    assert s.temperature_celsius == 62.0
    assert s.sm_clock_hertz == 1980e6
    assert s.clocks_event_reasons is not None
    assert set(s.clocks_event_reasons) == set(CLOCKS_EVENT_REASONS.values())
    assert {r for r, on in s.clocks_event_reasons.items() if on} == {"sw_power_cap", "hw_thermal_slowdown"}
    assert s.pids == (4242,)
    assert sampler.up and sampler.last_success_timestamp == clock.now and sampler.errors == {}


# -- utilization from samples ------------------------------------------------------------------------------


def test_utilization_is_mean_and_min_of_samples_since_previous_poll(clock: Clock) -> None:
    layer = FakeDeviceLayer(1, clock=clock)
    gpu = layer.gpus[0]
    sampler = GpuSampler(layer=layer, clock=clock)
    gpu.add_samples([(1_000, 100.0), (2_000, 10.0), (3_000, 100.0), (4_000, 90.0)])
    sampler.poll_once()
    s = sampler.snapshots()[0]
    assert s.utilization_ratio == pytest.approx(0.75)
    assert s.utilization_min_ratio == pytest.approx(0.10)

    # Only the new samples count in the next poll: the 10 % dip is not seen twice.
    gpu.add_samples([(5_000, 80.0), (6_000, 60.0)])
    clock.tick()
    sampler.poll_once()
    s = sampler.snapshots()[0]
    assert s.utilization_ratio == pytest.approx(0.70)
    assert s.utilization_min_ratio == pytest.approx(0.60)
    assert layer.calls[(0, "utilization_rate")] == 0


def test_no_new_samples_falls_back_to_rate_without_counting_an_error(clock: Clock) -> None:
    layer = FakeDeviceLayer(1, clock=clock)
    sampler = GpuSampler(layer=layer, clock=clock)
    layer.gpus[0].add_samples([(1_000, 50.0)])
    sampler.poll_once()
    layer.gpus[0].utilization_percent = 30.0  # rate only: no generated samples before the next call
    layer.gpus[0].sample_period_us = 10**12
    clock.tick()
    sampler.poll_once()
    s = sampler.snapshots()[0]
    assert s.utilization_ratio == pytest.approx(0.30) and s.utilization_min_ratio == pytest.approx(0.30)
    assert sampler.errors == {}


def test_generated_samples_show_a_dip_between_polls(clock: Clock) -> None:
    layer = FakeDeviceLayer(1, clock=clock)
    # Busy except for 0.5 s of every poll period: a data-loader hiccup a 1 s instantaneous rate can miss.
    layer.gpus[0].utilization_percent = lambda t: 0.0 if (t % 1.0) < 0.5 else 100.0
    sampler = GpuSampler(layer=layer, clock=clock)
    sampler.poll_once()
    clock.tick(1.0)
    sampler.poll_once()
    s = sampler.snapshots()[0]
    assert s.utilization_min_ratio == 0.0
    assert 0.3 < s.utilization_ratio < 0.7


def test_window_mean_and_min_cover_the_last_window_only(clock: Clock) -> None:
    layer, sampler = make(1, clock, window_seconds=10.0)
    gpu = layer.gpus[0]
    gpu.utilization_percent = 0.0
    sampler.poll_once()
    gpu.utilization_percent = 100.0
    for _ in range(4):
        clock.tick()
        sampler.poll_once()
    s = sampler.snapshots()[0]
    assert s.utilization_window_ratio == pytest.approx(0.8)
    assert s.utilization_window_min_ratio == 0.0
    clock.tick(10.0)
    sampler.poll_once()
    s = sampler.snapshots()[0]
    assert s.utilization_window_ratio == pytest.approx(1.0) and s.utilization_window_min_ratio == 1.0


def test_samples_not_supported_uses_rate_and_stops_asking(clock: Clock) -> None:
    layer, sampler = make(1, clock)
    layer.gpus[0].fail("utilization_samples", nvml_error("NotSupported"))
    for _ in range(3):
        sampler.poll_once()
        clock.tick()
    assert sampler.snapshots()[0].utilization_ratio == pytest.approx(0.9)
    assert layer.calls[(0, "utilization_samples")] == 1
    assert sampler.errors == {"NotSupported": 1}


# -- NVML failures -----------------------------------------------------------------------------------------


def test_library_not_found_reports_down_warns_once_and_retries_with_backoff(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    layer, sampler = make(1, clock)
    layer.fail("init", nvml_error("LibraryNotFound"))
    start = clock.now
    init_times = []
    for _ in range(100):
        before = layer.calls[(None, "init")]
        sampler.poll_once()
        if layer.calls[(None, "init")] > before:
            init_times.append(clock.now - start)
        clock.tick()
    assert init_times == [0, 10, 30, 70]  # 10, 20, 40 s ... doubling
    assert not sampler.up and sampler.snapshots() == [] and sampler.last_success_timestamp is None
    assert sampler.errors == {"LibraryNotFound": 4}
    assert len(warnings(caplog)) == 1
    assert "LibraryNotFound" in warnings(caplog)[0]

    # The driver appears: the next retry succeeds, without another warning.
    layer.clear("init")
    clock.tick(INIT_RETRY_MAX_SECONDS)
    sampler.poll_once()
    assert sampler.up and len(sampler.snapshots()) == 1 and sampler.down_reason is None
    assert len(warnings(caplog)) == 1


def test_init_backoff_is_capped(clock: Clock) -> None:
    layer, sampler = make(1, clock)
    layer.fail("init", nvml_error("DriverNotLoaded"))
    gaps, last = [], None
    for _ in range(4000):
        before = layer.calls[(None, "init")]
        sampler.poll_once()
        if layer.calls[(None, "init")] > before:
            if last is not None:
                gaps.append(clock.now - last)
            last = clock.now
        clock.tick(1.0)
    assert gaps[0] == INIT_RETRY_INITIAL_SECONDS
    assert max(gaps) == INIT_RETRY_MAX_SECONDS and gaps[-1] == INIT_RETRY_MAX_SECONDS
    assert sampler.errors == {"DriverNotLoaded": len(gaps) + 1}


def test_missing_pynvml_module_counts_library_not_found(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    sampler = GpuSampler(layer=NvmlLayer(), clock=clock)
    sampler.poll_once()
    assert not sampler.up and sampler.errors == {"LibraryNotFound": 1}


def test_real_pynvml_without_library_never_raises(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    # This machine has nvidia-ml-py but no libnvidia-ml: the real path must report down, not crash.
    sampler = GpuSampler(clock=clock)
    sampler.poll_once()
    clock.tick(1000)
    sampler.poll_once()
    assert not sampler.up
    assert sum(sampler.errors.values()) == 2
    assert len(warnings(caplog)) == 1


def test_no_gpu_is_down_with_one_warning(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    layer, sampler = make(0, clock)
    for _ in range(50):
        sampler.poll_once()
        clock.tick(10)
    assert not sampler.up and sampler.snapshots() == []
    assert "no NVIDIA GPU" in (sampler.down_reason or "")
    assert len(warnings(caplog)) == 1
    assert layer.calls[(None, "shutdown")] == layer.calls[(None, "init")]


def test_no_permission_at_init_is_down(clock: Clock) -> None:
    layer, sampler = make(1, clock)
    layer.fail("device_count", nvml_error("NoPermission"))
    sampler.poll_once()
    assert not sampler.up and sampler.errors == {"NoPermission": 1}
    assert layer.calls[(None, "shutdown")] == 1


FIELDS = {
    "memory": ("memory_used_bytes", "memory_total_bytes"),
    "power_watts": ("power_watts",),
    "temperature_celsius": ("temperature_celsius",),
    "sm_clock_hertz": ("sm_clock_hertz",),
    "clocks_event_reasons": ("clocks_event_reasons",),
}


@pytest.mark.parametrize("kind", ["NotSupported", "NoPermission"])
@pytest.mark.parametrize("method", sorted(FIELDS))
def test_unsupported_field_is_none_and_not_retried(clock: Clock, method: str, kind: str) -> None:
    layer, sampler = make(2, clock)
    layer.gpus[0].fail(method, nvml_error(kind))
    if method == "clocks_event_reasons":
        layer.gpus[0].fail("clocks_throttle_reasons", nvml_error(kind))
    for _ in range(5):
        sampler.poll_once()
        clock.tick()
    first, second = sampler.snapshots()
    for attr in FIELDS[method]:
        assert getattr(first, attr) is None
        assert getattr(second, attr) is not None
    # Everything else of the affected GPU is still served and the collector is up.
    assert first.utilization_ratio == pytest.approx(0.9) and first.name
    assert sampler.up
    assert layer.calls[(0, method)] == 1
    assert layer.calls[(1, method)] == 5
    assert sampler.errors == {kind: 1}


def test_unsupported_utilization_is_none(clock: Clock) -> None:
    layer, sampler = make(1, clock)
    layer.gpus[0].fail("utilization_samples", nvml_error("NotSupported"))
    layer.gpus[0].fail("utilization_rate", nvml_error("NotSupported"))
    sampler.poll_once()
    clock.tick()
    sampler.poll_once()
    s = sampler.snapshots()[0]
    assert s.utilization_ratio is None and s.utilization_min_ratio is None
    assert s.utilization_window_ratio is None
    assert sampler.errors == {"NotSupported": 2}


def test_unsupported_compute_processes_gives_no_pids(clock: Clock) -> None:
    layer, sampler = make(1, clock)
    layer.gpus[0].pids = (7,)
    layer.gpus[0].fail("compute_pids", nvml_error("NotSupported"))
    sampler.poll_once()
    assert sampler.snapshots()[0].pids == ()


def test_clocks_event_reasons_falls_back_to_throttle_reasons(clock: Clock) -> None:
    layer, sampler = make(1, clock)
    layer.gpus[0].clocks_reasons = 0x20
    layer.gpus[0].fail("clocks_event_reasons", nvml_error("FunctionNotFound"))
    for _ in range(3):
        sampler.poll_once()
        clock.tick()
    reasons = sampler.snapshots()[0].clocks_event_reasons
    assert reasons is not None and reasons["sw_thermal_slowdown"] and not reasons["gpu_idle"]
    assert layer.calls[(0, "clocks_event_reasons")] == 1
    assert layer.calls[(0, "clocks_throttle_reasons")] == 3
    assert sampler.errors == {"FunctionNotFound": 1}


def test_clocks_fallback_when_binding_lacks_the_new_name(clock: Clock) -> None:
    layer, sampler = make(1, clock)
    layer.gpus[0].clocks_reasons = 0x4
    layer.missing.add("clocks_event_reasons")
    sampler.poll_once()
    reasons = sampler.snapshots()[0].clocks_event_reasons
    assert reasons is not None and reasons["sw_power_cap"]
    assert sampler.errors == {"FunctionNotFound": 1}


def test_gpu_lost_is_dropped_retried_with_backoff_then_recovers(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    layer, sampler = make(2, clock)
    sampler.poll_once()
    assert len(sampler.snapshots()) == 2
    lost = layer.gpus[1]
    lost.fail("power_watts", nvml_error("GpuIsLost"))
    start = clock.now
    tries = []
    for _ in range(30):
        before = layer.calls[(1, "power_watts")]
        sampler.poll_once()
        if layer.calls[(1, "power_watts")] > before:
            tries.append(clock.now - start)
        # The lost GPU's stale values are never served; the healthy one still is.
        assert [s.index for s in sampler.snapshots()] == [0]
        assert not sampler.up
        clock.tick()
    assert tries == [0, 2, 6, 14]  # 2, 4, 8 s ... doubling
    assert sampler.errors["GpuIsLost"] == len(tries)
    assert len([w for w in warnings(caplog) if "GpuIsLost" in w]) == 1

    lost.clear()
    for _ in range(40):
        sampler.poll_once()
        clock.tick()
        if sampler.up:
            break
    assert sampler.up
    assert [s.index for s in sampler.snapshots()] == [0, 1]
    assert sampler.last_success_timestamp is not None


def test_device_backoff_is_capped(clock: Clock) -> None:
    layer, sampler = make(1, clock)
    layer.gpus[0].fail("memory", nvml_error("GpuIsLost"))
    times = []
    for _ in range(1000):
        before = layer.calls[(0, "memory")]
        sampler.poll_once()
        if layer.calls[(0, "memory")] > before:
            times.append(clock.now)
        clock.tick()
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps) == DEVICE_RETRY_MAX_SECONDS and gaps[-1] == DEVICE_RETRY_MAX_SECONDS


def test_unknown_error_drops_the_gpu_and_is_counted(clock: Clock) -> None:
    layer, sampler = make(1, clock)
    layer.gpus[0].fail("temperature_celsius", nvml_error("Unknown"), times=1)
    sampler.poll_once()
    assert sampler.snapshots() == [] and not sampler.up
    assert sampler.errors == {"Unknown": 1}
    clock.tick(2)
    sampler.poll_once()
    assert len(sampler.snapshots()) == 1 and sampler.up


def test_error_kinds_are_bounded_names() -> None:
    assert error_kind(nvml_error("GpuIsLost")) == "GpuIsLost"
    assert error_kind(pynvml.NVMLError(pynvml.NVML_ERROR_DRIVER_NOT_LOADED)) == "DriverNotLoaded"
    # A code newer than this binding knows gives the base class.
    assert type(pynvml.NVMLError(12345)) is pynvml.NVMLError
    assert error_kind(pynvml.NVMLError(12345)) == "Unknown"
    assert error_kind(ImportError("no pynvml")) == "LibraryNotFound"
    assert error_kind(AttributeError("x")) == "FunctionNotFound"
    assert error_kind(RuntimeError("bug")) == "Unexpected"


def test_driver_lost_while_running_reinitialises(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    layer, sampler = make(2, clock)
    sampler.poll_once()
    layer.gpus[0].fail("memory", nvml_error("DriverNotLoaded"))
    layer.fail("init", nvml_error("DriverNotLoaded"))
    clock.tick()
    sampler.poll_once()
    assert not sampler.up and sampler.snapshots() == []
    assert layer.calls[(None, "shutdown")] == 1
    assert len(warnings(caplog)) == 1
    layer.clear()
    layer.gpus[0].clear()
    clock.tick(INIT_RETRY_INITIAL_SECONDS)
    sampler.poll_once()
    assert sampler.up and len(sampler.snapshots()) == 2
    assert sampler.errors == {"DriverNotLoaded": 1}


def test_gpu_replaced_after_failure_re_enumerates(clock: Clock) -> None:
    layer, sampler = make(1, clock)
    sampler.poll_once()
    layer.gpus[0].fail("power_watts", nvml_error("GpuIsLost"), times=1)
    clock.tick()
    sampler.poll_once()
    layer.gpus[0] = FakeGpu(uuid="GPU-replacement", utilization_percent=50.0)
    clock.tick(5)
    sampler.poll_once()  # sees the new UUID at index 0
    clock.tick()
    sampler.poll_once()
    assert [s.uuid for s in sampler.snapshots()] == ["GPU-replacement"]


def test_unexpected_exception_never_escapes(clock: Clock) -> None:
    layer, sampler = make(1, clock)
    layer.gpus[0].fail("memory", RuntimeError("binding bug"), times=1)
    sampler.poll_once()
    assert sampler.errors == {"Unexpected": 1} and not sampler.up
    layer.fail("device_count", ValueError("bad"), times=1)
    sampler2 = GpuSampler(layer=layer, clock=clock)
    sampler2.poll_once()
    assert not sampler2.up and sampler2.errors == {"Unexpected": 1}


def test_uuid_not_supported_still_reads_the_gpu(clock: Clock) -> None:
    layer, sampler = make(1, clock)
    layer.gpus[0].fail("uuid", nvml_error("NotSupported"))
    sampler.poll_once()
    assert sampler.up and sampler.snapshots()[0].uuid == ""


# -- selection ---------------------------------------------------------------------------------------------


def test_select_by_index_and_uuid(clock: Clock) -> None:
    layer = FakeDeviceLayer(4, clock=clock)
    sampler = GpuSampler(layer=layer, clock=clock, select=f"3,{layer.gpus[1].uuid}")
    sampler.poll_once()
    assert [s.index for s in sampler.snapshots()] == [1, 3]
    # Unselected GPUs are not even read.
    assert layer.calls[(0, "memory")] == 0 and layer.calls[(2, "memory")] == 0


def test_selecting_missing_gpus_warns_and_reports_down(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    layer = FakeDeviceLayer(2, clock=clock)
    sampler = GpuSampler(layer=layer, clock=clock, select=GpuSelection(devices=(7, "GPU-nope")))
    sampler.poll_once()
    clock.tick(INIT_RETRY_MAX_SECONDS)
    sampler.poll_once()
    assert not sampler.up and "selected GPUs" in (sampler.down_reason or "")
    ws = warnings(caplog)
    assert len(ws) == 1 and "7,GPU-nope" in ws[0]


def test_partly_missing_selection_warns_once_per_missing_gpu(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    layer = FakeDeviceLayer(2, clock=clock)
    sampler = GpuSampler(layer=layer, clock=clock, select="1,5")
    sampler.poll_once()
    layer.fail("memory", nvml_error("DriverNotLoaded"), times=1)  # forces a re-enumeration
    sampler.poll_once()
    clock.tick(INIT_RETRY_INITIAL_SECONDS)
    sampler.poll_once()
    assert sampler.up and [s.index for s in sampler.snapshots()] == [1]
    assert sum("GPU 5 not found" in w for w in warnings(caplog)) == 1


def test_select_by_pid_and_its_descendants(clock: Clock) -> None:
    layer = FakeDeviceLayer(3, clock=clock)
    layer.gpus[0].pids = (100,)
    layer.gpus[1].pids = (501, 999)  # a torchrun worker whose parent is the launcher 500
    layer.gpus[2].pids = (777,)
    parents = {501: 500, 500: 1, 100: 1, 999: 1, 777: 1}
    sampler = GpuSampler(layer=layer, clock=clock, select="pid:500", parent_pid=parents.get)
    sampler.poll_once()
    assert [s.index for s in sampler.snapshots()] == [1]
    # Before the trainer uses a GPU there is nothing to report, but NVML works: up.
    layer.gpus[1].pids = ()
    clock.tick()
    sampler.poll_once()
    assert sampler.snapshots() == [] and sampler.up


def test_pid_selection_warns_once_when_processes_cannot_be_listed(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    layer = FakeDeviceLayer(2, clock=clock)
    layer.gpus[0].pids = (500,)
    layer.gpus[0].fail("compute_pids", nvml_error("NoPermission"))
    layer.gpus[1].pids = (500,)
    sampler = GpuSampler(layer=layer, clock=clock, select="pid:500", parent_pid=lambda pid: None)
    for _ in range(3):
        sampler.poll_once()
        clock.tick()
    assert [s.index for s in sampler.snapshots()] == [1]
    assert [w for w in warnings(caplog) if "cannot list its processes" in w] == [
        "GPU 0 cannot list its processes; it is left out of the selection pid:500"
    ]


def test_pid_selection_reads_real_proc_for_this_process(clock: Clock) -> None:
    import os

    layer = FakeDeviceLayer(2, clock=clock)
    layer.gpus[1].pids = (os.getpid(),)
    sampler = GpuSampler(layer=layer, clock=clock, select=GpuSelection(pid=os.getppid()))
    sampler.poll_once()
    assert [s.index for s in sampler.snapshots()] == [1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("all", GpuSelection()),
        ("", GpuSelection()),
        ("0, 2", GpuSelection(devices=(0, 2))),
        ("GPU-abc,1", GpuSelection(devices=("GPU-abc", 1))),
        ("pid:1234", GpuSelection(pid=1234)),
    ],
)
def test_selection_parse(text: str, expected: GpuSelection) -> None:
    assert GpuSelection.parse(text) == expected
    assert GpuSelection.parse(str(expected)) == expected


@pytest.mark.parametrize("text", ["pid:", "pid:-3", "pid:x", "first", "0,,1", "gpu0"])
def test_selection_parse_rejects_with_a_clear_message(text: str) -> None:
    with pytest.raises(ValueError, match="GPU selection"):
        GpuSelection.parse(text)


def test_invalid_interval_is_rejected() -> None:
    with pytest.raises(ValueError, match="interval_seconds"):
        GpuSampler(layer=FakeDeviceLayer(1), interval_seconds=0)


# -- thread ------------------------------------------------------------------------------------------------


def test_background_thread_polls_and_stop_shuts_nvml_down() -> None:
    layer = FakeDeviceLayer(1)
    layer.gpus[0].utilization_percent = 50.0
    polled = threading.Event()
    original = layer.memory

    def memory(handle):
        polled.set()
        return original(handle)

    layer.memory = memory  # type: ignore[method-assign]
    sampler = GpuSampler(layer=layer, interval_seconds=0.01)
    sampler.start()
    try:
        assert polled.wait(5.0)
        for _ in range(500):
            if sampler.snapshots():
                break
            polled.clear()
            polled.wait(0.05)
        assert sampler.snapshots() and sampler.up
    finally:
        sampler.stop()
    assert layer.calls[(None, "shutdown")] == 1 and not layer.initialized


def test_a_hung_nvml_call_marks_the_collector_down_and_never_holds_shutdown() -> None:
    """A call that does not return (a lost GPU, a stuck driver): past the deadline the sampler reads down, its
    series are absent instead of stale, and ``stop()`` returns within ~2 s although the call still hangs."""
    import time as _time


    layer = FakeDeviceLayer(1)
    sampler = GpuSampler(layer=layer, interval_seconds=0.02, hang_seconds=0.3)
    sampler.start()
    try:
        deadline = _time.monotonic() + 5
        while not sampler.snapshots() and _time.monotonic() < deadline:
            _time.sleep(0.01)
        assert sampler.up and sampler.snapshots()
        layer.hang("utilization_samples")
        _time.sleep(0.6)
        assert not sampler.up
        assert sampler.snapshots() == []
        assert "NVML call has not returned" in (sampler.down_reason or "")
        stopper = threading.Thread(target=sampler.stop)
        stopper.start()
        stopper.join(60)  # a hang guard: stop() waits STOP_SECONDS at most, then gives up on the hung call
        assert not stopper.is_alive() and layer.hanging  # it returned while NVML was still hung
    finally:
        layer.release()
