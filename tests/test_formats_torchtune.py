"""torchtune metric-logger lines, written from ``StdoutLogger``/``DiskLogger`` in
torchtune/training/metric_logging.py at commit bd2a0fc7c."""

from __future__ import annotations

import math

import pytest

from exporter.events import Progress
from exporter.formats.torchtune import TorchtuneParser


def test_log_dict_line() -> None:
    [event] = TorchtuneParser().parse("Step 12 | loss:1.2345 lr:2e-05 tokens_per_second_per_gpu:1234.5 "
                                      "peak_memory_active:12.3 peak_memory_alloc:12.3 peak_memory_reserved:14.0 ")
    assert isinstance(event, Progress) and event.iteration == 12 and event.loss == pytest.approx(1.2345)
    assert event.tokens_per_second == pytest.approx(1234.5)


def test_single_metric_and_nan() -> None:
    [event] = TorchtuneParser().parse("Step 40 | loss:nan")
    assert event.iteration == 40 and math.isnan(event.loss)


def test_other_step_lines_are_not_progress() -> None:
    parser = TorchtuneParser()
    assert parser.parse("Step 12 | lr:2e-05") == []  # a learning-rate-only record: no sign of training progress
    assert parser.parse("Step 12 | not a metric line") == []
