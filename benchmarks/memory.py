"""Peak memory while catching up on a long log: it must not grow with the log's length (target < 50 MB).

    python benchmarks/memory.py [--small-lines 2000000] [--large-lines 20000000] [--timeout 90]

For a ~100 MB and a ~1 GB nanoGPT log (generated once under $BENCH_CACHE), runs the sidecar (``serve --log
bench=LOG --gpu.devices none``) and ``report LOG --json`` in their own processes and samples the process's
peak RSS (``VmHWM`` in ``/proc/PID/status``) every 0.1 s until it has read the whole log or ``--timeout``
seconds passed (then it is stopped: the peak so far is still a lower bound of the true peak, and the row says
how far it got). Baseline measured in the same run: an idle interpreter that imported the same modules, the
floor no amount of work can go under. Memory that does not grow with the log shows as equal peaks for both
sizes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

TARGET_MIB = 50.0
IMPORTS = "import exporter.commands.serve, exporter.commands.report, exporter.pipeline, exporter.estimate"


def _watch(proc: subprocess.Popen[bytes], timeout: float, done=lambda: False) -> tuple[float, float, bool]:
    """Sample a process's VmHWM until it exits, ``done()`` is true or ``timeout`` passes; (seconds, peak MiB, ended).

    An exited process is reaped here with ``os.wait4``, whose rusage peak covers what sampling missed."""
    start = time.perf_counter()
    peak = 0.0
    while True:
        try:
            peak = max(peak, _common.proc_memory_mib(proc.pid)[1])
        except (FileNotFoundError, ProcessLookupError):
            pass
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return time.perf_counter() - start, max(peak, usage.ru_maxrss / 1024), proc.returncode == 0
        if done():
            return time.perf_counter() - start, peak, True
        if time.perf_counter() - start > timeout:
            return time.perf_counter() - start, peak, False
        time.sleep(0.1)


def baseline_mib() -> float:
    """Peak RSS of an interpreter that imported the exporter and then did nothing."""
    code = f"{IMPORTS}; import time; time.sleep(1.0)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024


def report_peak(path: Path, timeout: float) -> tuple[float, float, bool]:
    proc = subprocess.Popen([sys.executable, "-m", "exporter", "report", str(path), "--json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return _watch(proc, timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.wait()


def sidecar_peak(path: Path, records: int, timeout: float) -> tuple[float, float, bool, float]:
    """(seconds, peak MiB, caught up, records reached) for the sidecar on ``path``."""
    with _common.Sidecar({"bench": path}) as sidecar:
        reached = [0.0]
        last_ask = [0.0]

        def done() -> bool:
            now = time.perf_counter()
            if now - last_ask[0] < 0.5:
                return False
            last_ask[0] = now
            try:
                reached[0] = sidecar.metric("training_exporter_records_read_total", "bench") or 0.0
            except OSError:
                return False
            return reached[0] >= records

        assert sidecar.proc is not None
        seconds, peak, _ = _watch(sidecar.proc, timeout, done)
        return seconds, peak, reached[0] >= records, reached[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small-lines", type=int, default=2_000_000, help="progress lines of the ~100 MB log")
    parser.add_argument("--large-lines", type=int, default=20_000_000, help="progress lines of the ~1 GB log")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds one contender may run")
    parser.add_argument("--skip", action="append", default=[], metavar="CONTENDER", help="report or sidecar")
    args = parser.parse_args()

    print(f"load average before: {_common.load_average()} ({os.cpu_count()} CPUs)")
    floor = baseline_mib()
    rows = [("(any)", 0, "baseline: idle interpreter + imports", 1.0, floor, True, "")]
    for lines in (args.small_lines, args.large_lines):
        path = _common.nanogpt_log(lines)
        records = _common.count_records(path)
        megabytes = path.stat().st_size / 1e6
        if "sidecar" not in args.skip:
            seconds, peak, done, reached = sidecar_peak(path, records, args.timeout)
            rows.append((f"{megabytes:.0f} MB", records, "ours: sidecar catch-up", seconds, peak, done,
                         f"{reached:,.0f} records read"))
        if "report" not in args.skip:
            seconds, peak, done = report_peak(path, args.timeout)
            rows.append((f"{megabytes:.0f} MB", records, "ours: report", seconds, peak, done, ""))

    print(f"{'log':8} {'records':>11}  {'contender':38} {'seconds':>8} {'peak RSS MiB':>13} {'x baseline':>10}"
          f" {'< 50 MB':>7}  note")
    for log, records, name, seconds, peak, done, note in rows:
        status = "" if done else f"stopped after {seconds:.0f}s (peak so far is a lower bound)"
        ok = "yes" if peak < TARGET_MIB else "NO"
        print(f"{log:8} {records:11,}  {name:38} {seconds:8.1f} {peak:13.1f} {peak / floor:10.2f} {ok:>7}  "
              f"{'; '.join(x for x in (note, status) if x)}")
    print(f"load average after: {_common.load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
