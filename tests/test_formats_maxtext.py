"""MaxText lines, written from ``MetricLogger`` in src/maxtext/common/metric_logger.py at commit e591f30cb."""

from __future__ import annotations

import pytest

from exporter.events import Progress
from exporter.formats.maxtext import MaxTextParser


@pytest.mark.parametrize("prefix", ["", "I0811 12:34:56.789012 140234 metric_logger.py:178] "])
def test_completed_step_line(prefix: str) -> None:
    [event] = MaxTextParser().parse(prefix + "completed step: 12, seconds: 1.234, TFLOP/s/device: 123.456, "
                                    "Tokens/s/device: 5678.901, total_weights: 4096, loss: 5.678")
    assert isinstance(event, Progress) and event.iteration == 12 and event.iteration_seconds == pytest.approx(1.234)
    assert event.tokens_per_second == pytest.approx(5678.901) and event.loss == pytest.approx(5.678)


def test_rampup_and_profiler_steps() -> None:
    parser = MaxTextParser()
    [ramp] = parser.parse("[Rampup Batch Size Phase] completed step: 3, seconds: 2.000, total_weights: 512, loss: 9.1")
    assert ramp.iteration == 3 and ramp.tokens_per_second is None and ramp.loss == pytest.approx(9.1)
    assert parser.parse("completed profiler activation/deactivation step: 5, total_weights: 512, loss: 9.0") == []
