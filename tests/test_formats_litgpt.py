"""LitGPT lines, written from ``fabric.print`` in litgpt/pretrain.py and finetune/lora.py at commit 26857050, and
the older lit-gpt / lit-llama shapes."""

from __future__ import annotations

import math

import pytest

from exporter.events import Progress
from exporter.formats.litgpt import LitGptParser


@pytest.mark.parametrize(("line", "iteration", "seconds", "loss", "epoch"), [
    ("Epoch 1 | iter 98 step 49 | loss train: 3.123, val: n/a | iter time: 199.07 ms (step) remaining time: 0:10:00",
     98, 0.19907, 3.123, 0),
    ("Epoch 3 | iter 1201 step 600 | loss train: 1.875, val: 1.902 | iter time: 567.89 ms", 1201, 0.56789, 1.875, 2),
    ("Epoch 1 | iter 7 step 3 | loss train: nan, val: n/a | iter time: 80.00 ms (step)", 7, 0.08, math.nan, 0),
    ("iter 98 step 49: loss 3.1234, iter time: 199.07ms", 98, 0.19907, 3.1234, None),
    ("iter 10: loss 4.5678, time: 1234.50ms", 10, 1.2345, 4.5678, None),
])
def test_progress_lines(line: str, iteration: int, seconds: float, loss: float, epoch: int | None) -> None:
    [event] = LitGptParser().parse(line)
    assert isinstance(event, Progress) and event.iteration == iteration and event.epoch == epoch
    assert event.iteration_seconds == pytest.approx(seconds)
    assert (math.isnan(event.loss) and math.isnan(loss)) or event.loss == pytest.approx(loss)


def test_other_lines_are_not_progress() -> None:
    parser = LitGptParser()
    for line in ["Validating ...", "iter 5 step 2: val loss 3.2, val time: 120.00 ms", "Saving checkpoint to 'out'"]:
        assert parser.parse(line) == []
