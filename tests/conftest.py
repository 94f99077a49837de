"""Shared test helpers: the injected clock (tests step time, they never sleep for it) and a live sidecar on a real log."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exporter.commands.serve import Sidecar

DATA = Path(__file__).parent / "data"


class Clock:
    """Injected time: tests advance it instead of sleeping."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += seconds


def half_real_log_sidecar(log: Path, *, gpus: int) -> tuple[Sidecar, bytes]:
    """A started sidecar (fake GPUs, fast polls) following ``log``, which holds the real nanoGPT log up to
    ``iter 1500:``; returns it with the rest of that log, for the test to append."""
    from exporter.commands.serve import build_sidecar
    from exporter.config import Config, ListenAddress, RunConfig
    from exporter.gpu.fake import FakeDeviceLayer

    data = (DATA / "real_ng_perturbed.log").read_bytes()
    half = data.index(b"iter 1500:")
    log.write_bytes(data[:half])
    config = Config(runs=(RunConfig("gpt", str(log)),), listen=ListenAddress("127.0.0.1", 0), log_poll_seconds=0.05,
                    gpu_poll_seconds=0.05)
    sidecar = build_sidecar(config, gpu_layer=FakeDeviceLayer(gpus))
    sidecar.start()
    return sidecar, data[half:]
