"""Where catch-up time goes: records/s of each stage of the read path, in this process, on the nanoGPT log.

    python benchmarks/stages.py [--lines 2000000] [--estimator-records N] [--profile STAGE]

Stages, each including the ones before it:

1. read: 256 KiB ``os.read`` blocks, nothing else (the disk/page-cache ceiling);
2. frame: ``exporter.sources.read_records`` (framing, decoding, ``Record`` objects);
3. parse: + ``Pipeline.feed`` (prefix stripping, format detection, the nanoGPT parser, event objects);
4. estimate: + ``Estimator.observe`` for every event (every record; ``--estimator-records N``: the first N only,
   e.g. under ``--profile``);
5. columns: ``Pipeline.feed_many`` of the records of 2 (plain progress lines as columns) and ``Estimator.observe``
   of what it gives (its added cost is over ``frame``);
6. blocks: what ``report`` and the sidecar do instead of 2 to 5: ``read_items`` (a long run of plain records as one
   ``RecordBlock``, no object per record), ``feed_many`` (one ``findall`` per block for its column lines) and the
   estimator (its added cost is over ``read``).

Also, separately: ``estimator``: the estimator's share of ``blocks``, timed alone over what ``feed_many`` gave
(read beforehand, untimed): a floor for the columns path however fast its reading gets; ``sidecar``: the sidecar's
own worker (``RunWorker.step`` as ``build_sidecar`` wires it, no
GPUs, no HTTP) stepped without sleeping until it has read the log of ``--sidecar-lines`` lines.

The target for the whole path is 1.5 M records/s. ``--profile STAGE`` runs that stage under cProfile and prints
the top functions by internal time.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import sys
import time
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

from exporter.estimate import Estimator  # noqa: E402
from exporter.events import ProgressColumns  # noqa: E402
from exporter.pipeline import Fed, Pipeline  # noqa: E402
from exporter.sources import read_items, read_records  # noqa: E402


def stage_read(path: Path, limit: int | None) -> int:
    fd = os.open(path, os.O_RDONLY)
    total = 0
    try:
        while data := os.read(fd, 256 * 1024):
            total += len(data)
    finally:
        os.close(fd)
    return total


def stage_frame(path: Path, limit: int | None) -> int:
    n = 0
    for _ in itertools.islice(read_records(str(path)), limit):
        n += 1
    return n


def stage_parse(path: Path, limit: int | None) -> int:
    pipeline = Pipeline()
    n = 0
    for record in itertools.islice(read_records(str(path)), limit):
        pipeline.feed(record)
        n += 1
    return n


def stage_estimate(path: Path, limit: int | None) -> int:
    pipeline = Pipeline()
    estimator = Estimator()
    n = 0
    for record in itertools.islice(read_records(str(path)), limit):
        for event in pipeline.feed(record):
            estimator.observe(event)
        n += 1
    estimator.estimate(now=0.0)
    return n


def estimate_all(items: Iterable[Fed]) -> None:
    """``Estimator.observe`` of everything ``Pipeline.feed_many`` gave, then one estimate."""
    estimator = Estimator()
    for fed in items:
        if isinstance(fed, ProgressColumns):
            estimator.observe(fed)
        else:
            for event in fed[1]:
                estimator.observe(event)
    estimator.estimate(now=0.0)


def stage_columns(path: Path, limit: int | None) -> int:
    pipeline = Pipeline()
    estimate_all(pipeline.feed_many(itertools.islice(read_records(str(path)), limit)))
    return pipeline.records


def stage_blocks(path: Path, limit: int | None) -> int:
    """What ``report`` does: ``read_items`` (long runs of records as ``RecordBlock``), ``feed_many``, the
    estimator (``limit`` does not apply: a block is many records)."""
    pipeline = Pipeline()
    estimate_all(pipeline.feed_many(read_items(str(path))))
    return pipeline.records


def estimator_alone(path: Path) -> float:
    """Seconds the estimator takes over the items ``Pipeline.feed_many`` gives for ``path`` (read untimed)."""
    items = list(Pipeline().feed_many(read_items(str(path))))
    start = time.perf_counter()
    estimate_all(items)
    return time.perf_counter() - start


def stage_sidecar(path: Path, limit: int | None) -> int:
    """Step the sidecar's worker for ``path`` until its source has read every record; returns the steps."""
    from exporter.commands.serve import build_sidecar
    from exporter.config import ListenAddress, RunConfig, Settings

    records = _common.count_records(path)
    config = Settings(runs=(RunConfig(run="bench", log=str(path)),), listen=ListenAddress("127.0.0.1", 0), gpu=None)
    worker = build_sidecar(config).runtime.workers[0]
    steps = 0
    while worker.state().records_read < records:
        worker.step()
        steps += 1
    return records


STAGES = {"read": stage_read, "frame": stage_frame, "parse": stage_parse, "estimate": stage_estimate,
          "columns": stage_columns, "blocks": stage_blocks}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--estimator-records", type=int, default=None)
    parser.add_argument("--sidecar-lines", type=int, default=200_000, help="log size for the sidecar row")
    parser.add_argument("--profile", choices=(*STAGES, "sidecar"), default=None)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    path = _common.nanogpt_log(args.lines)
    records = _common.count_records(path)
    megabytes = path.stat().st_size / 1e6
    if args.profile:
        limit = args.estimator_records if args.profile in ("estimate", "columns") else None
        profiler = cProfile.Profile()
        if args.profile == "sidecar":
            profiler.runcall(stage_sidecar, _common.nanogpt_log(args.sidecar_lines), None)
        else:
            profiler.runcall(STAGES[args.profile], path, limit)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
        return 0

    print(f"load average before: {_common.load_average()}; log: {records:,} records, {megabytes:.0f} MB")
    print(f"{'stage':10} {'records':>10} {'seconds':>8} {'records/s':>12} {'µs/record':>10} {'added µs/rec':>12}")
    previous = framed = read = 0.0
    for name, fn in STAGES.items():
        limit = args.estimator_records if name in ("estimate", "columns") else None
        start = time.perf_counter()
        fn(path, limit)
        seconds = time.perf_counter() - start
        done = records if limit is None else min(limit, records)
        per = seconds / done * 1e6
        added = per - (framed if name == "columns" else read if name == "blocks" else previous)
        print(f"{name:10} {done:10,} {seconds:8.2f} {done / seconds:12,.0f} {per:10.3f} {added:12.3f}")
        previous = per
        framed = per if name == "frame" else framed
        read = per if name == "read" else read
    seconds = estimator_alone(path)
    print(f"{'estimator':10} {records:10,} {seconds:8.2f} {records / seconds:12,.0f} {seconds / records * 1e6:10.3f}"
          f" {'(of blocks)':>12}")
    small = _common.nanogpt_log(args.sidecar_lines)
    start = time.perf_counter()
    done = stage_sidecar(small, None)
    seconds = time.perf_counter() - start
    print(f"{'sidecar':10} {done:10,} {seconds:8.2f} {done / seconds:12,.0f} {seconds / done * 1e6:10.3f}"
          f" {'(worker steps, own log)':>12}")
    print(f"load average after: {_common.load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
