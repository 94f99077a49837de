"""Restart without catch-up: the sidecar killed (SIGKILL) and restarted beside a long log that keeps growing.

    python benchmarks/restart.py [--mb 200]

1. A nanoGPT log of ``--mb`` MB (generated once under $BENCH_CACHE, copied so it can grow) and a writer that
   appends one progress line every 80 ms (the pace the history prints: the same run going on) for the whole
   benchmark.
2. ``serve --state.directory DIR`` starts with no state file: the time until its ``training_iteration`` reaches
   the writer's is the full catch-up (what every restart costs without a state file).
3. Once caught up (and a save later), SIGKILL; 2 s later (the writer goes on) the same command again. Measured
   from the new process's start: the first ``/metrics`` answer, and the first answer caught up with the writer.
   The restarted figures are compared (pace, ETA within 1 %) with those of a witness: the same command with its own
   state directory, started with the first and never killed, scraped right after it (the run's live pace moves by
   itself: the last figures before the kill are printed too, but a comparison with them measures that as well).
4. The writer stops; when the sidecar has read everything, ``training_exporter_records_read_total`` must equal the
   records in the file: none lost, none counted twice.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

BYTES_PER_LINE = 50


class Writer:
    """Appends nanoGPT progress lines to ``path`` every ``interval`` seconds, from ``start`` on."""

    def __init__(self, path: Path, start: int, interval: float = 0.08) -> None:
        self.path, self.iteration, self.interval = path, start, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with open(self.path, "a", buffering=1) as out:
            last = time.monotonic()
            while not self._stop.wait(self.interval):
                # The printed time is the time since the previous line, measured as nanoGPT measures it, so it is
                # the writer's real pace on a loaded machine too (lines read as history after a restart have no
                # arrival time: their pace comes from it).
                now = time.monotonic()
                out.write(f"iter {self.iteration}: loss 1.2345, time {(now - last) * 1000:.2f}ms, mfu 30.00%\n")
                last = now
                self.iteration += 1

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def scrape(port: int) -> dict[str, float] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return None
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("run") == "bench" and len(sample.labels) == 1:
                out[sample.name] = sample.value
    return out


def serve(log: Path, state: Path, port: int, total: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "exporter", "serve", "--log", f"bench={log}", "--web.listen-address",
         f"127.0.0.1:{port}", "--gpu.devices", "none", "--total-iterations", str(total),
         "--state.directory", str(state), "--log.level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def wait_until(port: int, ok, timeout: float) -> tuple[float | None, dict[str, float] | None]:  # noqa: ANN001
    """Seconds until a scrape satisfies ``ok`` (None past ``timeout``), and that scrape."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        got = scrape(port)
        if got is not None and ok(got):
            return time.perf_counter() - start, got
        time.sleep(0.02)
    return None, None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=200, help="log size in MB (the issue's figure: 1024)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed for the full catch-up")
    args = parser.parse_args()

    lines = args.mb * 1_000_000 // BYTES_PER_LINE
    source = _common.nanogpt_log(lines)
    work = Path(tempfile.mkdtemp(prefix="restart-bench-"))
    log, state = work / "train.log", work / "state"
    shutil.copyfile(source, log)
    total = lines * 10
    print(f"log {log.stat().st_size / 1e6:.0f} MB, {lines} progress lines, growing by 12.5 lines/s; "
          f"load average before: {_common.load_average()}")
    writer = Writer(log, lines)
    writer.start()
    port, witness_port = _common.free_port(), _common.free_port()
    first = serve(log, state, port, total)
    witness = serve(log, work / "witness-state", witness_port, total)
    try:
        catchup, _ = wait_until(port, lambda m: m.get("training_iteration", -1) >= writer.iteration - 5, args.timeout)
        if catchup is None:
            print(f"no catch-up within {args.timeout:.0f} s")
            return 1
        print(f"without a state file: full catch-up in {catchup:.1f} s ({lines / catchup:,.0f} records/s; the "
              "witness catching up beside it on the other core)")
        wait_until(witness_port, lambda m: m.get("training_iteration", -1) >= writer.iteration - 5, args.timeout)
        time.sleep(7)  # one save after catching up (every 5 s)
        before = scrape(port) or {}
        first.send_signal(signal.SIGKILL)
        first.wait()
        time.sleep(2)
        killed_at = writer.iteration
        second = serve(log, state, port, total)
        try:
            answer, got = wait_until(port, lambda m: "training_iteration" in m, 30)
            caught, _ = wait_until(port, lambda m: m.get("training_iteration", -1) >= killed_at, 30)
            def seconds(value: float | None) -> str:
                return "not within 30 s" if value is None else f"{value:.2f} s"

            print(f"with the state file (after SIGKILL): first /metrics {seconds(answer)} after the restart, "
                  f"iteration {int((got or {}).get('training_iteration', -1))}; caught up with the writer "
                  f"(iteration >= {killed_at}) {seconds(caught)} after it")
            now, seen = scrape(port) or {}, scrape(witness_port) or {}
            for name in ("training_iteration", "training_seconds_per_iteration", "training_eta_seconds"):
                a, b, w = before.get(name), now.get(name), seen.get(name)
                if a and b and w:
                    print(f"  {name}: {b:.6g} restarted vs {w:.6g} the witness (ratio {b / w:.3f}); "
                          f"{a:.6g} before the kill")
            writer.stop()
            expected = _common.count_records(log)
            settled, final = wait_until(
                port, lambda m: m.get("training_exporter_records_read_total", 0) >= expected, 60)
            time.sleep(1)
            final = scrape(port) or final or {}
            read = int(final.get("training_exporter_records_read_total", -1))
            print(f"records in the file {expected}, read {read}: lost {max(0, expected - read)}, "
                  f"counted twice {max(0, read - expected)}; restarts seen "
                  f"{int(final.get('training_run_restarts_total', -1))}")
        finally:
            second.terminate()
            second.wait(10)
    finally:
        witness.terminate()
        witness.wait(10)
        if first.poll() is None:
            first.kill()
        if writer._thread.is_alive():
            writer.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average after: {_common.load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
