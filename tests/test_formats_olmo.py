"""OLMo's console metrics, written from ``Trainer.fit`` and ``log_metrics_to_console`` (olmo/train.py, 59a53e3f)."""

from __future__ import annotations

import pytest

from exporter.events import Progress
from exporter.formats.olmo import OlmoParser

BLOCK = [
    "2024-02-01T12:00:00.000 node0:0 olmo.train:1241 INFO [step=10/739328,epoch=0]",
    "    train/CrossEntropyLoss=7.123",
    "    train/Perplexity=1,240",
    "    throughput/total_tokens=41,943,040",
    "    throughput/device/tokens_per_second=9,876",
    "    throughput/device/batches_per_second=0.5000",
    "2024-02-01T12:00:02.000 node0:0 olmo.train:1241 INFO [step=11/739328,epoch=0]",
]


def test_the_header_gives_the_step_and_the_metrics_reach_the_next_one() -> None:
    parser = OlmoParser()
    events = [e for line in BLOCK for e in parser.parse(line)]
    assert [(e.iteration, e.total_iterations) for e in events] == [(10, 739328), (11, 739328)]
    assert isinstance(events[1], Progress)
    assert events[1].loss == pytest.approx(7.123) and events[1].iteration_seconds == pytest.approx(2.0)
    assert events[0].loss is None and events[0].epoch == 0


def test_other_ranks_print_the_header_alone_and_other_lines_are_not_progress() -> None:
    parser = OlmoParser()
    [event] = parser.parse("2024-02-01 12:00:00 node1:3 olmo.train:1245 INFO [step=12/100]")
    assert event.iteration == 12
    assert parser.parse("[step=12, rank=0, example=1] \"text\"") == []
    assert parser.parse("    eval/loss=3.1") == []
