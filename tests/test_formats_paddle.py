"""PaddleNLP, PaddleOCR and PaddleDetection lines, in the shapes quoted from the projects' issues."""

from __future__ import annotations

import math

import pytest

from exporter.events import Progress
from exporter.formats.paddle import PaddleParser


def one(line: str) -> Progress:
    [event] = PaddleParser().parse(line)
    assert isinstance(event, Progress)
    return event


def test_paddlenlp_trainer_line() -> None:
    event = one("[2024-01-01 12:00:00,000] [    INFO] - loss: 2.34567890, learning_rate: 3e-05, global_step: 120, "
                "interval_runtime: 12.34, interval_samples_per_second: 10.37, interval_steps_per_second: 0.81, "
                "epoch: 0.12")
    assert event.iteration == 120 and event.loss == pytest.approx(2.3456789)
    assert event.iteration_seconds == pytest.approx(1 / 0.81)
    nan = one("[2024-01-01 12:00:00,000] [    INFO] - loss: nan, learning_rate: 3e-05, global_step: 121, "
              "interval_runtime: 1.2, interval_samples_per_second: 10.0, interval_steps_per_second: 0.8, epoch: 0.12")
    assert math.isnan(nan.loss)


def test_paddleocr_line_has_data_and_batch_seconds() -> None:
    event = one("[2022/08/11 12:00:00] ppocr INFO: epoch: [3/500], global_step: 10, lr: 0.001000, loss: 1.234567, "
                "avg_reader_cost: 0.10234 s, avg_batch_cost: 0.51234 s, avg_samples: 8.0, ips: 15.61412 samples/s, "
                "eta: 1 day, 2:03:04")
    assert (event.iteration, event.epoch, event.total_epochs) == (10, 2, 500)
    assert event.iteration_seconds == pytest.approx(0.51234) and event.data_seconds == pytest.approx(0.10234)


def test_paddledetection_line_counts_batches_in_the_epoch() -> None:
    event = one("[08/11 12:00:00] ppdet.engine INFO: Epoch: [1] [ 20/500] learning_rate: 0.010000 loss: 1.234 "
                "eta: 1:23:45 batch_cost: 0.5123 data_cost: 0.0123 ips: 15.6 images/s")
    assert (event.iteration, event.epoch, event.batches_per_epoch) == (20, 1, 500)
    assert event.global_iteration == 520
    assert event.iteration_seconds == pytest.approx(0.5123) and event.data_seconds == pytest.approx(0.0123)


def test_other_lines_are_not_progress() -> None:
    parser = PaddleParser()
    for line in ["[2024-01-01 12:00:00,000] [    INFO] - global_step: 100 saved", "Epoch: [1] done",
                 "eval_loss: 2.1, eval_runtime: 3.0, global_step: 120"]:
        assert parser.parse(line) == []


def test_the_total_banner_prints_a_float() -> None:
    from exporter.events import Config

    parser = PaddleParser()
    assert parser.parse("[2024-01-01 12:00:00,000] [    INFO] -   Total optimization steps = 1000.0") == [
        Config(total_iterations=1000)]
    assert parser.parse("  Total optimization steps = 1,234") == [Config(total_iterations=1234)]
