"""Score variants of the estimator's constants over the ETA corpus, quickly: the tuner behind the README's "also
tried" figures.

    python benchmarks/eta_tune.py '[{}, {"candidates.TIE": 0.3}, {"range.RANGE_QUANTILE": 0.05}]'

Each variant is a JSON object of ``module.NAME`` settings for modules of ``exporter.estimate`` (``{}``: as shipped).
Every run of ``benchmarks/data`` is replayed with record times, estimating at 200 evenly spaced progress lines (not
at every record, as ``eta_accuracy.py`` does, so figures differ slightly from its table; compare variants with
each other), in two worker processes. Prints per variant: runs with range coverage within 70-95 %, mean MAPE 10-90 % over all
runs, the dev half and the held-out half, then MAPE/coverage per run. Choose on the dev half; confirm on the other.
"""

from __future__ import annotations

import importlib
import json
import sys
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import eta_accuracy as ea  # noqa: E402

from exporter.commands.common import log_events  # noqa: E402
from exporter.commands.replay import Every, estimates  # noqa: E402
from exporter.events import Progress  # noqa: E402
from exporter.pipeline import Pipeline  # noqa: E402
from exporter.sources import read_records  # noqa: E402

Variant = dict[str, float]
POINTS = 200
"""Estimates per run, evenly spaced in progress lines."""


def _apply(variant: Variant, shipped: dict[str, object]) -> None:
    """Set the variant's constants, after putting back every constant an earlier variant changed."""
    for key, value in shipped.items():
        module, name = key.rsplit(".", 1)
        setattr(importlib.import_module(f"exporter.estimate.{module}"), name, value)
    for key, value in variant.items():
        module, name = key.rsplit(".", 1)
        target = importlib.import_module(f"exporter.estimate.{module}")
        shipped.setdefault(key, getattr(target, name))
        setattr(target, name, value)


_SHIPPED: dict[str, object] = {}


def score(job: tuple[str, Variant]) -> tuple[str, float | None, float | None]:
    """(run, MAPE 10-90 %, coverage) of one run under one variant."""
    name, variant = job
    _apply(variant, _SHIPPED)
    total = ea.DEFAULT_TOTALS.get(name)
    path = ea.CORPUS / f"{name}.tslog"
    events = list(log_events(read_records(str(path)), Pipeline()))
    progress = sum(1 for event in events if isinstance(event, Progress))
    due = Every.parse(str(max(1, progress // POINTS))).selector(total)
    timed = list(estimates(events, total_iterations=total, due=due))
    size, end = timed[-1][1].total_iterations, timed[-1][0].time
    if not size or end is None:
        return name, None, None
    points = [
        ea.Point(event.global_iteration / size, end - event.time, {"ours": estimate.eta_seconds},
                 estimate.eta_lower_seconds, estimate.eta_upper_seconds)
        for event, estimate, _ in timed
        if event.time is not None and end - event.time > 0
    ]
    window = ea.at_percentiles(points, 0.1, 0.9)
    return name, ea.mape(window, "ours"), ea.coverage(window)


def main() -> int:
    variants: list[Variant] = json.loads(sys.argv[1]) if len(sys.argv) > 1 else [{}]
    runs = [path.stem for path in sorted(ea.CORPUS.glob("*.tslog"))]
    with Pool(2) as pool:
        for variant in variants:
            scored = [(n, m, c) for n, m, c in pool.map(score, [(run, variant) for run in runs]) if m is not None]
            dev = [m for n, m, _ in scored if n in ea.DEV]
            held = [m for n, m, _ in scored if n not in ea.DEV]
            covered = sum(1 for _, _, c in scored if c is not None and 70 <= c <= 95)
            every = [m for _, m, _ in scored]
            print(json.dumps(variant), f"coverage {covered}/{len(scored)}",
                  f"all {sum(every) / len(every):.1f} dev {sum(dev) / max(1, len(dev)):.1f} "
                  f"held-out {sum(held) / max(1, len(held)):.1f}",
                  " ".join(f"{n}={m:.0f}/{c or 0:.0f}" for n, m, c in scored), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
