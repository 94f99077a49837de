"""timm train.py lines (shapes from pytorch-image-models and published logs)."""

from __future__ import annotations

import math

from exporter.events import Config, Eval, Progress
from exporter.formats.timm import PARSERS, TimmParser

LINE = (
    "Train: 0 [  50/73 ( 70%)]  Loss: 6.77 (6.83)  Time: 0.320s,  400.32/s  (0.470s,  272.39/s)  LR: 1.000e-05  "
    "Data: 0.217 (0.047)"
)


def test_module_exports_its_parser() -> None:
    assert PARSERS == (TimmParser,)


def test_training_line() -> None:
    [event] = TimmParser().parse(LINE)
    assert isinstance(event, Progress)
    assert (event.epoch, event.iteration, event.total_iterations, event.batches_per_epoch) == (0, 50, 73, 73)
    assert (event.loss, event.iteration_seconds, event.data_seconds) == (6.77, 0.32, 0.217)


def test_padded_loss_and_nan() -> None:
    [event] = TimmParser().parse(
        "Train: 12 [   0/1251 (  0%)]  Loss:  nan (nan)  Time: 2.061s,   62.11/s  (2.061s,   62.11/s)  "
        "LR: 1.000e-05  Data: 1.521 (1.521)"
    )
    assert (event.epoch, event.iteration, event.iteration_seconds, event.data_seconds) == (12, 0, 2.061, 1.521)
    assert math.isnan(event.loss)


def test_validation_lines() -> None:
    parser = TimmParser()
    parser.parse(LINE)
    events = [
        e
        for line in [
            "Test: [   0/97]  Time: 1.047 (1.047)  Loss:  0.6211 (0.6211)  Acc@1: 85.9375 (85.9375)",
            "Test (EMA): [  97/97]  Time: 0.100 (0.200)  Loss:  0.7000 (0.8000)  Acc@1: 80.0 (81.0)",
        ]
        for e in parser.parse(line)
    ]
    assert [(type(e), e.done, e.iteration) for e in events] == [(Eval, False, 50), (Eval, True, 50)]


def test_scheduled_epochs_config() -> None:
    [config] = TimmParser().parse("Scheduled epochs: 300. LR stepped per epoch.")
    assert isinstance(config, Config) and config.total_epochs == 300


def test_training_line_closes_an_unfinished_validation() -> None:
    parser = TimmParser()
    parser.parse("Test: [  50/97]  Time: 1.0 (1.0)  Loss: 0.6 (0.6)")
    closed, progress = parser.parse(LINE)
    assert isinstance(closed, Eval) and closed.done and isinstance(progress, Progress)
