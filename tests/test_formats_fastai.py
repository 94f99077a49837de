"""fastai's ``fit`` table in a terminal (fastprogress), as users post it."""

from __future__ import annotations

import pytest

from exporter.events import Progress
from exporter.formats.fastai import FastaiParser


def test_each_row_is_one_finished_epoch() -> None:
    parser = FastaiParser()
    lines = ["epoch     train_loss  valid_loss  accuracy  time    ",
             "0         1.234567    0.987654    0.654321  00:10     ",
             "1         0.876543    0.765432    0.712345  01:02:09  "]
    events = [e for line in lines for e in parser.parse(line)]
    assert all(isinstance(e, Progress) for e in events)
    assert [(e.iteration, e.iteration_seconds) for e in events] == [(1, 10.0), (2, 3729.0)]
    assert events[0].loss == pytest.approx(1.234567)


def test_rows_without_the_header_are_not_progress() -> None:
    assert FastaiParser().parse("0         1.234567    0.987654    0.654321  00:10") == []
