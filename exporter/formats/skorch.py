"""skorch's ``PrintLog`` table (skorch-dev/skorch at 5db0ddc, ``skorch/callbacks/logging.py``): ``NeuralNet.fit`` prints
a header, a rule of dashes and one row per finished epoch (``tabulate``'s ``simple`` format; the best values coloured
with ANSI escapes, which reading strips)::

      epoch    train_loss    valid_acc    valid_loss    cp      lr     dur
    -------  ------------  -----------  ------------  ----  ------  ------
          1        0.3717       0.8850        0.2770     +  0.0500  0.4889

``epoch`` comes first (1-based: a row is progress to that many epochs), ``dur`` (the epoch's seconds, its validation
included) last, the other columns sorted by name in between; ``cp`` and other event columns are blank when nothing
happened, so a row is read by the rule's column spans. ``max_epochs`` is not printed: pass ``--total-iterations N``
(epochs) for an ETA.
"""

from __future__ import annotations

import re

from exporter.events import Event, Progress
from exporter.formats._values import finite, integer, number
from exporter.formats.base import Parser

_HEADER = re.compile(r"^\s*epoch\s+(?:\S+\s+)*dur\s*$")
_RULE = re.compile(r"^\s*-+(?:\s+-+)*\s*$")
_DASHES = re.compile(r"-+")


class SkorchParser(Parser):
    """The table's column names (from its header) and spans (from its rule)."""

    name = "skorch"

    def __init__(self) -> None:
        self._names: list[str] | None = None
        self._spans: list[tuple[int, int]] | None = None

    def parse(self, text: str) -> list[Event]:
        if _HEADER.match(text):
            self._names, self._spans = text.split(), None
            return []
        if self._names is not None and self._spans is None:
            spans = [m.span() for m in _DASHES.finditer(text)] if _RULE.match(text) else []
            if len(spans) == len(self._names):
                self._spans = spans
            else:
                self._names = None  # no table after all
            return []
        if self._names is None or self._spans is None:
            return []
        cells = dict(zip(self._names, (text[start:end].strip() for start, end in self._spans)))
        epoch, seconds = integer(cells.get("epoch")), finite(number(cells.get("dur")))
        if epoch is None or seconds is None:
            return []
        return [Progress(epoch, iteration_seconds=seconds, loss=number(cells.get("train_loss")))]


PARSERS: tuple[type[Parser], ...] = (SkorchParser,)
