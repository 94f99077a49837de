"""Background NVML sampler: keeps the latest ``GpuSnapshot`` of each selected GPU, never raises.

Collection happens here, in its own thread, so a scrape only reads cached values. Failure policy:

- no ``pynvml``, no library, no driver, no GPU: reported down, ONE warning logged, init retried with a slow
  exponential backoff in case the driver appears (container started before the driver, driver upgrade);
- ``NotSupported`` / ``NoPermission`` / ``FunctionNotFound`` on a field: that field is None (its series is
  omitted, never NaN or a sentinel) and the field is not asked again for that device;
- ``GpuIsLost``, ``Unknown`` and other device errors: the GPU's snapshot is dropped (stale values must not be
  served as healthy) and the GPU is retried with a capped exponential backoff;
- driver-wide errors (``DriverNotLoaded``, ``Uninitialized``, ``LibRmVersionMismatch``): NVML is shut down and
  re-initialised with the init backoff (handles do not survive a driver reload).

Every error is counted by kind (the ``pynvml.NVMLError_<Kind>`` suffix) for ``training_exporter_nvml_errors_total``.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from exporter.gpu.device import Device, DeviceChanged, DeviceReader
from exporter.gpu.errors import DRIVER_ERROR_KINDS, UNEXPECTED_KIND, backoff, error_kind
from exporter.gpu.nvml import DeviceLayer, NvmlLayer
from exporter.gpu.selection import GpuSelection, proc_parent_pid
from exporter.gpu.snapshot import GpuSnapshot

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 1.0
"""NVML poll period; utilization samples are kept between polls, so a longer period loses no dips."""

HANG_MIN_SECONDS = 5.0
"""A poll running longer than max(this, 5 polls) is hung: the GPU collector reads down and its series absent."""
STOP_SECONDS = 2.0
"""The longest ``stop()`` waits for a poll in progress (a hung NVML call never returns)."""

HISTORY_POLLS = 900
"""GPU utilisation polls kept for the status page's plot (15 minutes at the default 1 s)."""

UTILIZATION_WINDOW_SECONDS = 60.0
"""Span of the windowed utilization mean/min: the same ~60 s the estimator uses for the current pace, so the
diagnosis compares GPU activity and pace over the same stretch of time instead of one noisy poll."""

INIT_RETRY_INITIAL_SECONDS = 10.0
INIT_RETRY_MAX_SECONDS = 300.0
"""Init backoff: a missing driver seldom appears within seconds; 5 minutes at most bounds the delay after a
driver install or container restart while keeping log noise and library probing rare."""

DEVICE_RETRY_INITIAL_SECONDS = 2.0
DEVICE_RETRY_MAX_SECONDS = 60.0
"""Per-GPU backoff after a device error: calls on a lost GPU can block in the driver, so the loop must not
spend every poll on it; 60 s at most so a GPU back after a reset shows within a minute."""

class GpuSampler:
    """Polls NVML (or any ``DeviceLayer``) and keeps the latest snapshots; reads are thread-safe."""

    def __init__(
        self,
        *,
        layer: DeviceLayer | None = None,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.time,
        select: GpuSelection | str = "all",
        window_seconds: float = UTILIZATION_WINDOW_SECONDS,
        parent_pid: Callable[[int], int | None] = proc_parent_pid,
        hang_seconds: float | None = None,
    ) -> None:
        if interval_seconds <= 0:
            raise ValueError(f"interval_seconds must be > 0, got {interval_seconds}")
        self._layer: DeviceLayer = layer if layer is not None else NvmlLayer()
        self.interval_seconds = interval_seconds
        self._clock = clock
        self.selection = select if isinstance(select, GpuSelection) else GpuSelection.parse(select)
        self._window_seconds = window_seconds
        self._parent_pid = parent_pid
        self._reader = DeviceReader(self._layer, self._count, window_seconds)

        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._snapshots: list[GpuSnapshot] = []
        self._up = False
        self._last_success: float | None = None
        self._errors: dict[str, int] = {}
        self._down_reason: str | None = "not polled yet"
        self._driver_version = ""

        self._initialized = False
        self._init_failures = 0
        self._init_retry_at = float("-inf")
        self._down_warned = False
        self._warned_selection: set[str] = set()
        self._devices: list[Device] = []

        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._history: deque[tuple[float, float]] = deque(maxlen=HISTORY_POLLS)
        self._hang_seconds = hang_seconds if hang_seconds is not None else max(HANG_MIN_SECONDS, 5 * interval_seconds)
        self._poll_started: float | None = None
        """``time.monotonic()`` when the running poll began (None between polls): the watchdog's clock."""
        self._hang_warned = False

    # -- reads (any thread) -------------------------------------------------------------------------------

    def snapshots(self) -> list[GpuSnapshot]:
        """Latest snapshot of each selected, healthy GPU (a failing GPU is absent, never stale; while a poll
        hangs in NVML, none: the last values would be stale)."""
        with self._lock:
            return [] if self._hung() else list(self._snapshots)

    @property
    def up(self) -> bool:
        """True when the last poll read every selected GPU and no poll hangs in NVML."""
        with self._lock:
            return self._up and not self._hung()

    def _hung(self) -> bool:
        """A poll has run past its deadline (an NVML call that does not return: a lost GPU, a stuck driver)."""
        started = self._poll_started
        if started is None or time.monotonic() - started <= self._hang_seconds:
            return False
        if not self._hang_warned:
            self._hang_warned = True
            logger.warning("GPU sampler: an NVML call has not returned for %.0f s; GPU series are absent until it "
                           "does", self._hang_seconds)
        return True

    @property
    def last_success_timestamp(self) -> float | None:
        """Clock time of the last poll that was up."""
        with self._lock:
            return self._last_success

    @property
    def errors(self) -> dict[str, int]:
        """NVML errors counted by kind since start (monotonic counters)."""
        with self._lock:
            return dict(self._errors)

    @property
    def down_reason(self) -> str | None:
        """Why the sampler is down (for the human page), None when up."""
        with self._lock:
            if self._hung():
                return f"an NVML call has not returned for over {self._hang_seconds:.0f} s"
            return self._down_reason

    @property
    def driver_version(self) -> str:
        with self._lock:
            return self._driver_version

    # -- thread -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Poll every ``interval_seconds`` in a daemon thread (a hung NVML call must not block exit)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="gpu-sampler", daemon=True)
        self._thread.start()

    def stop(self, *, timeout: float = STOP_SECONDS) -> None:
        """Stop the thread and shut NVML down, waiting at most ``timeout`` for a poll in progress: a hung NVML call
        must not hold the process past a Kubernetes grace period (the thread is a daemon; it dies with it)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._poll_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            try:
                if self._initialized:
                    self._shutdown_layer()
            finally:
                self._poll_lock.release()
        else:
            logger.warning("GPU sampler: a hung NVML call kept it from shutting down NVML; exiting anyway")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.interval_seconds)

    # -- polling ------------------------------------------------------------------------------------------

    def poll_once(self) -> None:
        """One poll: (re)initialise if due, read every selected GPU, publish. Never raises."""
        with self._poll_lock:
            self._poll_started = time.monotonic()
            try:
                self._poll(self._clock())
            except Exception as exc:  # noqa: BLE001 - the sampler must survive its own bugs; counted and logged
                self._count(UNEXPECTED_KIND)
                logger.exception("GPU sampler: unexpected error: %s", exc)
                self._publish([], up=False, now=None, reason=f"unexpected error: {exc}")
            finally:
                self._poll_started = None
                if self._hang_warned:
                    self._hang_warned = False
                    logger.info("GPU sampler: NVML answers again")

    def _poll(self, now: float) -> None:
        if not self._initialized:
            if now < self._init_retry_at or not self._try_init(now):
                return
        snapshots: list[GpuSnapshot] = []
        healthy = True
        for dev in self._devices:
            if dev.failures and now < dev.retry_at:
                healthy = False
                continue
            try:
                if dev.failures:
                    self._reader.refresh_handle(dev)
                snap = self._reader.read(dev, now, self.driver_version)
            except DeviceChanged as exc:
                logger.info("%s; re-enumerating GPUs", exc)
                self._shutdown_layer()
                self._init_retry_at = now
                self._publish([], up=False, now=None, reason=str(exc))
                return
            except Exception as exc:  # noqa: BLE001 - classified below; NVML raises many error classes
                kind = error_kind(exc)
                self._count(kind)
                if kind in DRIVER_ERROR_KINDS:
                    self._lose_driver(now, f"{kind}: {exc}")
                    return
                self._device_failed(dev, now, kind, exc)
                healthy = False
                continue
            if dev.failures:
                logger.info("GPU %d (%s) readable again after %d failed polls", dev.index, dev.uuid, dev.failures)
                dev.failures = 0
            if self._wanted_by_pid(dev, snap):
                snapshots.append(snap)
        self._publish(snapshots, up=healthy, now=now, reason=None if healthy else "some GPUs are failing")

    def _publish(self, snapshots: list[GpuSnapshot], *, up: bool, now: float | None, reason: str | None) -> None:
        with self._lock:
            self._snapshots = snapshots
            self._up = up
            self._down_reason = reason
            if up and now is not None:
                self._last_success = now
            busy = [s.utilization_ratio for s in snapshots if s.utilization_ratio is not None]
            if now is not None and busy:
                self._history.append((now, sum(busy) / len(busy)))

    def utilization_history(self) -> tuple[tuple[float, float], ...]:
        """(time, mean busy ratio over the GPUs) per poll, the last ``HISTORY_POLLS`` polls (for the page)."""
        with self._lock:
            return tuple(self._history)

    def _count(self, kind: str) -> None:
        with self._lock:
            self._errors[kind] = self._errors.get(kind, 0) + 1

    def _went_down(self, now: float, reason: str) -> None:
        self._init_failures += 1
        delay = backoff(self._init_failures, INIT_RETRY_INITIAL_SECONDS, INIT_RETRY_MAX_SECONDS)
        self._init_retry_at = now + delay
        self._publish([], up=False, now=None, reason=reason)
        if not self._down_warned:
            self._down_warned = True
            logger.warning(
                "GPU metrics unavailable (%s); log metrics continue; retrying NVML with backoff up to %.0f s",
                reason,
                INIT_RETRY_MAX_SECONDS,
            )
        else:
            logger.debug("GPU metrics still unavailable (%s); next try in %.0f s", reason, delay)

    def _shutdown_layer(self) -> None:
        self._initialized = False
        self._devices = []
        try:
            self._layer.shutdown()
        except Exception as exc:  # noqa: BLE001 - shutting down a broken driver may fail; nothing to do about it
            logger.debug("NVML shutdown failed: %s", exc)

    def _lose_driver(self, now: float, reason: str) -> None:
        self._shutdown_layer()
        self._went_down(now, reason)

    def _try_init(self, now: float) -> bool:
        layer = self._layer
        try:
            layer.init()
        except Exception as exc:  # noqa: BLE001 - ImportError, OSError-derived or NVMLError: all mean "no NVML"
            kind = error_kind(exc)
            self._count(kind)
            self._went_down(now, f"{kind}: {exc}")
            return False
        try:
            driver = self._reader.optional(lambda: layer.driver_version(), default="")
            count = layer.device_count()
            devices = []
            for index in range(count):
                handle = layer.handle(index)
                uuid = self._reader.optional(functools.partial(layer.uuid, handle), default="")
                name = self._reader.optional(functools.partial(layer.name, handle), default="")
                devices.append(Device(index=index, uuid=uuid, name=name, handle=handle))
        except Exception as exc:  # noqa: BLE001 - any failure while enumerating leaves NVML unusable for now
            kind = error_kind(exc)
            self._count(kind)
            self._lose_driver(now, f"{kind}: {exc}")
            return False
        if count == 0:
            self._lose_driver(now, "no NVIDIA GPU found")
            return False
        selected = self._select(devices)
        if not selected:
            self._lose_driver(now, f"none of the selected GPUs ({self.selection}) exist")
            return False
        self._devices = selected
        self._initialized = True
        self._init_failures = 0
        with self._lock:
            self._driver_version = driver
        if self._down_warned:
            self._down_warned = False
            logger.info("GPU metrics available: %d GPU(s), driver %s", len(selected), driver or "?")
        return True

    def _select(self, devices: list[Device]) -> list[Device]:
        wanted = self.selection.devices
        if not wanted:
            return devices
        chosen: list[Device] = []
        missing: list[str] = []
        for item in wanted:
            match = [d for d in devices if (d.index == item if isinstance(item, int) else d.uuid == item)]
            if not match:
                missing.append(str(item))
            chosen.extend(d for d in match if d not in chosen)
        # With nothing selected the "unavailable" warning names the selection; do not add one per item.
        for item in missing if chosen else ():
            if item not in self._warned_selection:
                self._warned_selection.add(item)
                logger.warning("selected GPU %s not found (have %d GPU(s)); ignoring it", item, len(devices))
        return sorted(chosen, key=lambda d: d.index)

    def _wanted_by_pid(self, dev: Device, snap: GpuSnapshot) -> bool:
        target = self.selection.pid
        if target is None:
            return True
        if "compute_pids" in dev.unsupported and f"pids:{dev.uuid}" not in self._warned_selection:
            self._warned_selection.add(f"pids:{dev.uuid}")
            logger.warning(
                "GPU %d cannot list its processes; it is left out of the selection %s", dev.index, self.selection
            )
        for pid in snap.pids:
            # Walk up from each GPU process: torchrun/accelerate launchers own the GPU processes as children.
            seen = 0
            current: int | None = pid
            while current is not None and current > 1 and seen < 64:
                if current == target:
                    return True
                current = self._parent_pid(current)
                seen += 1
        return False

    def _device_failed(self, dev: Device, now: float, kind: str, exc: BaseException) -> None:
        dev.failures += 1
        dev.retry_at = now + backoff(dev.failures, DEVICE_RETRY_INITIAL_SECONDS, DEVICE_RETRY_MAX_SECONDS)
        if dev.failures == 1:
            logger.warning(
                "GPU %d (%s): %s (%s); its metrics are dropped and it is retried with backoff",
                dev.index,
                dev.uuid,
                kind,
                exc,
            )
