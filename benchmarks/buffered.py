"""The sidecar's view of a block-buffered log: ``python train.py > train.log`` without ``-u``.

Python block-buffers stdout into a file (8 KiB), so a trainer that reports with ``print`` (nanoGPT, torchvision's
MetricLogger, hand-written loops) reaches its log in blocks: a follower sees nothing for a block's worth of lines,
then all of them at once, with one arrival time. Bars on stderr (tqdm, Lightning, Keras' flushed progbar) are not
affected, so the runs scored here are those of the corpus whose trainer prints to stdout. Each is replayed twice,
as recorded and as a buffered stdout would have delivered it (every record arrives when the 8 KiB block holding it
is full, i.e. at the time of the block's last record), and estimated every second as a scraped sidecar is:

- MAPE of the ETA over 10-90 % of the run's true progress (the true remaining time is the run's end minus now),
  ours and, on the same buffered arrivals, the baselines of ``eta_accuracy.py`` (their ETA at the latest line,
  counted down since, as a user reading it would);
- seconds read as ``stalled`` (the runs have no hang except ``ng_sigstop``'s 45 s SIGSTOP).

Run: ``python benchmarks/buffered.py [--block BYTES]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eta_accuracy import CORPUS, DEFAULT_TOTALS, baseline_estimators  # noqa: E402

from exporter.commands.common import log_events  # noqa: E402
from exporter.estimate import Estimator  # noqa: E402
from exporter.events import Event, Progress  # noqa: E402
from exporter.pipeline import Pipeline  # noqa: E402
from exporter.sources import read_records  # noqa: E402
from exporter.sources.record import Record  # noqa: E402

STDOUT_FAMILIES = {"nanogpt", "metriclogger", "generic"}
"""Families whose trainers report with ``print`` (stdout); the others' bars go to stderr, which is not buffered."""
OURS = "ours"


def buffered(records: Sequence[Record], block: int) -> list[Record]:
    """The records with the arrival time a block-buffered stdout gives them: that of the last record of the block
    that holds them (the rest at the end, when the trainer exits and flushes)."""
    out: list[Record] = []
    held: list[Record] = []
    size = 0
    for record in records:
        held.append(record)
        size += len(record.text.encode()) + 1
        if size >= block:
            out += [dataclasses.replace(r, time=record.time) for r in held]
            held, size = [], 0
    if held:
        out += [dataclasses.replace(r, time=records[-1].time) for r in held]
    return out


def per_second(events: list[Event], total: int, end: float, truth_at: list[tuple[float, float]]) -> dict:
    """ETAs every second (ours and the baselines', counted down since their latest line) at the first second of
    each whole percent of true progress in 10-90 %, and the seconds ours reads ``stalled``."""
    estimator = Estimator(total_iterations=total)
    baselines = baseline_estimators()
    latest: dict[str, tuple[float, float]] = {}
    points: list[dict[str, float]] = []
    stalled = 0
    index = 0
    t = events[0].time or 0.0
    percent = 10
    true_index = 0
    while t < end and percent <= 90:
        while index < len(events) and (events[index].time or 0.0) <= t:
            event = events[index]
            estimator.observe(event)
            if isinstance(event, Progress) and event.time is not None:
                for name, method in baselines.items():
                    eta = method(event, total)
                    if eta is not None:
                        latest[name] = (eta, event.time)
            index += 1
        estimate = estimator.estimate(now=t)
        stalled += estimate.state == "stalled"
        while true_index + 1 < len(truth_at) and truth_at[true_index + 1][0] <= t:
            true_index += 1
        if truth_at[true_index][1] >= percent / 100:
            truth = end - t
            errors = {name: abs(max(0.0, eta - (t - at)) - truth) / truth for name, (eta, at) in latest.items()}
            if estimate.eta_seconds is not None:
                errors[OURS] = abs(estimate.eta_seconds - truth) / truth
            points.append(errors)
            while percent <= 90 and truth_at[true_index][1] >= percent / 100:
                percent += 1
        t += 1.0
    # Only where every method has an ETA: one that has none until late would be scored on the easy end alone.
    methods = [OURS, *baselines]
    scored = [p for p in points if all(m in p for m in methods)]
    mape = {m: 100 * statistics.mean(p[m] for p in scored) if scored else None for m in methods}
    return {"mape": mape, "stalled": stalled, "points": len(scored)}


def score(path: Path, block: int) -> tuple[str, dict[str, float | None]] | None:
    records = list(read_records(str(path)))
    events = list(log_events(iter(records), Pipeline()))
    progress = [e for e in events if isinstance(e, Progress) and e.time is not None]
    if not progress or progress[0].format not in STDOUT_FAMILIES:
        return None
    whole = Estimator()
    for event in events:
        whole.observe(event)
    total = DEFAULT_TOTALS.get(path.stem) or whole.estimate(now=None).total_iterations
    if not total:
        return None
    end = max(e.time for e in progress if e.time is not None)
    truth_at = [(e.time or 0.0, min(1.0, e.global_iteration / total)) for e in progress]
    plain = per_second(events, total, end, truth_at)
    late = list(log_events(iter(buffered(records, block)), Pipeline()))
    blocks = len({e.time for e in late if isinstance(e, Progress)})
    held = per_second(late, total, end, truth_at)
    baselines = {k: v for k, v in held["mape"].items() if k != OURS and v is not None}
    best = min(baselines, key=lambda k: baselines[k]) if baselines else None
    ours = held["mape"][OURS]
    ratio = f"{ours / baselines[best]:.2f}" if best and ours is not None and baselines[best] else "-"
    shown = f"{_pct(baselines[best])} ({best})" if best else "- (no two blocks apart)"
    row = (f"| `{path.stem}` | {blocks} | {held['points']} | {_pct(plain['mape'][OURS])} | {_pct(ours)} | {shown} "
           f"| {ratio} | {plain['stalled']} / {held['stalled']} |")
    return row, held["mape"]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} %"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--block", type=int, default=8192, help="stdout buffer size in bytes (Python's: 8192)")
    parser.add_argument("--logs", type=Path, default=CORPUS)
    args = parser.parse_args(argv)
    print(f"| run | blocks of {args.block} B | points scored | ours, as recorded | ours, buffered "
          "| best baseline, buffered | ratio | seconds stalled (as recorded / buffered) |")
    print("|---|---|---|---|---|---|---|---|")
    scored: list[dict[str, float | None]] = []
    for path in sorted(args.logs.glob("*.tslog")):
        result = score(path, args.block)
        if result:
            print(result[0], flush=True)
            scored.append(result[1])
    full = [m for m in scored if all(v is not None for v in m.values())]
    means = {name: statistics.mean(m[name] or 0.0 for m in full) for name in full[0]} if full else {}
    print(f"\nmean MAPE, buffered, over the {len(full)} runs every method scores: "
          + ", ".join(f"{name} {value:.1f} %" for name, value in means.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
