"""What an estimate says does not depend on how often estimates are read: on the real logs, reading after every
event, once a minute of record time, or only at the end gives the same figures (within 0.1 %)."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.estimate import Estimator
from exporter.pipeline import Pipeline

DATA = Path(__file__).resolve().parent / "data"
ROOT = Path(__file__).resolve().parent.parent
# pl_val_speedup: 24 k progress lines, so its later lines share samples (``estimate.coalesce``).
LOGS = [DATA / "real_ng_perturbed.tslog", DATA / "real_hf_trainer.tslog", ROOT / "benchmarks/data/ng_iostall.tslog",
        ROOT / "benchmarks/data/pl_val_speedup.tslog"]
FIELDS = ("seconds_per_iteration", "eta_seconds", "eta_lower_seconds", "eta_upper_seconds", "pace_ratio",
          "baseline_seconds_per_iteration", "eta_seconds_per_iteration", "warmup_seconds", "progress_ratio")


def final_estimate(path: Path, cadence: float | None, fraction: float) -> dict[str, object]:
    """Feed the first ``fraction`` of the log's events, estimating every ``cadence`` seconds of record time
    (0: after every event, None: never), and return the estimate at that point."""
    events = list(Pipeline().read(path))
    events = events[: int(len(events) * fraction)]
    estimator = Estimator(clock=lambda: 0.0)
    last_read: float | None = None
    for event in events:
        estimator.observe(event)
        if cadence is not None and event.time is not None and (last_read is None or event.time - last_read >= cadence):
            estimator.time_split(estimator.estimate(now=event.time))
            last_read = event.time
    now = estimator.last_event_time
    estimate = estimator.estimate(now=now)
    return {name: getattr(estimate, name) for name in (*FIELDS, "state", "pace_source")}


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
@pytest.mark.parametrize("fraction", [0.5, 1.0])
def test_estimates_do_not_depend_on_the_read_cadence(path: Path, fraction: float) -> None:
    only_at_end = final_estimate(path, None, fraction)
    # After every event on the long log would be 24 k estimates: every 2 s of record time is ~300 of them.
    for cadence in (2.0 if path.stem == "pl_val_speedup" else 0.0, 60.0):
        other = final_estimate(path, cadence, fraction)
        for name, value in only_at_end.items():
            if isinstance(value, float):
                assert other[name] == pytest.approx(value, rel=1e-3), (name, cadence)
            else:
                assert other[name] == value, (name, cadence)
