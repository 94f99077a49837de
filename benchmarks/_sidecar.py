"""The real sidecar (``build_sidecar``, as ``serve`` wires it) with N fake GPUs, for the benchmarks.

    python benchmarks/_sidecar.py --log RUN=PATH [--log RUN=PATH ...] [--gpus 8] [--port 0]

``serve`` has no flag that swaps NVML for fake devices, so this harness builds the same ``Sidecar`` with
``gpu_layer=FakeDeviceLayer(N)`` (``--gpus 0``: GPU reporting off). It prints ``URL <base url>`` on stdout once
bound, then serves until SIGTERM/SIGINT. Run in its own process so the benchmarks can measure its CPU and RSS
alone.
"""

from __future__ import annotations

import argparse
import sys

from exporter.commands.serve import build_sidecar, wait_for_signal
from exporter.config import ListenAddress, RunConfig, Settings
from exporter.gpu.fake import FakeDeviceLayer, FakeGpu
from exporter.gpu.sampler import GpuSelection


def _busy(index: int):
    """A utilization curve per GPU (so the sampler has real ring-buffer samples to read)."""
    return lambda now: 80.0 + 15.0 * ((int(now) + index) % 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log", action="append", required=True, metavar="RUN=PATH")
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--gpu-poll", type=float, default=1.0, help="seconds between NVML polls")
    parser.add_argument("--log-poll", type=float, default=0.25, help="seconds between log polls")
    parser.add_argument("--total-iterations", type=int, default=None)
    args = parser.parse_args()

    runs = []
    for spec in args.log:
        name, _, path = spec.partition("=")
        runs.append(RunConfig(run=name, log=path, total_iterations=args.total_iterations))
    layer = None
    if args.gpus:
        gpus = [
            FakeGpu(uuid=f"GPU-be0c0000-0000-4000-8000-{i:012d}", utilization_percent=_busy(i), pids=(1000 + i,))
            for i in range(args.gpus)
        ]
        layer = FakeDeviceLayer(gpus)
    config = Settings(
        runs=tuple(runs),
        listen=ListenAddress("127.0.0.1", args.port),
        gpu=GpuSelection() if args.gpus else None,
        gpu_poll_seconds=args.gpu_poll,
        log_poll_seconds=args.log_poll,
    )
    sidecar = build_sidecar(config, gpu_layer=layer)
    sidecar.start()
    print(f"URL {sidecar.server.url}", flush=True)
    try:
        wait_for_signal()
    finally:
        sidecar.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
