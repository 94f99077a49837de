"""spaCy's ``spacy train`` console table: a header ``E    #       LOSS TOK2VEC  LOSS NER  ENTS_F … SCORE``, a rule,
then one row per evaluation: epoch, step, one loss per trainable component, the scores, the weighted score.

Follows ``console_logger`` in spacy/training/loggers.py at commit f69c32f7a (2026-08): a row is written after each
evaluation (every ``eval_frequency`` steps), so each row is progress to its step and an evaluation there; ``E`` is
the 0-based epoch, ``#`` the optimizer step; ``max_steps`` is not printed (pass ``--total-iterations``).
"""

from __future__ import annotations

import re

from exporter.events import Event, Progress
from exporter.formats._values import number
from exporter.formats.base import Parser

_HEADER = re.compile(r"^\s*E\s+#\s+LOSS ")
_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(-?[\d.]+|nan|inf)(?:\s+(?:-?[\d.]+|nan|inf))*\s*$")


class SpacyParser(Parser):
    name = "spacy"

    def __init__(self) -> None:
        self._table = False

    def parse(self, text: str) -> list[Event]:
        if not self._table:
            self._table = _HEADER.match(text) is not None
            return []
        row = _ROW.match(text)
        if row is None:
            return []
        return [Progress(iteration=int(row.group(2)), epoch=int(row.group(1)), loss=number(row.group(3)))]


PARSERS: tuple[type[Parser], ...] = (SpacyParser,)
