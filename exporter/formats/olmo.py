"""AI2's OLMo trainer: ``[step=10/739328,epoch=0]`` (behind the logger's prefix), then one indented metric per line
(``    train/CrossEntropyLoss=7.123``, ``    throughput/device/batches_per_second=0.5000``).

Follows ``Trainer.fit`` and ``log_metrics_to_console`` in olmo/train.py at commit 59a53e3f (2025-09): the header
gives the step and ``max_steps``; the metrics follow it in the same log call, so they reach the run's next event:
the loss as the latest loss, batches per second as one step's seconds. Ranks other than 0 print the header alone.
"""

from __future__ import annotations

import re

from exporter.events import Event, Progress
from exporter.formats._values import finite, number
from exporter.formats.base import Parser

_HEADER = re.compile(r"\[step=(\d+)/(\d+)(?:,epoch=(\d+))?\]\s*$")
_METRIC = re.compile(r"^\s+(train/CrossEntropyLoss|throughput/device/batches_per_second)=(\S+)$")


class OlmoParser(Parser):
    name = "olmo"

    def __init__(self) -> None:
        self._loss: float | None = None
        self._seconds: float | None = None

    def parse(self, text: str) -> list[Event]:
        if "[step=" in text:
            match = _HEADER.search(text)
            if match is None:
                return []
            epoch = match.group(3)
            return [Progress(iteration=int(match.group(1)), total_iterations=int(match.group(2)), loss=self._loss,
                             iteration_seconds=self._seconds, epoch=int(epoch) if epoch is not None else None)]
        if text.startswith("    ") and "=" in text:
            metric = _METRIC.match(text)
            if metric is not None:
                value = number(metric.group(2))
                if metric.group(1) == "train/CrossEntropyLoss":
                    self._loss = value
                else:
                    rate = finite(value)
                    self._seconds = 1.0 / rate if rate else None
        return []


PARSERS: tuple[type[Parser], ...] = (OlmoParser,)
