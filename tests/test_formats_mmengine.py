"""mmengine and mmcv 1.x lines (shapes from the OpenMMLab sources and published logs)."""

from __future__ import annotations

import math

from exporter.events import Eval, Progress
from exporter.formats.mmengine import PARSERS, MmengineParser


def feed(lines: list[str], parser: MmengineParser | None = None) -> list:
    parser = parser or MmengineParser()
    return [event for line in lines for event in parser.parse(line)]


def test_module_exports_its_parser() -> None:
    assert PARSERS == (MmengineParser,)


def test_iteration_based_line() -> None:
    [event] = MmengineParser().parse(
        "2023/03/22 09:31:45 - mmengine - INFO - Iter(train) [  100/90000]  lr: 1.0000e-04  eta: 11:49:00  "
        "time: 0.9560  data_time: 0.0067  memory: 8324  loss: 1.2345  loss_cls: 0.5000"
    )
    assert isinstance(event, Progress)
    assert (event.iteration, event.total_iterations, event.epoch) == (100, 90000, None)
    assert (event.iteration_seconds, event.data_seconds, event.loss) == (0.956, 0.0067, 1.2345)


def test_epoch_based_line_is_zero_based() -> None:
    [event] = MmengineParser().parse(
        "Epoch(train)  [100][1100/4309]  base_lr: 2.0000e-02 lr: 2.0000e-02  eta: 1 day, 5:00:00  time: 0.5123  "
        "data_time: 0.0101  memory: 3000  grad_norm: 4.1  loss: nan  loss_cls: 0.5"
    )
    assert (event.epoch, event.iteration, event.total_iterations, event.batches_per_epoch) == (99, 1100, 4309, 4309)
    assert event.data_seconds == 0.0101 and math.isnan(event.loss)


def test_mmcv_epoch_and_iter_lines() -> None:
    [event] = MmengineParser().parse(
        "Epoch [1][100/5005]\tlr: 1.000e-01, eta: 37 days, 5:46:17, time: 6.430, data_time: 5.762, memory: 3000, "
        "loss: 6.9129"
    )
    assert (event.epoch, event.iteration, event.total_iterations) == (0, 100, 5005)
    assert (event.iteration_seconds, event.data_seconds, event.loss) == (6.43, 5.762, 6.9129)
    [event] = MmengineParser().parse("Iter [100/90000]\tlr: 1.0e-02, eta: 2:00:00, time: 1.000, data_time: 0.100, loss: inf")
    assert (event.iteration, event.total_iterations, event.epoch) == (100, 90000, None)
    assert math.isinf(event.loss)


def test_validation_lines_are_evals() -> None:
    parser = MmengineParser()
    parser.parse("Epoch(train)  [2][4309/4309]  lr: 0.02  eta: 1:00:00  time: 0.5  data_time: 0.01  loss: 1.0")
    events = feed(
        [
            "Epoch(val)  [2][ 50/500]    eta: 0:00:20  time: 0.0400  data_time: 0.0020  memory: 400",
            "Epoch(val) [2][500/500]    coco/bbox_mAP: 0.3740  coco/bbox_mAP_50: 0.5",
        ],
        parser,
    )
    assert [(type(e), e.done, e.iteration) for e in events] == [(Eval, False, 8618), (Eval, True, 8618)]
    [event] = parser.parse("Iter(val) [ 10/100]  eta: 0:00:05  time: 0.05  data_time: 0.001")
    assert isinstance(event, Eval) and not event.done


def test_mmcv_validation_progress_and_summary() -> None:
    parser = MmengineParser()
    [running] = parser.parse("[>>>>>>>>>>>>>>>>              ] 120/500, 20.3 task/s, elapsed: 6s, ETA:    19s")
    [done] = parser.parse("Epoch(val) [12][625]\tbbox_mAP: 0.3740, bbox_mAP_50: 0.5000")
    assert (running.done, done.done) == (False, True)


def test_training_line_closes_an_open_validation() -> None:
    parser = MmengineParser()
    parser.parse("Iter(val) [ 10/100]  eta: 0:00:05  time: 0.05  data_time: 0.001")
    closed, progress = parser.parse("Iter(train) [ 200/90000]  lr: 1e-04  eta: 11:00:00  time: 0.9  data_time: 0.01")
    assert isinstance(closed, Eval) and closed.done and isinstance(progress, Progress)


def test_test_runs_are_ignored() -> None:
    assert MmengineParser().parse("Epoch(test) [10/100]  eta: 0:00:20  time: 0.1  data_time: 0.01") == []


def test_train_cfg_on_one_and_several_records() -> None:
    [config] = MmengineParser().parse("train_cfg = dict(type='IterBasedTrainLoop', max_iters=90000, val_interval=5000)")
    assert (config.total_iterations, config.eval_interval, config.total_epochs) == (90000, 5000, None)
    events = feed(["train_cfg = dict(", "    max_epochs=12, type='EpochBasedTrainLoop', val_interval=1)"])
    assert [(e.total_epochs, e.eval_interval) for e in events] == [(12, None)]


def test_unbalanced_train_cfg_does_not_swallow_training_lines() -> None:
    parser = MmengineParser()
    feed(["train_cfg = dict(type='IterBasedTrainLoop',"] + ["    foo=1,"] * 30, parser)
    [event] = parser.parse("Iter(train) [ 100/90000]  lr: 1e-04  eta: 11:00:00  time: 0.9  data_time: 0.01")
    assert isinstance(event, Progress)


def test_config_after_block_closes_is_not_read_as_train_cfg() -> None:
    parser = MmengineParser()
    assert len(parser.parse("train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)")) == 1
    assert parser.parse("model = dict(type='X', max_epochs=99)") == []
