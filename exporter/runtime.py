"""The sidecar's background loops: one thread per run (``exporter.worker.RunWorker``) and the GPU sampler's.

Scrapes and the HTML page only read the snapshots the workers publish (``exporter.state``) under a lock, so a slow
disk or a hung NVML call never makes ``/metrics`` slow or wrong.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from exporter.gpu.snapshot import GpuSnapshot
from exporter.seams import GpuSamplerLike
from exporter.state import GpuState, RunState
from exporter.worker import RunConfig, RunWorker

__all__ = ["RunConfig", "RunWorker", "Runtime"]


class Runtime:
    """Owns the run workers and the GPU sampler; the collector and the HTTP page read from it."""

    def __init__(
        self,
        workers: Sequence[RunWorker],
        *,
        gpu_sampler: GpuSamplerLike | None = None,
        poll_seconds: float = 0.25,
    ) -> None:
        self.workers = list(workers)
        self.gpu_sampler = gpu_sampler
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the GPU sampler and one thread per run; the first poll happens at once."""
        if self.gpu_sampler is not None:
            self.gpu_sampler.start()
        for worker in self.workers:
            thread = threading.Thread(target=self._loop, args=(worker,), name=f"run-{worker.run.run}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _loop(self, worker: RunWorker) -> None:
        while True:
            started = time.monotonic()
            worker.step()
            # Catching up: the next bounded read at once (no sleep), so history is read at full speed.
            wait = 0.0 if worker.behind else max(0.0, self.poll_seconds - (time.monotonic() - started))
            if self._stop.wait(wait):
                break

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        for worker in self.workers:
            worker.close()
        if self.gpu_sampler is not None:
            self.gpu_sampler.stop()

    def alive(self) -> bool:
        """All run threads are running (for /healthz)."""
        return bool(self._threads) and all(thread.is_alive() for thread in self._threads)

    def runs(self) -> list[RunState]:
        return [worker.state() for worker in self.workers]

    def gpu(self) -> GpuState | None:
        """GPU collector state, or None when GPU reporting is disabled."""
        sampler = self.gpu_sampler
        if sampler is None:
            return None
        return GpuState(
            up=sampler.up,
            last_success_timestamp_seconds=sampler.last_success_timestamp or None,
            snapshots=tuple(sampler.snapshots()),
            errors=dict(sampler.errors),
            down_reason=sampler.down_reason,
            utilization_history=sampler.utilization_history(),
        )

    def gpu_snapshots(self) -> tuple[GpuSnapshot, ...]:
        """Current GPU snapshots for the diagnosis (empty when disabled or down)."""
        if self.gpu_sampler is None:
            return ()
        return tuple(self.gpu_sampler.snapshots())
