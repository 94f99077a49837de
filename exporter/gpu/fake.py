"""A scriptable fake ``DeviceLayer``: N fake GPUs for tests, the demo and benchmarks.

Faults raise the real ``pynvml.NVMLError_*`` classes (``nvml_error("GpuIsLost")``), so the sampler's
error handling is exercised exactly as on a real machine. Utilization samples behave like NVML's ring
buffer: ``utilization_samples`` returns only samples newer than the timestamp asked for and raises
``NVMLError_NotFound`` when there is none.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pynvml

SAMPLE_BUFFER_SIZE = 1200
"""Samples kept per fake GPU; NVML's own buffer holds a few hundred to a few thousand."""


def nvml_error(kind: str | int) -> pynvml.NVMLError:
    """The real ``pynvml`` exception for ``kind``: a class suffix (``"GpuIsLost"``) or an ``NVML_ERROR_*`` code."""
    if isinstance(kind, int):
        return pynvml.NVMLError(kind)
    cls = getattr(pynvml, f"NVMLError_{kind}", None)
    if not (isinstance(cls, type) and issubclass(cls, pynvml.NVMLError)):
        raise ValueError(f"no pynvml error class NVMLError_{kind}")
    code = next(c for c, k in pynvml.NVMLError._valClassMapping.items() if k is cls)
    return pynvml.NVMLError(code)


@dataclass
class _Fault:
    error: BaseException
    remaining: int | None
    """Calls left that raise; None = until cleared."""


class _Faults:
    """Per-method scripted exceptions."""

    def __init__(self) -> None:
        self._faults: dict[str, _Fault] = {}

    def set(self, method: str, error: BaseException, times: int | None) -> None:
        self._faults[method] = _Fault(error, times)

    def clear(self, method: str | None = None) -> None:
        if method is None:
            self._faults.clear()
        else:
            self._faults.pop(method, None)

    def check(self, method: str) -> None:
        fault = self._faults.get(method)
        if fault is None:
            return
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                del self._faults[method]
        raise fault.error


@dataclass(eq=False)
class FakeGpu:
    """One fake GPU; change attributes at any time to script what the next poll sees."""

    uuid: str
    name: str = "NVIDIA H100 80GB HBM3"
    utilization_percent: float | Callable[[float], float] | None = None
    """Busy percent, or a function of the layer clock; when set, samples are generated every
    ``sample_period_us`` up to the current time. None: only samples added with ``add_samples``."""
    memory_used_bytes: int = 20 * 2**30
    memory_total_bytes: int = 80 * 2**30
    power_watts: float = 350.0
    temperature_celsius: float = 62.0
    sm_clock_mhz: float = 1980.0
    clocks_reasons: int = 0
    """NVML clocks-event bit mask (``exporter.gpu.snapshot.CLOCKS_EVENT_REASONS``)."""
    pids: tuple[int, ...] = ()
    sample_period_us: int = 166_667
    samples: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=SAMPLE_BUFFER_SIZE))
    faults: _Faults = field(default_factory=_Faults)
    missing: set[str] = field(default_factory=set)
    """Methods absent from this "pynvml" (raise AttributeError, like an old nvidia-ml-py)."""
    _last_generated_us: int | None = None

    def add_samples(self, samples: Iterable[tuple[int, float]]) -> None:
        """Append ``(timestamp_us, percent)`` samples to the fake ring buffer."""
        self.samples.extend(samples)

    def fail(self, method: str, error: BaseException, *, times: int | None = None) -> None:
        """Make ``method`` (a ``DeviceLayer`` method name) raise ``error`` ``times`` times (None: until cleared)."""
        self.faults.set(method, error, times)

    def clear(self, method: str | None = None) -> None:
        """Remove the fault of ``method`` (or all)."""
        self.faults.clear(method)


class FakeDeviceLayer:
    """``DeviceLayer`` over ``FakeGpu`` objects; thread-safe so a demo can script it while a sampler polls."""

    def __init__(
        self,
        gpus: Sequence[FakeGpu] | int = 1,
        *,
        driver_version: str = "550.54.15",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.gpus: list[FakeGpu] = (
            [FakeGpu(uuid=f"GPU-00000000-0000-0000-0000-{i:012d}") for i in range(gpus)]
            if isinstance(gpus, int)
            else list(gpus)
        )
        self.driver = driver_version
        self.clock = clock
        self.faults = _Faults()
        self.missing: set[str] = set()
        self.calls: Counter[tuple[int | None, str]] = Counter()
        """Calls made, keyed by (GPU index or None for layer-wide calls, method name)."""
        self.initialized = False
        self._lock = threading.Lock()
        self._hanging: set[str] = set()
        self._released = threading.Event()

    def fail(self, method: str, error: BaseException, *, times: int | None = None) -> None:
        """Make a layer-wide call (``init``, ``device_count``, ``driver_version``, …) raise ``error``."""
        with self._lock:
            self.faults.set(method, error, times)

    def clear(self, method: str | None = None) -> None:
        """Remove a layer-wide fault (or all)."""
        with self._lock:
            self.faults.clear(method)

    def hang(self, method: str) -> None:
        """Make calls of ``method`` block (as a call into a stuck driver does) until ``release()``."""
        self._released.clear()
        self._hanging.add(method)

    @property
    def hanging(self) -> bool:
        """Whether calls made to hang still block (``hang`` without ``release`` yet)."""
        return not self._released.is_set()

    def release(self) -> None:
        """Let hanging calls return (and new ones pass)."""
        self._hanging.clear()
        self._released.set()

    def _enter(self, method: str, gpu: FakeGpu | None = None) -> None:
        index = None if gpu is None else next(i for i, g in enumerate(self.gpus) if g is gpu)
        self.calls[(index, method)] += 1
        if method in self.missing or (gpu is not None and method in gpu.missing):
            raise AttributeError(f"module 'pynvml' has no attribute for {method}")
        self.faults.check(method)
        if gpu is not None:
            gpu.faults.check(method)
        if method not in ("init", "shutdown") and not self.initialized:
            raise nvml_error("Uninitialized")

    def _call(self, method: str, gpu: FakeGpu | None, get: Callable[[], Any]) -> Any:
        if method in self._hanging:
            self._released.wait()
        with self._lock:
            self._enter(method, gpu)
            return get()

    def init(self) -> None:
        def go() -> None:
            self.initialized = True

        self._call("init", None, go)

    def shutdown(self) -> None:
        def go() -> None:
            self.initialized = False

        self._call("shutdown", None, go)

    def device_count(self) -> int:
        return self._call("device_count", None, lambda: len(self.gpus))

    def handle(self, index: int) -> FakeGpu:
        def go() -> FakeGpu:
            if not 0 <= index < len(self.gpus):
                raise nvml_error("InvalidArgument")
            return self.gpus[index]

        return self._call("handle", None, go)

    def uuid(self, handle: FakeGpu) -> str:
        return self._call("uuid", handle, lambda: handle.uuid)

    def name(self, handle: FakeGpu) -> str:
        return self._call("name", handle, lambda: handle.name)

    def driver_version(self) -> str:
        return self._call("driver_version", None, lambda: self.driver)

    def _generate(self, gpu: FakeGpu) -> None:
        source = gpu.utilization_percent
        if source is None:
            return
        now_us = int(self.clock() * 1e6)
        ts = gpu._last_generated_us
        if ts is None:
            ts = now_us - gpu.sample_period_us
        while ts + gpu.sample_period_us <= now_us:
            ts += gpu.sample_period_us
            value = source(ts / 1e6) if callable(source) else source
            gpu.samples.append((ts, float(value)))
        gpu._last_generated_us = ts

    def utilization_samples(self, handle: FakeGpu, last_seen_us: int) -> list[tuple[int, float]]:
        def go() -> list[tuple[int, float]]:
            self._generate(handle)
            newer = [s for s in handle.samples if s[0] > last_seen_us]
            if not newer:
                raise nvml_error("NotFound")
            return newer

        return self._call("utilization_samples", handle, go)

    def utilization_rate(self, handle: FakeGpu) -> float:
        def go() -> float:
            self._generate(handle)
            source = handle.utilization_percent
            if callable(source):
                return float(source(self.clock()))
            if source is not None:
                return float(source)
            return handle.samples[-1][1] if handle.samples else 0.0

        return self._call("utilization_rate", handle, go)

    def memory(self, handle: FakeGpu) -> tuple[int, int]:
        return self._call("memory", handle, lambda: (handle.memory_used_bytes, handle.memory_total_bytes))

    def power_watts(self, handle: FakeGpu) -> float:
        return self._call("power_watts", handle, lambda: handle.power_watts)

    def temperature_celsius(self, handle: FakeGpu) -> float:
        return self._call("temperature_celsius", handle, lambda: handle.temperature_celsius)

    def sm_clock_hertz(self, handle: FakeGpu) -> float:
        return self._call("sm_clock_hertz", handle, lambda: handle.sm_clock_mhz * 1e6)

    def clocks_event_reasons(self, handle: FakeGpu) -> int:
        return self._call("clocks_event_reasons", handle, lambda: handle.clocks_reasons)

    def clocks_throttle_reasons(self, handle: FakeGpu) -> int:
        return self._call("clocks_throttle_reasons", handle, lambda: handle.clocks_reasons)

    def compute_pids(self, handle: FakeGpu) -> tuple[int, ...]:
        return self._call("compute_pids", handle, lambda: tuple(handle.pids))
