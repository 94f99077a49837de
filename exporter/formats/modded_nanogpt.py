"""modded-nanogpt: ``step:250/1390 train_time:7921ms step_avg:31.69ms`` and ``step:250/1390 val_loss:3.28 …``.

``step_avg`` is the trainer's own mean step time (validation excluded) and wins: a printed figure over one we
derive. Where it is missing or ``nan`` (``step_avg:nanms`` on the first steps), ``train_time``, the cumulative
training time, gives one iteration's seconds as its difference between consecutive lines over the steps between
them. Older records also print ``train_loss:``.
"""

from __future__ import annotations

import re

from exporter.events import Eval, Event, Progress
from exporter.formats._values import finite, number
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
        average = finite(number(match.group(6)))
        if average is not None:
            seconds = average / 1000.0
        elif previous is not None and train_ms is not None and step > previous[0] and train_ms >= previous[1]:
            seconds = (train_ms - previous[1]) / (step - previous[0]) / 1000.0
        return [
            Progress(iteration=step, total_iterations=total, iteration_seconds=seconds, loss=number(match.group(4)))
        ]


PARSERS: tuple[type[Parser], ...] = (ModdedNanoGptParser,)
