"""NeMo 2's Megatron progress line and NeMo Automodel's step line, as quoted from NeMo's issues."""

from __future__ import annotations

import math

import pytest

from exporter.events import Progress
from exporter.formats.nemo import NemoParser


def test_megatron_progress_line() -> None:
    [event] = NemoParser().parse(
        "Training epoch 0, iteration 125/149 | lr: 1.5e-05 | global_batch_size: 8 | global_step: 125 | "
        "reduced_train_loss: 2.301 | train_step_timing in s: 0.5398 | consumed_samples: 1008")
    assert isinstance(event, Progress) and (event.iteration, event.total_iterations) == (125, 149)
    assert event.iteration_seconds == pytest.approx(0.5398) and event.loss == pytest.approx(2.301)
    [nan] = NemoParser().parse("Training epoch 0, iteration 3/99 | lr: 1e-05 | reduced_train_loss: nan | "
                               "train_step_timing in s: 26.47")
    assert math.isnan(nan.loss) and nan.iteration_seconds == pytest.approx(26.47)


def test_automodel_step_line() -> None:
    [event] = NemoParser().parse("step 14 | epoch 0 | loss 1.2345 | grad_norm 0.5123 | lr 1.00e-05 | mem 20.12 GiB "
                                 "| tps 12345.67")
    assert isinstance(event, Progress) and event.iteration == 14 and event.loss == pytest.approx(1.2345)
    assert event.tokens_per_second == pytest.approx(12345.67)


def test_other_lines_are_not_progress() -> None:
    parser = NemoParser()
    for line in ["Validation epoch 0, iteration 5/10 | val_loss: 2.0", "step 14 done", "Training epoch 0 finished"]:
        assert parser.parse(line) == []
