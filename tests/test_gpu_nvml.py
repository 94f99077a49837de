"""NvmlLayer (the real pynvml wrapper) over a stand-in module: unit conversions, ctypes samples, fallbacks."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pynvml
import pytest

from exporter.gpu.fake import FakeDeviceLayer, nvml_error
from exporter.gpu.nvml import DeviceLayer, NvmlLayer
from exporter.gpu.sampler import GpuSampler


def sample(ts: int, percent: int) -> pynvml.c_nvmlSample_t:
    s = pynvml.c_nvmlSample_t()
    s.timeStamp = ts
    s.sampleValue.uiVal = percent
    return s


class StubNvml:
    """Just enough of the pynvml module, with the real constants and error classes, for one GPU."""

    NVML_GPU_UTILIZATION_SAMPLES = pynvml.NVML_GPU_UTILIZATION_SAMPLES
    NVML_TEMPERATURE_GPU = pynvml.NVML_TEMPERATURE_GPU
    NVML_CLOCK_SM = pynvml.NVML_CLOCK_SM

    def __init__(self) -> None:
        self.samples = [sample(10, 97), sample(20, 3), sample(30, 100)]
        self.asked_since: list[int] = []
        self.inits = 0

    def nvmlInit(self) -> None:
        self.inits += 1

    def nvmlShutdown(self) -> None:
        pass

    def nvmlDeviceGetCount(self) -> int:
        return 1

    def nvmlDeviceGetHandleByIndex(self, index: int) -> str:
        return f"handle{index}"

    def nvmlDeviceGetUUID(self, handle: str) -> bytes:
        return b"GPU-1234"  # old bindings return bytes

    def nvmlDeviceGetName(self, handle: str) -> str:
        return "NVIDIA A100-SXM4-40GB"

    def nvmlSystemGetDriverVersion(self) -> str:
        return "535.104.05"

    def nvmlDeviceGetSamples(self, handle: str, kind: int, since: int) -> tuple[int, list[Any]]:
        assert kind == pynvml.NVML_GPU_UTILIZATION_SAMPLES
        self.asked_since.append(since)
        newer = [s for s in self.samples if s.timeStamp > since]
        if not newer:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
        return pynvml.NVML_VALUE_TYPE_UNSIGNED_INT, newer

    def nvmlDeviceGetUtilizationRates(self, handle: str) -> Any:
        return SimpleNamespace(gpu=42, memory=10)

    def nvmlDeviceGetMemoryInfo(self, handle: str) -> Any:
        return SimpleNamespace(used=5 * 2**30, total=40 * 2**30, free=35 * 2**30)

    def nvmlDeviceGetPowerUsage(self, handle: str) -> int:
        return 251_500  # milliwatts

    def nvmlDeviceGetTemperature(self, handle: str, sensor: int) -> int:
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return 71

    def nvmlDeviceGetClockInfo(self, handle: str, clock: int) -> int:
        assert clock == pynvml.NVML_CLOCK_SM
        return 1410  # MHz

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: str) -> int:
        return 0x4

    def nvmlDeviceGetComputeRunningProcesses(self, handle: str) -> list[Any]:
        return [SimpleNamespace(pid=321, usedGpuMemory=1 << 30)]


class NewStubNvml(StubNvml):
    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: str) -> int:
        return 0x40


def test_both_layers_satisfy_the_protocol() -> None:
    assert isinstance(NvmlLayer(), DeviceLayer)
    assert isinstance(FakeDeviceLayer(1), DeviceLayer)


def test_units_and_types_are_converted() -> None:
    layer = NvmlLayer(module=StubNvml())
    layer.init()
    h = layer.handle(0)
    assert layer.uuid(h) == "GPU-1234"
    assert layer.name(h) == "NVIDIA A100-SXM4-40GB"
    assert layer.driver_version() == "535.104.05"
    assert layer.power_watts(h) == pytest.approx(251.5)
    assert layer.sm_clock_hertz(h) == pytest.approx(1.41e9)
    assert layer.temperature_celsius(h) == 71.0
    assert layer.memory(h) == (5 * 2**30, 40 * 2**30)
    assert layer.utilization_rate(h) == 42.0
    assert layer.compute_pids(h) == (321,)
    assert layer.utilization_samples(h, 15) == [(20, 3.0), (30, 100.0)]


def test_sampler_over_real_layer_uses_samples_and_throttle_fallback_on_old_binding() -> None:
    stub = StubNvml()  # has no ...ClocksEventReasons attribute, like nvidia-ml-py < 12.535
    sampler = GpuSampler(layer=NvmlLayer(module=stub), clock=lambda: 5.0)
    sampler.poll_once()
    (s,) = sampler.snapshots()
    assert s.uuid == "GPU-1234" and s.driver_version == "535.104.05"
    assert s.utilization_ratio == pytest.approx((0.97 + 0.03 + 1.0) / 3)
    assert s.utilization_min_ratio == pytest.approx(0.03)
    assert s.power_watts == pytest.approx(251.5) and s.sm_clock_hertz == pytest.approx(1.41e9)
    assert s.clocks_event_reasons is not None and s.clocks_event_reasons["sw_power_cap"]
    assert s.pids == (321,)
    assert sampler.errors == {"FunctionNotFound": 1}
    # The next poll asks only for samples after the newest one seen; none → the rate, no error counted.
    sampler.poll_once()
    assert stub.asked_since == [0, 30]
    assert sampler.snapshots()[0].utilization_ratio == pytest.approx(0.42)
    assert sampler.errors == {"FunctionNotFound": 1}


def test_sampler_over_real_layer_prefers_clocks_event_reasons() -> None:
    sampler = GpuSampler(layer=NvmlLayer(module=NewStubNvml()), clock=lambda: 5.0)
    sampler.poll_once()
    reasons = sampler.snapshots()[0].clocks_event_reasons
    assert reasons is not None and reasons["hw_thermal_slowdown"] and not reasons["sw_power_cap"]
    assert sampler.errors == {}


def test_function_missing_from_the_driver_falls_back() -> None:
    class DriverWithoutNewName(NewStubNvml):
        def nvmlDeviceGetCurrentClocksEventReasons(self, handle: str) -> int:
            # What pynvml raises when the symbol is absent from an old libnvidia-ml.
            raise nvml_error("FunctionNotFound")

    sampler = GpuSampler(layer=NvmlLayer(module=DriverWithoutNewName()), clock=lambda: 5.0)
    sampler.poll_once()
    reasons = sampler.snapshots()[0].clocks_event_reasons
    assert reasons is not None and reasons["sw_power_cap"]
    assert sampler.errors == {"FunctionNotFound": 1}


def test_nvml_error_builds_the_real_classes() -> None:
    for kind in ("LibraryNotFound", "DriverNotLoaded", "NotSupported", "NoPermission", "GpuIsLost", "Unknown"):
        err = nvml_error(kind)
        assert type(err) is getattr(pynvml, f"NVMLError_{kind}")
        assert isinstance(err, pynvml.NVMLError)
    assert type(nvml_error(pynvml.NVML_ERROR_GPU_IS_LOST)) is pynvml.NVMLError_GpuIsLost
    with pytest.raises(ValueError, match="NVMLError_Nope"):
        nvml_error("Nope")
