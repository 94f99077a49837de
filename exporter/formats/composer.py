"""MosaicML Composer's console logger (``composer/loggers/console_logger.py``; written from its output as users post
it, not checked against a pinned commit): each log step prints a header line
``[batch=12/300000000]:`` (or ``[epoch=1][batch=16/100]:`` when the run's duration is in epochs), followed by one
indented line per metric (``\\t Train loss/train/total: 7.1``). The header gives the position; the loss line that
follows it is attached to the next header's event only as the run's latest loss (Composer prints it after).
"""

from __future__ import annotations

import re

from exporter.events import Event, Progress
from exporter.formats._values import number
from exporter.formats.base import Parser

_HEADER = re.compile(r"^(?:\[epoch=(?P<epoch>\d+)\])?\[batch=(?P<n>\d+)/(?P<total>\d+)\]:")
_LOSS = re.compile(r"^\s*Train loss/train/total:\s*(\S+)")


class ComposerParser(Parser):
    """Composer ``[batch=N/M]:`` headers (and the loss printed under them)."""

    name = "composer"

    def __init__(self) -> None:
        self._loss: float | None = None

    def parse(self, text: str) -> list[Event]:
        if text.startswith("["):
            m = _HEADER.match(text)
            if m is None:
                return []
            epoch = m.group("epoch")
            total = int(m.group("total"))
            if epoch is not None:
                # Per-epoch batches: epoch is 1-based in the header.
                return [Progress(int(m.group("n")), total_iterations=total, epoch=int(epoch) - 1,
                                 batches_per_epoch=total, loss=self._loss)]
            return [Progress(int(m.group("n")), total_iterations=total, loss=self._loss)]
        if "Train loss/train/total" in text:
            m2 = _LOSS.match(text)
            if m2:
                self._loss = number(m2.group(1))
        return []


PARSERS: tuple[type[Parser], ...] = (ComposerParser,)
