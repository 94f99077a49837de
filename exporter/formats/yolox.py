"""YOLOX (Megvii): ``epoch: 1/300, iter: 10/1833, mem: 5432Mb, iter_time: 0.512s, data_time: 0.101s, total_loss:
12.3, …, lr: 1.234e-05, size: 640, ETA: 3 days, 1:23:45`` behind loguru's prefix.

Written from ``Trainer.after_iter`` of yolox/core/trainer.py as users post its lines: ``epoch`` is 1-based of the
run's epochs, ``iter`` 1-based within the epoch; ``iter_time`` and ``data_time`` are one iteration's seconds.
"""

from __future__ import annotations

import re

from exporter.events import Event, Progress
from exporter.formats._values import finite, number
from exporter.formats.base import Parser

_LINE = re.compile(r"\bepoch: (\d+)/(\d+), iter: (\d+)/(\d+),")
_FIELD = re.compile(r"\b(iter_time|data_time|total_loss): (\S+?)s?,")


class YoloxParser(Parser):
    name = "yolox"

    def parse(self, text: str) -> list[Event]:
        if "iter_time: " not in text:
            return []
        match = _LINE.search(text)
        if match is None:
            return []
        epoch, epochs, batch, batches = (int(g) for g in match.groups())
        fields = {name: number(value) for name, value in _FIELD.findall(text)}
        return [Progress(iteration=batch, epoch=max(0, epoch - 1), total_epochs=epochs, batches_per_epoch=batches,
                         iteration_seconds=finite(fields.get("iter_time")),
                         data_seconds=finite(fields.get("data_time")), loss=fields.get("total_loss"))]


PARSERS: tuple[type[Parser], ...] = (YoloxParser,)
