"""Reading one GPU: its snapshot from the device layer, with per-field "unsupported" memory, the windowed
utilisation and the clocks-event reasons (with the pre-535 fallback name)."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exporter.gpu.errors import FIELD_ERROR_KINDS, error_kind
from exporter.gpu.nvml import DeviceLayer
from exporter.gpu.snapshot import CLOCKS_EVENT_REASONS, GpuSnapshot

logger = logging.getLogger("exporter.gpu.sampler")


@dataclass
class Device:
    index: int
    uuid: str
    name: str
    handle: Any
    unsupported: set[str] = field(default_factory=set)
    last_seen_us: int = 0
    clocks_method: str = "clocks_event_reasons"
    failures: int = 0
    retry_at: float = 0.0
    window: deque[tuple[float, float, int, float]] = field(default_factory=deque)
    """(poll time, sum of ratios, sample count, min ratio) per poll within the utilization window."""


class DeviceChanged(Exception):
    """The GPU at an index has another UUID after a failure (reset, hot-plug): re-enumerate."""


class DeviceReader:
    """Reads snapshots through ``layer``; errors that only mean "this value is unavailable" are counted with
    ``count`` and the value left out; any other error is raised to the sampler, which owns the device's health."""

    def __init__(self, layer: DeviceLayer, count: Callable[[str], None], window_seconds: float) -> None:
        self._layer = layer
        self._count = count
        self._window_seconds = window_seconds

    def optional(self, get: Callable[[], Any], *, default: Any) -> Any:
        """A descriptive value that may be unsupported (default) without failing the whole init."""
        try:
            return get()
        except Exception as exc:
            self.field_error(exc)
            return default

    def field_error(self, exc: Exception) -> str:
        """Counts ``exc`` and returns its kind if it only means "this value is unavailable"; re-raises the rest."""
        kind = error_kind(exc)
        if kind not in FIELD_ERROR_KINDS:
            raise exc
        self._count(kind)
        return kind

    def refresh_handle(self, dev: Device) -> None:
        handle = self._layer.handle(dev.index)
        uuid = self._layer.uuid(handle)
        if uuid != dev.uuid:
            raise DeviceChanged(f"GPU {dev.index} is now {uuid}, was {dev.uuid}")
        dev.handle = handle

    def _field(self, dev: Device, name: str, get: Callable[[], Any]) -> Any:
        if name in dev.unsupported:
            return None
        try:
            return get()
        except Exception as exc:
            kind = self.field_error(exc)
            dev.unsupported.add(name)
            logger.debug("GPU %d: %s unavailable (%s); series omitted", dev.index, name, kind)
            return None

    def read(self, dev: Device, now: float, driver: str) -> GpuSnapshot:
        layer, h = self._layer, dev.handle
        mean, minimum = self._utilization(dev)
        window_mean, window_min = self._window(dev, now, mean, minimum)
        memory = self._field(dev, "memory", lambda: layer.memory(h))
        pids = self._field(dev, "compute_pids", lambda: layer.compute_pids(h))
        return GpuSnapshot(
            index=dev.index,
            uuid=dev.uuid,
            name=dev.name,
            driver_version=driver,
            timestamp_seconds=now,
            utilization_ratio=mean,
            utilization_min_ratio=minimum,
            utilization_window_ratio=window_mean,
            utilization_window_min_ratio=window_min,
            memory_used_bytes=None if memory is None else memory[0],
            memory_total_bytes=None if memory is None else memory[1],
            power_watts=self._field(dev, "power_watts", lambda: layer.power_watts(h)),
            temperature_celsius=self._field(dev, "temperature_celsius", lambda: layer.temperature_celsius(h)),
            sm_clock_hertz=self._field(dev, "sm_clock_hertz", lambda: layer.sm_clock_hertz(h)),
            clocks_event_reasons=self._clocks(dev),
            pids=tuple(pids) if pids is not None else (),
        )

    def _utilization(self, dev: Device) -> tuple[float | None, float | None]:
        """Mean and minimum busy ratio of the samples since the previous poll (one rate when no samples)."""
        layer, h = self._layer, dev.handle
        if "utilization_samples" not in dev.unsupported:
            try:
                samples = layer.utilization_samples(h, dev.last_seen_us)
            except Exception as exc:
                # NotFound: no sample newer than the last one seen; not an error, use the instantaneous rate.
                if error_kind(exc) != "NotFound":
                    self.field_error(exc)
                    dev.unsupported.add("utilization_samples")
                samples = ()
            newer = [(ts, value) for ts, value in samples if ts > dev.last_seen_us]
            if newer:
                dev.last_seen_us = max(ts for ts, _ in newer)
                ratios = [_ratio(value) for _, value in newer]
                return sum(ratios) / len(ratios), min(ratios)
        rate = self._field(dev, "utilization_rate", lambda: layer.utilization_rate(h))
        if rate is None:
            return None, None
        return _ratio(rate), _ratio(rate)

    def _window(
        self, dev: Device, now: float, mean: float | None, minimum: float | None
    ) -> tuple[float | None, float | None]:
        if mean is not None and minimum is not None:
            # Weight each poll equally: sample counts differ by product and the rate fallback has one.
            dev.window.append((now, mean, 1, minimum))
        while dev.window and dev.window[0][0] <= now - self._window_seconds:
            dev.window.popleft()
        if not dev.window:
            return None, None
        total = sum(entry[1] for entry in dev.window)
        count = sum(entry[2] for entry in dev.window)
        return total / count, min(entry[3] for entry in dev.window)

    def _clocks(self, dev: Device) -> dict[str, bool] | None:
        if "clocks_reasons" in dev.unsupported:
            return None
        try:
            if dev.clocks_method == "clocks_event_reasons":
                mask = self._layer.clocks_event_reasons(dev.handle)
            else:
                mask = self._layer.clocks_throttle_reasons(dev.handle)
        except Exception as exc:
            kind = error_kind(exc)
            if kind == "FunctionNotFound" and dev.clocks_method == "clocks_event_reasons":
                # Drivers and bindings before 535 only have the deprecated ...ThrottleReasons name.
                self._count(kind)
                dev.clocks_method = "clocks_throttle_reasons"
                return self._clocks(dev)
            self.field_error(exc)
            dev.unsupported.add("clocks_reasons")
            return None
        return {name: bool(mask & bit) for bit, name in CLOCKS_EVENT_REASONS.items()}


def _ratio(percent: float) -> float:
    return min(1.0, max(0.0, float(percent) / 100.0))
