"""One GPU's state as the sampler last saw it."""

from __future__ import annotations

from dataclasses import dataclass, field

CLOCKS_EVENT_REASONS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
"""NVML clocks-event reason bits and the label values the exporter uses for them."""

THROTTLE_REASONS = frozenset(
    {"sw_power_cap", "hw_slowdown", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown"}
)
"""Reasons that mean the GPU runs slower than it could (thermal or power), used by the diagnosis."""


@dataclass(slots=True)
class GpuSnapshot:
    """Values of one GPU; a field is None when NVML does not support it on this device (series omitted)."""

    index: int
    uuid: str
    name: str = ""
    driver_version: str = ""
    timestamp_seconds: float = 0.0
    utilization_ratio: float | None = None
    """Mean busy ratio over the samples since the previous poll."""
    utilization_min_ratio: float | None = None
    """Minimum busy ratio among those samples: short data-loader dips show here."""
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    power_watts: float | None = None
    temperature_celsius: float | None = None
    sm_clock_hertz: float | None = None
    clocks_event_reasons: dict[str, bool] | None = field(default=None)
    """Every known reason with whether it is active, or None when unsupported."""
    pids: tuple[int, ...] = ()
    """PIDs of compute processes on this GPU (when visible)."""
    utilization_window_ratio: float | None = None
    """Mean busy ratio over the sampler's longer window (default 60 s): a steadier input for the diagnosis."""
    utilization_window_min_ratio: float | None = None
    """Minimum busy ratio over that window."""
