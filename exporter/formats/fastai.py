"""fastai's ``Learner.fit`` table (fastprogress in a terminal): a header ``epoch  train_loss  valid_loss  accuracy
time`` and one row per finished epoch (``0  1.234567  0.987654  0.654321  00:10``).

Written from the table users post (fastprogress' console ``ConsoleMasterBar``): a row is the end of an epoch, so
the run's unit is the epoch here: a row is progress to ``epoch + 1`` epochs, its ``time`` the epoch's duration, its
``train_loss`` the loss. ``fit(n)`` does not print ``n``: pass ``--total-iterations N`` (epochs) for an ETA.
"""

from __future__ import annotations

import re

from exporter.events import Event, Progress
from exporter.formats._values import number
from exporter.formats.base import Parser

_HEADER = re.compile(r"^\s*epoch\s+train_loss\s+.*\btime\s*$")
_ROW = re.compile(r"^\s*(\d+)\s+(\S+)\s+.*?\s(?:(\d+):)?(\d+):(\d{2})\s*$")


class FastaiParser(Parser):
    name = "fastai"

    def __init__(self) -> None:
        self._table = False

    def parse(self, text: str) -> list[Event]:
        if _HEADER.match(text):
            self._table = True
            return []
        if not self._table:
            return []
        row = _ROW.match(text)
        if row is None:
            return []
        hours, minutes, seconds = (int(g) if g else 0 for g in row.group(3, 4, 5))
        return [Progress(iteration=int(row.group(1)) + 1, loss=number(row.group(2)),
                         iteration_seconds=float(3600 * hours + 60 * minutes + seconds))]


PARSERS: tuple[type[Parser], ...] = (FastaiParser,)
