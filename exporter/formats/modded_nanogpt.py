"""modded-nanogpt: ``step:250/1390 train_time:7921ms step_avg:31.69ms`` and ``step:250/1390 val_loss:3.28 …``.

``train_time`` is the cumulative training time (validation excluded), so one iteration's seconds is the difference
of ``train_time`` between consecutive lines divided by the steps between them; ``step_avg`` (the mean since the
start) is the fallback for the first line and after a restart. Older records also print ``train_loss:``;
``step_avg:nanms`` appears on the first steps.
"""

from __future__ import annotations

import re

from exporter.events import Eval, Event, Progress
from exporter.formats._values import number
from exporter.formats.base import Parser

_LINE = re.compile(
    r"step:(\d+)/(\d+)(?: val_loss:(\S+))?(?: train_loss:(\S+))? train_time:([\d.,]+)ms(?: step_avg:(\S+?)ms)?"
)


class ModdedNanoGptParser(Parser):
    """Keeps the last (step, train_time) pair to turn the cumulative time into per-iteration seconds."""

    name = "modded_nanogpt"

    def __init__(self) -> None:
        self._last: tuple[int, float] | None = None

    def parse(self, text: str) -> list[Event]:
        if not text.startswith("step:"):
            return []
        match = _LINE.match(text)
        if match is None:
            return []
        step, total = int(match.group(1)), int(match.group(2))
        train_ms = number(match.group(5))
        previous, self._last = self._last, (step, train_ms) if train_ms is not None else None
        if match.group(3) is not None:
            return [Eval(iteration=step, loss=number(match.group(3)))]
        seconds: float | None = None
        if previous is not None and train_ms is not None and step > previous[0] and train_ms >= previous[1]:
            seconds = (train_ms - previous[1]) / (step - previous[0]) / 1000.0
        else:
            average = number(match.group(6))
            if average is not None and average == average:
                seconds = average / 1000.0
        return [
            Progress(iteration=step, total_iterations=total, iteration_seconds=seconds, loss=number(match.group(4)))
        ]


PARSERS: tuple[type[Parser], ...] = (ModdedNanoGptParser,)
