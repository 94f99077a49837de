"""Scrape latency: ``/metrics`` p50/p99 with 8 fake GPUs and 4 runs (target p99 < 5 ms).

    python benchmarks/scrape.py [--scrapes 2000] [--gpus 8] [--runs 4]

The sidecar runs in its own process (``benchmarks/_sidecar.py``: ``build_sidecar`` as ``serve`` wires it, with
``FakeDeviceLayer`` GPUs polled every second) following ``--runs`` nanoGPT logs it has caught up on; this
process scrapes it over one keep-alive HTTP/1.1 connection, as Prometheus does, one request at a time.
Baselines measured in the same run, on the same machine and client:

- ``/healthz`` of the same sidecar: the HTTP stack alone (no metric is rendered);
- a bare ``prometheus_client`` registry with one gauge behind the same ``ExporterServer``, in its own process:
  the cost of the server plus ``generate_latest`` on an (almost) empty registry.

Also shown: the response size, and the sidecar's CPU time per scrape (from ``/proc/PID/stat``).
``--profile`` instead builds the same sidecar in this
process and runs ``generate_latest`` on its registry ``--scrapes`` times under cProfile (no HTTP).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

TARGET_P99_MS = 5.0

BARE_SERVER = """
import sys, signal, threading
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from exporter.http import ExporterServer
registry = CollectorRegistry()
Gauge("bench_value", "One gauge.", registry=registry).set(1)
server = ExporterServer(metrics=lambda: generate_latest(registry), runs=lambda: [], gpu=lambda: None, healthy=lambda: True,
                        host="127.0.0.1", port=int(sys.argv[1]))
server.start()
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
stop.wait()
server.stop()
"""


class _Bare(_common.Sidecar):
    """The one-gauge registry behind ``ExporterServer``, driven like the sidecar."""

    def __init__(self) -> None:
        super().__init__({}, gpus=0)
        self.cmd = [sys.executable, "-c", BARE_SERVER, str(self.port)]


def measure(target: _common.Sidecar, path: str, scrapes: int) -> dict[str, float]:
    """Latencies (ms) of ``scrapes`` sequential GETs after 50 warm-up ones, and the server's CPU per request."""
    for _ in range(50):
        target.get(path)
    latencies = []
    size = 0
    cpu_before = _common.proc_cpu_seconds(target.pid)
    for _ in range(scrapes):
        start = time.perf_counter()
        body = target.get(path)
        latencies.append((time.perf_counter() - start) * 1000)
        size = len(body)
    cpu = _common.proc_cpu_seconds(target.pid) - cpu_before
    latencies.sort()
    return {
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "max": latencies[-1],
        "bytes": size,
        "cpu_ms": cpu * 1000 / scrapes,
    }


def run_all(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    path = _common.nanogpt_log(args.lines)
    records = _common.count_records(path)
    logs = {f"run{i}": path for i in range(args.runs)}
    results: dict[str, dict[str, float]] = {}
    with _common.Sidecar(logs, gpus=args.gpus) as sidecar:
        sidecar.wait_ready()
        for run in logs:
            sidecar.wait_records(run, records, timeout=300)
        time.sleep(2.0)  # a GPU poll or two, so the GPU series are there
        gpus = sidecar.get("/metrics").decode().count("training_gpu_utilization_ratio{")
        results[f"ours: /metrics ({gpus} GPUs, {args.runs} runs)"] = measure(sidecar, "/metrics", args.scrapes)
        results["baseline: /healthz, same sidecar"] = measure(sidecar, "/healthz", args.scrapes)
    with _Bare() as bare:
        bare.wait_ready()
        results["baseline: 1-gauge registry"] = measure(bare, "/metrics", args.scrapes)
    return results


def profile(args: argparse.Namespace) -> None:
    """cProfile of rendering /metrics (``generate_latest``) for the same sidecar, built in this process."""
    import cProfile
    import pstats

    from prometheus_client import generate_latest

    from exporter.commands.serve import build_sidecar
    from exporter.config import ListenAddress, RunConfig, Settings
    from exporter.gpu.fake import FakeDeviceLayer
    from exporter.gpu.sampler import GpuSelection

    path = _common.nanogpt_log(args.lines)
    runs = tuple(RunConfig(run=f"run{i}", log=str(path)) for i in range(args.runs))
    config = Settings(runs=runs, listen=ListenAddress("127.0.0.1", 0), gpu=GpuSelection())
    sidecar = build_sidecar(config, gpu_layer=FakeDeviceLayer(args.gpus))
    sidecar.runtime.start()
    records = _common.count_records(path)
    while any(state.records_read < records for state in sidecar.runtime.runs()) or not sidecar.runtime.gpu_snapshots():
        time.sleep(0.2)
    registry = sidecar.server.registry
    start = time.perf_counter()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.scrapes):
        generate_latest(registry)
    profiler.disable()
    print(f"{args.scrapes} x generate_latest: {(time.perf_counter() - start) * 1000 / args.scrapes:.2f} ms each "
          "under cProfile")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    sidecar.runtime.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scrapes", type=int, default=2000)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--lines", type=int, default=5000, help="progress lines of each run's log")
    parser.add_argument("--profile", action="store_true", help="cProfile generate_latest in-process instead")
    args = parser.parse_args()
    if args.profile:
        profile(args)
        return 0

    print(f"load average before: {_common.load_average()} ({os.cpu_count()} CPUs)")
    print(f"{args.scrapes} sequential scrapes per row over one keep-alive connection")
    print(f"{'target':48} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'bytes':>7} {'CPU ms/req':>10}"
          f" {'ours/this p50':>13} {'ours/this p99':>13}")
    results = run_all(args)
    ours = next(iter(results.values()))
    for name, r in results.items():
        print(f"{name:48} {r['p50']:8.2f} {r['p99']:8.2f} {r['max']:8.2f} {r['bytes']:7.0f} {r['cpu_ms']:10.2f}"
              f" {ours['p50'] / r['p50']:13.2f} {ours['p99'] / r['p99']:13.2f}")
    verdict = "meets" if ours["p99"] < TARGET_P99_MS else "MISSES"
    print(f"  -> /metrics p99 {ours['p99']:.2f} ms {verdict} the {TARGET_P99_MS:g} ms target")
    print(f"load average after: {_common.load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
