"""Catch-up throughput: how fast the exporter reaches the end of a long log, against mtail and a plain loop.

    python benchmarks/catchup.py [--lines 2000000] [--tqdm-bytes 200000000] [--lightning-updates 500000]
                                 [--timeout 120] [--only nanogpt|tqdm|lightning]

Three logs: nanoGPT (``iter`` lines, an eval every 250), an HF-Trainer-style tqdm bar, and Lightning's TQDM
epoch bars with a loss in the postfix (both ``\\r``-separated).

Logs are generated once under $BENCH_CACHE (default /tmp/training-eta-bench). Debian's mtail is installed with
apt-get when missing (needs root). Figures: records/s and MB/s for each contender on each log, and the ratio of
ours to each baseline measured in this same run (ratio > 1: ours is faster). Contenders:

- grep -c: ``LC_ALL=C grep -c`` of a literal every progress line holds (counts ``\\n`` lines): the bound for a
  scan of the file, process wall time;
- plain regex loop: 64 KiB blocks split at \\r/\\n, one compiled regex per record, in this process;
- columnar bound: 1 MiB blocks, one ``findall`` per block and float columns of the progress rows, no estimation:
  the ceiling of a Python design that never makes one object per record;
- mtail: ``--one_shot`` over the file with a two-gauge program (iteration and its time), process wall time;
- ours: report: ``training-eta-exporter report LOG --json``, process wall time (start-up included);
- ours: sidecar: ``training-eta-exporter serve --log bench=LOG``, from process start until
  ``training_exporter_records_read_total`` reaches the log's record count (polled every 0.1 s).

A contender still running after ``--timeout`` seconds is stopped; its row shows ``>`` that time and a rate
``<`` the bound it proves.

``--flat 100000,400000,1000000,4000000`` prints instead the cost per record of ``report`` on nanoGPT logs of those
sizes (µs per record, minus ``report``'s start-up on a 1,000-line log measured in the same run, and the ratio to the
smallest):
flat means the work per record does not grow with the history.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

MTAIL_PROGRAMS = {
    "nanogpt": r"""
        gauge iteration
        gauge iteration_seconds
        /iter (?P<iter>\d+): loss [0-9.]+, time (?P<ms>[0-9.]+)ms/ {
          iteration = $iter
          iteration_seconds = $ms / 1000.0
        }
    """,
    "tqdm": r"""
        gauge iteration
        gauge iterations_per_second
        /(?P<n>\d+)\/(?P<total>\d+) \[[^\]]*, (?P<rate>[0-9.]+)it\/s/ {
          iteration = $n
          iterations_per_second = $rate
        }
    """,
}

MTAIL_PROGRAMS["lightning"] = MTAIL_PROGRAMS["tqdm"]

GREP_LITERALS = {"nanogpt": "iter ", "tqdm": "it/s", "lightning": "it/s"}
"""A literal in every progress line of each log, for ``grep -c``."""
PLAIN_PATTERNS = {
    "nanogpt": re.compile(rb"iter (\d+): loss ([0-9.]+|nan), time ([0-9.]+)ms"),
    "tqdm": re.compile(rb"(\d+)/(\d+) \[[^\]]*, ([0-9.]+)(it/s|s/it)"),
}
PLAIN_PATTERNS["lightning"] = PLAIN_PATTERNS["tqdm"]


def plain_loop(path: Path, pattern: re.Pattern[bytes]) -> int:
    """The baseline a person would write: read 64 KiB blocks, split at \\r and \\n, one regex per record."""
    matched = 0
    pending = b""
    search = pattern.search
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            lines = (pending + block).splitlines(keepends=True)
            pending = lines.pop() if not lines[-1].endswith((b"\n", b"\r")) else b""
            for line in lines:
                if search(line):
                    matched += 1
    if pending and search(pending):
        matched += 1
    return matched


COLUMN_PATTERNS = {
    "nanogpt": re.compile(r"^(?:iter (\d{1,15}): loss [^,\s]+, time (\d{1,12}\.\d+)ms.*|.*)$", re.MULTILINE),
    "tqdm": re.compile(r"^(?:.*?(\d+)/\d+ \[[^\]]*, ([0-9.]+)it/s.*|.*)$", re.MULTILINE),
}
COLUMN_PATTERNS["lightning"] = COLUMN_PATTERNS["tqdm"]


def columnar_bound(path: Path, pattern: re.Pattern[str]) -> int:
    """The ceiling of a design without one object per record: 1 MiB blocks decoded at once, ``\r`` made a line
    end, one ``findall`` per block (every record a row, progress or not) and the progress rows' iteration and
    seconds as float columns, summed; no state, no estimation."""
    rows = 0
    for block in _common.complete_blocks(path):
        found = pattern.findall(block.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n"))
        sum(map(float, [i for i, _ in found if i]))
        sum(map(float, [t for i, t in found if i]))
        rows += len(found)
    return rows


def ensure_mtail() -> str | None:
    found = shutil.which("mtail")
    if found:
        return found
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "mtail"]):
        if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
            return None
    return shutil.which("mtail")


def measure(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _bounded(fn, timeout: float) -> tuple[float, bool]:
    """(seconds, finished): a contender's time, or the timeout when it was stopped."""
    try:
        return fn(), True
    except TimeoutError:
        return timeout, False


def flat_table(sizes: list[int], timeout: float) -> int:
    """``report``'s cost per record on nanoGPT logs of ``sizes`` progress lines, start-up subtracted."""
    print(f"load average before: {_common.load_average()} ({os.cpu_count()} CPUs)")
    # What every size pays once: the interpreter, the command's imports, reading a log's first lines (a 1,000-line
    # log: its per-record work is ~1 ms).
    small = _common.nanogpt_log(1000)
    report = [sys.executable, "-m", "exporter", "report"]
    startup = min(_common.run_timed([*report, str(small), "--json"], timeout=timeout)[0] for _ in range(3))
    print(f"report on a 1,000-line log (start-up): {startup:.2f} s (subtracted)")
    print(f"{'lines':>10} {'records':>10} {'seconds':>8} {'us/record':>10} {'vs smallest':>12}")
    first = None
    for lines in sizes:
        path = _common.nanogpt_log(lines)
        records = _common.count_records(path)
        seconds = _common.run_timed([*report, str(path), "--json"], timeout=timeout)[0]
        per = max(0.0, seconds - startup) / records * 1e6
        first = first or per
        print(f"{lines:10,} {records:10,} {seconds:8.2f} {per:10.2f} {per / first:11.2f}x")
    print(f"load average after: {_common.load_average()}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=2_000_000, help="progress lines of the nanoGPT log")
    parser.add_argument("--tqdm-bytes", type=int, default=200_000_000, help="size of the tqdm log")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one contender may take")
    parser.add_argument("--skip", action="append", default=[], metavar="CONTENDER",
                        help="leave out a contender (grep, plain, columnar, mtail, report, sidecar); repeatable")
    parser.add_argument("--lightning-updates", type=int, default=500_000, help="bar redraws of the Lightning log")
    parser.add_argument("--only", choices=("nanogpt", "tqdm", "lightning"), default=None, help="benchmark one log only")
    parser.add_argument("--flat", default=None, metavar="N,N,...", help="cost per record of report at these sizes")
    args = parser.parse_args()
    if args.flat:
        return flat_table([int(n) for n in args.flat.split(",")], args.timeout)

    logs = {"nanogpt": lambda: _common.nanogpt_log(args.lines), "tqdm": lambda: _common.tqdm_log(args.tqdm_bytes),
            "lightning": lambda: _common.lightning_log(args.lightning_updates)}
    if args.only:
        logs = {args.only: logs[args.only]}
    mtail = None if "mtail" in args.skip else ensure_mtail()
    print(f"load average before: {_common.load_average()} ({os.cpu_count()} CPUs)")
    rows = []
    for kind, make in logs.items():
        path = make()
        records = _common.count_records(path)
        megabytes = path.stat().st_size / 1e6
        timings: dict[str, tuple[float, bool]] = {}
        if "grep" not in args.skip and shutil.which("grep"):
            cmd = ["env", "LC_ALL=C", "grep", "-c", "-a", GREP_LITERALS[kind], str(path)]
            timings["grep -c"] = _bounded(lambda: _common.run_timed(cmd, timeout=args.timeout)[0], args.timeout)
        if "plain" not in args.skip:
            timings["plain regex loop"] = (measure(lambda: plain_loop(path, PLAIN_PATTERNS[kind])), True)
        if "columnar" not in args.skip:
            timings["columnar bound"] = (measure(lambda: columnar_bound(path, COLUMN_PATTERNS[kind])), True)
        if mtail:
            with tempfile.TemporaryDirectory() as progs:
                Path(progs, f"{kind}.mtail").write_text(textwrap.dedent(MTAIL_PROGRAMS[kind]))
                cmd = [mtail, "--progs", progs, "--logs", str(path), "--one_shot", "--one_shot_format=prometheus"]
                timings["mtail"] = _bounded(lambda: _common.run_timed(cmd, timeout=args.timeout)[0], args.timeout)
        if "report" not in args.skip:
            cmd = [sys.executable, "-m", "exporter", "report", str(path), "--json"]
            timings["ours: report"] = _bounded(lambda: _common.run_timed(cmd, timeout=args.timeout)[0], args.timeout)
        if "sidecar" not in args.skip:
            timings["ours: sidecar"] = _bounded(
                lambda: _common.sidecar_catchup_seconds(path, records, timeout=args.timeout), args.timeout
            )
        for name, (seconds, finished) in timings.items():
            rows.append((kind, records, megabytes, name, seconds, finished, timings))

    print(f"{'log':9} {'records':>10} {'MB':>6}  {'contender':18} {'records/s':>13} {'MB/s':>8} {'seconds':>9}"
          "  ours vs mtail / vs plain")
    for kind, records, megabytes, name, seconds, finished, timings in rows:
        bound = "" if finished else "<"
        ratios = []
        if name.startswith("ours"):
            for base in ("mtail", "plain regex loop"):
                if base in timings and timings[base][1]:
                    ratios.append(f"{bound}{timings[base][0] / seconds:.3g}x")
                else:
                    ratios.append("-")
        print(f"{kind:9} {records:10,} {megabytes:6.0f}  {name:18} {bound:>1}{records / seconds:12,.0f} "
              f"{bound:>1}{megabytes / seconds:7.2f} {'' if finished else '>'}{seconds:8.2f}  {' / '.join(ratios)}")
    print(f"load average after: {_common.load_average()}")
    if mtail is None and "mtail" not in args.skip:
        print("mtail unavailable (apt-get failed): its column is missing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
