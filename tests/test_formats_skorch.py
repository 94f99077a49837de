"""skorch's ``PrintLog`` table, on a real run (``benchmarks/corpus/skorch_train.py 12``: skorch 1.x, a checkpoint and
a learning-rate column, the best values coloured with ANSI escapes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.events import Progress
from exporter.formats.fastai import FastaiParser
from exporter.formats.skorch import SkorchParser
from exporter.pipeline import Pipeline
from exporter.sources import read_records

DATA = Path(__file__).parent / "data"
ROOT = DATA.parent.parent


def test_a_real_table_is_one_progress_per_epoch_with_its_duration() -> None:
    pipeline = Pipeline()
    progress = [e for e in pipeline.read(DATA / "real_skorch.log") if isinstance(e, Progress)]
    assert pipeline.format == "skorch"
    assert [e.iteration for e in progress] == list(range(1, 13))
    assert (progress[0].loss, progress[0].iteration_seconds) == (0.3717, 0.4889)
    # Epoch 4 saved no checkpoint: its blank cell leaves the columns after it where the rule says.
    assert (progress[3].loss, progress[3].iteration_seconds) == (0.2340, 0.2623)


def test_a_header_without_its_rule_is_no_table() -> None:
    parser = SkorchParser()
    lines = ["  epoch    train_loss     dur", "some other line", "      1        0.3717  0.4889"]
    assert [e for line in lines for e in parser.parse(line)] == []


def test_fastai_and_skorch_tables_are_each_their_own() -> None:
    fastai = ["epoch  train_loss  valid_loss  accuracy  time", "0      1.234567    0.987654    0.654321  00:10"]
    skorch = ["  epoch    train_loss     dur", "-------  ------------  ------", "      1        0.3717  0.4889"]
    skorch_parser, fastai_parser = SkorchParser(), FastaiParser()
    assert [e for line in fastai for e in skorch_parser.parse(line)] == []
    assert [e for line in skorch for e in fastai_parser.parse(line)] == []
    assert [e.iteration for line in skorch for e in SkorchParser().parse(line)] == []  # each line alone: no table
    parser = SkorchParser()
    assert [e.iteration for line in skorch for e in parser.parse(line) if isinstance(e, Progress)] == [1]


@pytest.mark.parametrize(
    "path",
    sorted(p for p in [*DATA.glob("*.log"), *ROOT.glob("benchmarks/data/*.tslog")] if p.stem != "real_skorch"),
    ids=lambda p: p.name,
)
def test_no_progress_on_the_other_real_logs(path: Path) -> None:
    parser = SkorchParser()
    assert [r.index for r in read_records(str(path)) if parser.parse(r.text)] == []
