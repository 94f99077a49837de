"""The one small interface between the exporter and NVML, and its real implementation over ``pynvml``.

Each ``DeviceLayer`` method wraps exactly one NVML call and converts units (mW to W, MHz to Hz, ctypes
values to Python numbers). Policy (fallbacks, remembering unsupported fields, backoff) lives in
``exporter.gpu.sampler`` so that it can be tested with ``exporter.gpu.fake`` on machines without a GPU.
Methods raise the ``pynvml.NVMLError_*`` classes unchanged; a missing ``pynvml`` function shows as
``AttributeError`` (old ``nvidia-ml-py`` releases), a missing ``pynvml`` module as ``ImportError`` from ``init``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class DeviceLayer(Protocol):
    """The NVML calls the sampler needs; ``handle`` values are opaque to the caller."""

    def init(self) -> None:
        """``nvmlInit``: load the library and attach to the driver."""

    def shutdown(self) -> None:
        """``nvmlShutdown``."""

    def device_count(self) -> int:
        """``nvmlDeviceGetCount``."""

    def handle(self, index: int) -> Any:
        """``nvmlDeviceGetHandleByIndex`` (NVML index: the order of ``nvidia-smi``, not CUDA_VISIBLE_DEVICES)."""

    def uuid(self, handle: Any) -> str:
        """``nvmlDeviceGetUUID``, e.g. ``GPU-5f1c…``."""

    def name(self, handle: Any) -> str:
        """``nvmlDeviceGetName``."""

    def driver_version(self) -> str:
        """``nvmlSystemGetDriverVersion``."""

    def utilization_samples(self, handle: Any, last_seen_us: int) -> Sequence[tuple[int, float]]:
        """``nvmlDeviceGetSamples(h, NVML_GPU_UTILIZATION_SAMPLES, last_seen_us)``: ``(timestamp_us, percent)``.

        NVML raises ``NVMLError_NotFound`` when no sample is newer than ``last_seen_us``.
        """

    def utilization_rate(self, handle: Any) -> float:
        """``nvmlDeviceGetUtilizationRates(h).gpu``: busy percent over the driver's last sample period."""

    def memory(self, handle: Any) -> tuple[int, int]:
        """``nvmlDeviceGetMemoryInfo``: ``(used_bytes, total_bytes)``."""

    def power_watts(self, handle: Any) -> float:
        """``nvmlDeviceGetPowerUsage`` converted from milliwatts."""

    def temperature_celsius(self, handle: Any) -> float:
        """``nvmlDeviceGetTemperature(h, NVML_TEMPERATURE_GPU)``."""

    def sm_clock_hertz(self, handle: Any) -> float:
        """``nvmlDeviceGetClockInfo(h, NVML_CLOCK_SM)`` converted from MHz."""

    def clocks_event_reasons(self, handle: Any) -> int:
        """``nvmlDeviceGetCurrentClocksEventReasons`` bit mask (driver 535+ / nvidia-ml-py 12.535+)."""

    def clocks_throttle_reasons(self, handle: Any) -> int:
        """``nvmlDeviceGetCurrentClocksThrottleReasons``: the deprecated name of the same bit mask."""

    def compute_pids(self, handle: Any) -> tuple[int, ...]:
        """``nvmlDeviceGetComputeRunningProcesses``: PIDs (as seen from this PID namespace)."""


_SAMPLE_VALUE_FIELDS = ("dVal", "uiVal", "ulVal", "ullVal", "sllVal", "siVal", "usVal")
"""``c_nvmlValue_t`` union member for each ``NVML_VALUE_TYPE_*`` (0..6)."""


def _text(value: str | bytes) -> str:
    # nvidia-ml-py before 11.515 returned bytes for strings.
    return value.decode(errors="replace") if isinstance(value, bytes) else value


class NvmlLayer:
    """``DeviceLayer`` over the ``pynvml`` module of ``nvidia-ml-py``, imported on first ``init``.

    ``module`` replaces the import (tests pass a stand-in that reuses the real error classes).
    """

    def __init__(self, *, module: Any = None) -> None:
        self._nvml = module

    def init(self) -> None:
        if self._nvml is None:
            import pynvml  # noqa: PLC0415 - lazy: the exporter must run where the package or library is missing

            self._nvml = pynvml
        self._nvml.nvmlInit()

    def shutdown(self) -> None:
        if self._nvml is not None:
            self._nvml.nvmlShutdown()

    def device_count(self) -> int:
        return int(self._nvml.nvmlDeviceGetCount())

    def handle(self, index: int) -> Any:
        return self._nvml.nvmlDeviceGetHandleByIndex(index)

    def uuid(self, handle: Any) -> str:
        return _text(self._nvml.nvmlDeviceGetUUID(handle))

    def name(self, handle: Any) -> str:
        return _text(self._nvml.nvmlDeviceGetName(handle))

    def driver_version(self) -> str:
        return _text(self._nvml.nvmlSystemGetDriverVersion())

    def utilization_samples(self, handle: Any, last_seen_us: int) -> list[tuple[int, float]]:
        value_type, samples = self._nvml.nvmlDeviceGetSamples(
            handle, self._nvml.NVML_GPU_UTILIZATION_SAMPLES, last_seen_us
        )
        field = _SAMPLE_VALUE_FIELDS[value_type] if 0 <= value_type < len(_SAMPLE_VALUE_FIELDS) else "uiVal"
        return [(int(s.timeStamp), float(getattr(s.sampleValue, field))) for s in samples]

    def utilization_rate(self, handle: Any) -> float:
        return float(self._nvml.nvmlDeviceGetUtilizationRates(handle).gpu)

    def memory(self, handle: Any) -> tuple[int, int]:
        info = self._nvml.nvmlDeviceGetMemoryInfo(handle)
        return int(info.used), int(info.total)

    def power_watts(self, handle: Any) -> float:
        return self._nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0

    def temperature_celsius(self, handle: Any) -> float:
        return float(self._nvml.nvmlDeviceGetTemperature(handle, self._nvml.NVML_TEMPERATURE_GPU))

    def sm_clock_hertz(self, handle: Any) -> float:
        return self._nvml.nvmlDeviceGetClockInfo(handle, self._nvml.NVML_CLOCK_SM) * 1e6

    def clocks_event_reasons(self, handle: Any) -> int:
        return int(self._nvml.nvmlDeviceGetCurrentClocksEventReasons(handle))

    def clocks_throttle_reasons(self, handle: Any) -> int:
        return int(self._nvml.nvmlDeviceGetCurrentClocksThrottleReasons(handle))

    def compute_pids(self, handle: Any) -> tuple[int, ...]:
        return tuple(int(p.pid) for p in self._nvml.nvmlDeviceGetComputeRunningProcesses(handle))
