"""torchvision-style MetricLogger lines (shapes from torchvision references, DeiT, MAE, DETR logs)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from exporter.events import Config, Eval, Progress
from exporter.formats.metriclogger import PARSERS, MetricLoggerParser

ROOT = Path(__file__).resolve().parents[1]

LINE = (
    "Epoch: [2]  [1480/1504]  eta: 0:01:39  lr: 0.000100  loss: 0.8662 (0.8558)  time: 4.3713  data: 0.0001  "
    "max mem: 51710"
)


def test_module_exports_its_parser() -> None:
    assert PARSERS == (MetricLoggerParser,)


def test_training_line() -> None:
    [event] = MetricLoggerParser().parse(LINE)
    assert isinstance(event, Progress)
    assert (event.epoch, event.iteration, event.total_iterations, event.batches_per_epoch) == (2, 1480, 1504, 1504)
    assert (event.loss, event.iteration_seconds, event.data_seconds) == (0.8662, 4.3713, 0.0001)
    assert event.global_iteration == 2 * 1504 + 1480


def test_imagenet_example_progress_meter() -> None:
    """pytorch/examples' ``imagenet/main.py``: ``ProgressMeter.display`` joins the prefix, the batch counter and
    each ``AverageMeter`` (``'{name} {val:6.3f} ({avg:6.3f})'``) with tabs."""
    parser = MetricLoggerParser()
    [event] = parser.parse(
        "Epoch: [1][ 10/5005]\tTime  0.312 ( 0.401)\tData  0.002 ( 0.090)\tLoss 6.9077e+00 (6.9088e+00)\t"
        "Acc@1   0.00 (  0.10)\tAcc@5   0.78 (  0.51)"
    )
    assert isinstance(event, Progress)
    assert (event.epoch, event.iteration, event.total_iterations) == (1, 10, 5005)
    assert (event.iteration_seconds, event.data_seconds, event.loss) == (0.312, 0.002, 6.9077)
    [evaluating] = parser.parse("Test: [ 10/196]\tTime  0.120 ( 0.130)\tLoss 6.8e+00 (6.8e+00)\tAcc@1 0.0 (0.0)")
    assert isinstance(evaluating, Eval) and not evaluating.done


def test_padded_counter_value_pairs_and_non_finite_loss() -> None:
    [event] = MetricLoggerParser().parse(
        "Epoch: [0]  [   0/5005]  eta: 1 day, 2:03:04  lr: 0.1  img/s: 12.3  loss: nan (nan)  acc1: 0.0 (0.0)  "
        "time: 18.7000 (18.7000)  data: 17.9000 (17.9000)  max mem: 9000"
    )
    assert (event.iteration, event.iteration_seconds, event.data_seconds) == (0, 18.7, 17.9)
    assert math.isnan(event.loss)


def test_test_lines_are_evals() -> None:
    parser = MetricLoggerParser()
    parser.parse(LINE)
    events = [
        e
        for line in [
            "Test:  [  0/100]  eta: 0:00:40  loss: 0.5 (0.5)  acc1: 90.0 (90.0)  time: 0.4000  data: 0.3000",
            "Test: EMA  [ 10/100]  eta: 0:00:12  loss: 0.5 (0.6)  time: 0.1  data: 0.01",
            "Test: Total time: 0:00:16 (0.1600 s / it)",
        ]
        for e in parser.parse(line)
    ]
    assert [(type(e), e.done, e.iteration) for e in events] == [
        (Eval, False, 4488),
        (Eval, False, 4488),
        (Eval, True, 4488),
    ]
    # How long the pass took: its 100 batches at the printed 0.16 s each (finer than the whole 16 s before it).
    assert [e.seconds for e in events] == [None, None, pytest.approx(16.0)]


def test_real_test_pass_says_how_long_it_took() -> None:
    """benchmarks/data/metriclogger_blip.log: the first test pass, 63 batches at 0.0211 s."""
    lines = (ROOT / "benchmarks" / "data" / "metriclogger_blip.log").read_text().splitlines()
    parser = MetricLoggerParser()
    evals = [e for line in lines[: lines.index("Test: Total time: 0:00:01 (0.0211 s / it)") + 1]
             for e in parser.parse(line) if isinstance(e, Eval)]
    assert [e.seconds for e in evals if e.done] == [pytest.approx(63 * 0.0211)]
    assert all(e.seconds is None for e in evals if not e.done)


def test_training_line_closes_an_eval_without_summary() -> None:
    parser = MetricLoggerParser()
    parser.parse("Test:  [ 10/100]  eta: 0:00:12  loss: 0.5 (0.6)  time: 0.1  data: 0.01")
    closed, progress = parser.parse(LINE)
    assert isinstance(closed, Eval) and closed.done and isinstance(progress, Progress)


def test_namespace_echo_gives_epochs() -> None:
    [config] = MetricLoggerParser().parse("Namespace(batch_size=32, epochs=90, lr=0.1, output_dir='.')")
    assert isinstance(config, Config) and config.total_epochs == 90
    assert MetricLoggerParser().parse("Namespace(batch_size=32, warmup_epochs=5)") == []


def test_epoch_total_time_line_is_ignored() -> None:
    assert MetricLoggerParser().parse("Epoch: [2] Total time: 1:50:03 (4.3892 s / it)") == []


def test_the_epoch_closing_line_is_progress_at_the_epoch_end() -> None:
    """torchvision's ``log_every`` prints the batch index every ``print_freq`` batches and then
    ``{header} Total time: …`` once the epoch is done (benchmarks/data/metriclogger_blip.log, print_freq 10)."""
    from exporter.events import Progress
    from exporter.formats.metriclogger import MetricLoggerParser

    parser = MetricLoggerParser()
    lines = [
        "Epoch: [19]  [490/500]  eta: 0:00:00  lr: 0.1  loss: 2.3051 (2.3074)  time: 0.0160  data: 0.0004",
        "Epoch: [19] Total time: 0:00:08 (0.0162 s / it)",
        "Epoch: [3] Total time: 0:00:08 (0.0162 s / it)",  # not the epoch in progress: ignored
    ]
    events = [e for line in lines for e in parser.parse(line)]
    assert [(e.epoch, e.iteration, e.global_iteration) for e in events if isinstance(e, Progress)] == [
        (19, 490, 19 * 500 + 490), (19, 500, 20 * 500)]
