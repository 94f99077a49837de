"""Steady-state cost: CPU seconds per hour following a log at 10 records/s with 1 Hz NVML polling on fake GPUs.

    python benchmarks/steady.py [--seconds 90] [--rate 10] [--gpus 8]

A writer thread in this process appends nanoGPT progress lines (an eval line every 250) to a fresh log at
``--rate`` records/s. Followed at the same time, over the same window and the same file, by:

- ours: the sidecar (``benchmarks/_sidecar.py``: ``build_sidecar`` as ``serve`` wires it) with ``--gpus`` fake
  GPUs polled every second and the log polled every 250 ms (the defaults);
- ours, log only: the same sidecar with GPU reporting off, to split the cost between log and GPU work;
- baseline: ``tail -F`` on the same file (the cheapest follower there is);
- baseline: an idle Python interpreter (what merely existing costs).

Each process's CPU (user + system, ``/proc/PID/stat``) is taken after a 10 s settling period (start-up and the
short history excluded) and again after ``--seconds``; the difference is extrapolated to an hour. Target: < 1%
of a core, 36 CPU-s/hour. The clock tick is 10 ms, so short windows are coarse: the default 90 s resolves ~0.4
CPU-s/hour.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

TARGET_SECONDS_PER_HOUR = 36.0
SETTLE_SECONDS = 10.0


def writer(path: Path, rate: float, stop: threading.Event) -> None:
    """Append one record every 1/rate seconds (on a fixed schedule, so the rate does not drift)."""
    rng = random.Random(3)
    start = time.monotonic()
    i = 0
    with open(path, "a", buffering=1) as out:
        while not stop.is_set():
            if i % 250 == 0:
                out.write(f"step {i}: train loss {2 + rng.random():.4f}, val loss {2 + rng.random():.4f}\n")
            out.write(f"iter {i}: loss {1 + rng.random():.4f}, time {75 + rng.random() * 10:.2f}ms, mfu 30.00%\n")
            i += 1
            stop.wait(max(0.0, start + i / rate - time.monotonic()))


class _Plain:
    """Any command as a measured process (same interface as ``_common.Sidecar`` for what is used here)."""

    def __init__(self, cmd: list[str]) -> None:
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=90.0, help="measuring window after settling")
    parser.add_argument("--rate", type=float, default=10.0, help="records per second the writer appends")
    parser.add_argument("--gpus", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp, "train.log")
        log.write_text("Overriding: max_iters = 100000000\nOverriding: eval_interval = 250\n")
        stop = threading.Event()
        thread = threading.Thread(target=writer, args=(log, args.rate, stop), daemon=True)
        thread.start()
        contenders: dict[str, object] = {}
        try:
            ours = _common.Sidecar({"steady": log}, gpus=args.gpus)
            contenders[f"ours: sidecar, {args.gpus} fake GPUs @1 Hz"] = ours.__enter__()
            log_only = _common.Sidecar({"steady": log}, gpus=0)
            contenders["ours: sidecar, log only"] = log_only.__enter__()
            contenders["baseline: tail -F"] = _Plain(["tail", "-F", "-n", "+1", str(log)])
            contenders["baseline: idle python"] = _Plain([sys.executable, "-c", "import time; time.sleep(1e6)"])
            ours.wait_ready()
            log_only.wait_ready()
            time.sleep(SETTLE_SECONDS)
            print(f"load average at start: {_common.load_average()} ({os.cpu_count()} CPUs)")
            before = {name: _common.proc_cpu_seconds(c.pid) for name, c in contenders.items()}  # type: ignore[attr-defined]
            started = time.perf_counter()
            time.sleep(args.seconds)
            elapsed = time.perf_counter() - started
            after = {name: _common.proc_cpu_seconds(c.pid) for name, c in contenders.items()}  # type: ignore[attr-defined]
            records = ours.metric("training_exporter_records_read_total", "steady")
            rss = {name: _common.proc_memory_mib(c.pid)[0] for name, c in contenders.items()}  # type: ignore[attr-defined]
            print(f"load average at end:   {_common.load_average()}")
        finally:
            stop.set()
            thread.join(5)
            for contender in contenders.values():
                contender.stop()  # type: ignore[attr-defined]

    per_hour = {name: (after[name] - before[name]) * 3600 / elapsed for name in before}
    tail = per_hour["baseline: tail -F"]
    print(f"{elapsed:.0f} s window, writer at {args.rate:g} records/s; the sidecar had read {records:,.0f} records")
    print(f"{'process':40} {'CPU s':>7} {'CPU-s/hour':>11} {'% of a core':>11} {'RSS MiB':>8} {'x tail -F':>10}")
    for name, value in per_hour.items():
        ratio = f"{value / tail:10.1f}" if tail > 0 else f"{'(tail 0)':>10}"
        print(f"{name:40} {after[name] - before[name]:7.2f} {value:11.1f} {value / 36:11.2f} {rss[name]:8.1f} {ratio}")
    ours_value = next(iter(per_hour.values()))
    verdict = "meets" if ours_value < TARGET_SECONDS_PER_HOUR else "MISSES"
    print(f"  -> sidecar {ours_value:.1f} CPU-s/hour {verdict} the {TARGET_SECONDS_PER_HOUR:g} CPU-s/hour (1% of a core) target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
