"""Run the sidecar: follow training logs and serve Prometheus metrics, /healthz and a status page.

Every flag has an environment equivalent (TRAINING_ETA_EXPORTER_ + the flag name upper-cased with '.' and '-' as
'_', e.g. TRAINING_ETA_EXPORTER_WEB_LISTEN_ADDRESS) and a key of the same name in --config.file.
Flags win over the environment, which wins over the config file. An invalid setting is reported in one line
and the command exits with status 2 before binding anything.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exporter import config as config_mod
from exporter.config import ConfigError, Settings
from exporter.http import ExporterServer
from exporter.metrics import make_registry
from exporter.runtime import Runtime, RunWorker
from exporter.seams import SourceFactory
from exporter.sources import open_source as default_open_source
from exporter.statefile import StateFile

log = logging.getLogger("exporter.serve")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    config_mod.add_arguments(parser)


def setup_logging(level: str) -> None:
    """Exporter messages go to stderr with a timestamp; stdout stays free for the demo's URLs."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@dataclass
class Sidecar:
    """The running pieces: background loops, their registry and the HTTP server."""

    runtime: Runtime
    server: ExporterServer

    def start(self) -> None:
        """Bind first (fail fast on a taken port), then start reading logs and GPUs."""
        self.server.start()
        self.runtime.start()

    def stop(self) -> None:
        self.server.stop()
        self.runtime.stop()


def build_sidecar(
    config: Settings,
    *,
    clock: Callable[[], float] = time.time,
    gpu_layer: Any | None = None,
    open_source: SourceFactory = default_open_source,
) -> Sidecar:
    """Wire sources, pipelines, estimators, the GPU sampler, the collector and the server from a ``Settings``.

    ``clock`` drives record arrival times, the estimator and the GPU sampler (the demo passes a simulated clock);
    ``gpu_layer`` replaces NVML (tests and the demo pass ``exporter.gpu.fake.FakeDeviceLayer``).
    """
    from exporter.gpu.sampler import GpuSampler

    sampler = None
    if config.gpu is not None:
        sampler = GpuSampler(layer=gpu_layer, interval_seconds=config.gpu_poll_seconds, clock=clock, select=config.gpu)
    gpus = sampler.snapshots if sampler is not None else tuple
    workers = [
        RunWorker(
            run,
            clock=clock,
            open_source=open_source,
            gpus=gpus,
            state_file=StateFile(config.state_directory, run.run, run.log) if config.state_directory else None,
        )
        for run in config.runs
    ]
    runtime = Runtime(workers, gpu_sampler=sampler, poll_seconds=config.log_poll_seconds)
    server = ExporterServer(
        metrics=make_registry(runtime).render,
        runs=runtime.runs,
        gpu=runtime.gpu,
        healthy=runtime.alive,
        host=config.listen.host,
        port=config.listen.port,
        ssl_context=config.tls.context() if config.tls else None,
        authorize=config.basic_auth.allows if config.basic_auth else None,
    )
    return Sidecar(runtime, server)


def wait_for_signal(stop: threading.Event | None = None) -> None:
    """Block until SIGTERM or SIGINT (or ``stop`` is set)."""
    stop = stop or threading.Event()

    def handler(signum: int, frame: Any) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(1.0):
            pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run(args: argparse.Namespace) -> int:
    try:
        config = config_mod.load(args)
    except ConfigError as exc:
        print(f"training-eta-exporter: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level)
    sidecar = build_sidecar(config)
    try:
        sidecar.start()
    except OSError as exc:
        print(f"training-eta-exporter: cannot listen on {config.listen.host}:{config.listen.port}: {exc}", file=sys.stderr)
        return 1
    runs = ", ".join(f"{r.run}={r.log}" for r in config.runs)
    log.info("serving %smetrics (status page %s) following %s", sidecar.server.url, sidecar.server.url, runs)
    try:
        wait_for_signal()
    finally:
        sidecar.stop()
    return 0
