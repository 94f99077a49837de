"""nanotron lines, written from ``LoggerWriter.add_scalars_from_list`` and the trainer's log entries at commit
2411b022 (``human_format`` values), and the older ``elapsed_time_per_iteration_ms`` name."""

from __future__ import annotations

import math

import pytest

from exporter.events import Progress
from exporter.formats.nanotron import NanotronParser

LINE = ("[2024-05-01 12:00:00,000] [INFO|DP=0|PP=0|TP=0]: iteration: 10 / 100 | consumed_tokens: 1.31M | "
        "{time}: 1.23K | tokens_per_sec: 106K | tokens_per_sec_per_gpu: 13.3K | global_batch_size: 64 | "
        "lm_loss: {loss} | lr: 0.0003 | model_tflops_per_gpu: 123 | eta: 0:01:50")


@pytest.mark.parametrize("time_name", ["time_per_iteration_ms", "elapsed_time_per_iteration_ms"])
def test_iteration_line_with_human_format_values(time_name: str) -> None:
    [event] = NanotronParser().parse(LINE.format(time=time_name, loss="9.21"))
    assert isinstance(event, Progress) and (event.iteration, event.total_iterations) == (10, 100)
    assert event.iteration_seconds == pytest.approx(1.23) and event.loss == pytest.approx(9.21)
    assert event.tokens_per_second == pytest.approx(106_000)


def test_nan_loss_and_other_lines() -> None:
    [event] = NanotronParser().parse(LINE.format(time="time_per_iteration_ms", loss="nan"))
    assert math.isnan(event.loss)
    assert NanotronParser().parse("[INFO] Config: iteration: 3") == []
