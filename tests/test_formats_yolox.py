"""YOLOX training lines (loguru prefix), in the shape users post from yolox/core/trainer.py."""

from __future__ import annotations

import math

import pytest

from exporter.events import Progress
from exporter.formats.yolox import YoloxParser

LINE = ("2021-08-01 12:00:00 | INFO     | yolox.core.trainer:247 - epoch: 2/300, iter: 10/1833, mem: 5432Mb, "
        "iter_time: 0.512s, data_time: 0.101s, total_loss: {loss}, iou_loss: 3.2, l1_loss: 0.0, conf_loss: 6.1, "
        "cls_loss: 3.0, lr: 1.234e-05, size: 640, ETA: 3 days, 1:23:45")


def test_epoch_and_iteration_within_it() -> None:
    [event] = YoloxParser().parse(LINE.format(loss="12.3"))
    assert isinstance(event, Progress)
    assert (event.iteration, event.epoch, event.total_epochs, event.batches_per_epoch) == (10, 1, 300, 1833)
    assert event.global_iteration == 1833 + 10 and event.global_total == 300 * 1833
    assert event.iteration_seconds == pytest.approx(0.512) and event.data_seconds == pytest.approx(0.101)
    assert event.loss == pytest.approx(12.3)


def test_nan_loss_and_other_lines() -> None:
    [event] = YoloxParser().parse(LINE.format(loss="nan"))
    assert math.isnan(event.loss)
    assert YoloxParser().parse("2021-08-01 12:00:00 | INFO | yolox.core.trainer:1 - epoch: 2/300 evaluating") == []
