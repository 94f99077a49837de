"""Failure isolation and bounded resources, measured: what a hostile environment costs the sidecar.

Prints one row per check, each against its baseline in the same run:

- records lost or duplicated while a writer rotates the log (rename + create, copytruncate, truncate and regrow);
- RSS after 100 files appeared and vanished under a glob (against the RSS after the first one);
- RSS while 100 clients send requests with ~5 MB of headers at once (against the idle server);
- p50/p99 latency of 200 simultaneous scrapes;
- how long ``stop()`` takes while an NVML call hangs.

In-process (one Python), ~20 s: ``python benchmarks/robustness.py``.
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from exporter.config import RunConfig  # noqa: E402
from exporter.estimate import Estimator  # noqa: E402
from exporter.gpu.fake import FakeDeviceLayer  # noqa: E402
from exporter.gpu.sampler import GpuSampler  # noqa: E402
from exporter.http import ExporterServer  # noqa: E402
from exporter.metrics import make_registry  # noqa: E402
from exporter.runtime import RunWorker  # noqa: E402
from exporter.sources import FileFollower, expand, open_source  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rotation_matrix(folder: Path) -> list[tuple[str, int, int, int]]:
    """(kind, written, lost, duplicated) per rotation kind, the follower stepped between writes."""
    out = []
    for kind in ("rename+create", "copytruncate", "truncate+regrow"):
        path = folder / f"{kind}.log"
        path.write_text("")
        follower = FileFollower(str(path))
        seen: list[str] = []
        written = 0
        for block in range(20):
            with path.open("a") as f:
                for _ in range(100):
                    f.write(f"line {written}\n")
                    written += 1
            seen += [r.text for r in expand(follower.poll())]
            if block % 5 == 4:
                if kind == "rename+create":
                    path.rename(folder / f"{kind}.{block}")
                    path.write_text("")
                elif kind == "copytruncate":
                    seen += [r.text for r in expand(follower.poll())]
                    (folder / f"{kind}.{block}").write_bytes(path.read_bytes())
                    os.truncate(path, 0)
                else:
                    seen += [r.text for r in expand(follower.poll())]
                    os.truncate(path, 0)
        for _ in range(3):
            seen += [r.text for r in expand(follower.poll())]
        follower.close()
        numbers = [int(t.split()[1]) for t in seen if t.startswith("line ")]
        out.append((kind, written, written - len(set(numbers)), len(numbers) - len(set(numbers))))
    return out


def vanished_glob(folder: Path, files: int = 100) -> tuple[float, float]:
    """(RSS after the first file, RSS after ``files`` files came and went), MiB."""
    now = [1_800_000_000.0]
    worker = RunWorker(
        RunConfig("job", str(folder / "run-*.log")),
        clock=lambda: now[0],
        open_source=lambda spec, clock: open_source(spec, clock=clock),
        make_estimator=lambda total_iterations=None, total_epochs=None, clock=None: Estimator(
            total_iterations=total_iterations, total_epochs=total_epochs),
    )
    body = "".join(f"iter {i}: loss 1.5, time 50.00ms, mfu 30.00%\n" for i in range(0, 20000, 10))
    first = 0.0
    for k in range(files):
        path = folder / f"run-{k:04d}.log"
        path.write_text(body)
        now[0] += 1
        worker.step()
        path.unlink()
        now[0] += 1
        worker.step()
        if k == 0:
            first = rss_mib()
    return first, rss_mib()


class _View:
    def runs(self) -> list:
        return []

    def gpu(self) -> None:
        return None


def server() -> ExporterServer:
    view = _View()
    srv = ExporterServer(metrics=make_registry(view).render, runs=view.runs, gpu=view.gpu, healthy=lambda: True,
                         host="127.0.0.1", port=0)
    srv.start()
    return srv


def large_headers(srv: ExporterServer, clients: int = 100) -> float:
    """Peak RSS seen while ``clients`` send ~5 MB of headers each, at once (MiB; the clients share one 5 MB
    buffer in this process, so the figure is the server's plus that buffer and the threads)."""
    pad = b"".join(b"X-Pad-%d: " % i + b"a" * 60_000 + b"\r\n" for i in range(90))
    peak = [rss_mib()]

    def one() -> None:
        try:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as conn:
                conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
                conn.sendall(pad)  # one shared buffer: the clients' own memory stays out of the figure
                conn.sendall(b"\r\n")
                conn.recv(1024)
        except OSError:
            pass
        peak[0] = max(peak[0], rss_mib())

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return max(peak[0], rss_mib())


def scrape_storm(srv: ExporterServer, clients: int = 200) -> tuple[float, float, int]:
    """(p50 ms, p99 ms, failures) of ``clients`` scrapes started at once."""
    times: list[float] = []
    failures = [0]
    go = threading.Event()

    def one() -> None:
        go.wait()
        started = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=15) as conn:
                conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                while conn.recv(65536):
                    pass
            times.append((time.perf_counter() - started) * 1000)
        except OSError:
            failures[0] += 1

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join()
    ordered = sorted(times)
    return statistics.median(ordered), ordered[max(0, int(0.99 * len(ordered)) - 1)], failures[0]


def hung_nvml_stop() -> float:
    """Seconds ``GpuSampler.stop()`` takes while an NVML call hangs."""
    layer = FakeDeviceLayer(1)
    sampler = GpuSampler(layer=layer, interval_seconds=0.05)
    sampler.start()
    time.sleep(0.3)
    layer.hang("utilization_samples")
    time.sleep(0.5)
    started = time.perf_counter()
    sampler.stop()
    took = time.perf_counter() - started
    layer.release()
    return took


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("| check | figure | baseline / bound |\n|---|---|---|")
        for kind, written, lost, dup in rotation_matrix(folder):
            print(f"| rotation: {kind} | {lost} lost, {dup} duplicated of {written} | 0 and 0 |")
        (folder / "glob").mkdir()
        first, after = vanished_glob(folder / "glob")
        print(f"| RSS after 100 vanished glob files | {after:.1f} MiB | {first:.1f} MiB after the first |")
        srv = server()
        try:
            idle = rss_mib()
            peak = large_headers(srv)
            print(f"| RSS under 100 parallel ~5 MB-header requests | {peak:.1f} MiB peak | {idle:.1f} MiB idle |")
            p50, p99, failed = scrape_storm(srv)
            print(f"| 200 simultaneous scrapes | p50 {p50:.1f} ms, p99 {p99:.1f} ms, {failed} failed | - |")
        finally:
            srv.stop()
        print(f"| stop() during a hung NVML call | {hung_nvml_stop():.2f} s | <= 2 s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
