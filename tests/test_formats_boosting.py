"""XGBoost, LightGBM and CatBoost evaluation logs, on real runs (``benchmarks/corpus/boost_train.py KIND 300``:
xgboost 3 native and sklearn APIs, lightgbm 4, catboost 1.2; a line every 10 rounds and the last)."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.events import Progress
from exporter.formats.boosting import BoostingParser, _seconds
from exporter.pipeline import Pipeline
from exporter.sources import read_records

DATA = Path(__file__).parent / "data"
ROOT = DATA.parent.parent


def progress(name: str) -> list[Progress]:
    pipeline = Pipeline()
    events = [e for e in pipeline.read(DATA / f"real_boost_{name}.log") if isinstance(e, Progress)]
    assert pipeline.format == "boosting"
    return events


@pytest.mark.parametrize("name", ["xgboost", "xgboost-sklearn"])
def test_xgboost_rounds_count_from_zero(name: str) -> None:
    events = progress(name)
    assert [e.iteration for e in events] == [*range(1, 300, 10), 300]  # [0], [10], … [290], then the last, [299]
    assert events[0].loss == 0.58180 and events[-1].loss == 0.00891


def test_lightgbm_rounds_count_from_one() -> None:
    events = progress("lightgbm")
    assert [e.iteration for e in events] == list(range(10, 301, 10))
    assert events[-1].loss == 0.0178993  # the first evaluation set's metric


def test_catboost_paces_itself_from_its_clock() -> None:
    events = progress("catboost")
    assert [e.iteration for e in events] == [*range(1, 300, 10), 300]
    assert events[0].iteration_seconds == pytest.approx(0.0616)  # total: 61.6ms after the first round
    assert events[1].iteration_seconds == pytest.approx((0.164 - 0.0616) / 10)  # total: 164ms ten rounds later
    assert events[0].loss == 0.6360102


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("61.6ms", 0.0616), ("3.12s", 3.12), ("1m 5s", 65.0), ("2h 3m 4s", 7384.0), ("1d 2h", 93600.0), ("0us", 0.0),
     ("soon", None), ("5s later", None)],
)
def test_catboost_durations(text: str, seconds: float | None) -> None:
    assert _seconds(text) == (None if seconds is None else pytest.approx(seconds))


@pytest.mark.parametrize(
    "line",
    ["[LightGBM] [Info] Number of positive: 7987, number of negative: 8013", "[10] loss: 0.5", "[3/10] train-loss:0.5",
     "10: learn: 0.4 total: 164ms remaining: 4.32s", "bestIteration = 258"],
)
def test_not_progress(line: str) -> None:
    assert BoostingParser().parse(line) == []


@pytest.mark.parametrize(
    "path",
    sorted(p for p in [*DATA.glob("*.log"), *ROOT.glob("benchmarks/data/*.tslog")]
           if not p.stem.startswith(("real_boost_", "xgb_"))),  # the corpus's XGBoost run is one too
    ids=lambda p: p.name,
)
def test_no_progress_on_the_other_real_logs(path: Path) -> None:
    parser = BoostingParser()
    assert [r.index for r in read_records(str(path)) if parser.parse(r.text)] == []
