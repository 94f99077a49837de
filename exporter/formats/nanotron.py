"""Hugging Face nanotron: ``iteration: 10 / 100 | consumed_tokens: 1.31M | time_per_iteration_ms: 1.23K |
tokens_per_sec: 106K | … | lm_loss: 9.21 | lr: 0.0003 | … | eta: 0:01:50``.

Follows ``LoggerWriter.add_scalars_from_list`` in src/nanotron/logging/base.py and the trainer's log entries at
commit 2411b022 (2026-04); older releases named the time ``elapsed_time_per_iteration_ms``. Values go through
``human_format``: three significant digits with a K/M/B/T suffix (×1000 each), so ``1.23K`` ms is 1.23 s.
"""

from __future__ import annotations

import re

from exporter.events import Event, Progress
from exporter.formats._values import finite, number
from exporter.formats.base import Parser

_LINE = re.compile(r"\biteration: (\d+) / (\d+) \|")
_FIELD = re.compile(r"\| (time_per_iteration_ms|elapsed_time_per_iteration_ms|tokens_per_sec|lm_loss): "
                    r"(-?[\d.]+(?:e[-+]?\d+)?|nan|inf)([KMBTPE]?)")
_SCALE = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}


def human(value: str, suffix: str) -> float | None:
    """A ``human_format`` figure (``1.23K``) as a float."""
    amount = number(value)
    return None if amount is None else amount * _SCALE[suffix]


class NanotronParser(Parser):
    name = "nanotron"

    def parse(self, text: str) -> list[Event]:
        if "iteration: " not in text:
            return []
        match = _LINE.search(text)
        if match is None:
            return []
        fields = {name: human(value, suffix) for name, value, suffix in _FIELD.findall(text)}
        ms = fields.get("time_per_iteration_ms", fields.get("elapsed_time_per_iteration_ms"))
        seconds = finite(ms)
        return [Progress(iteration=int(match.group(1)), total_iterations=int(match.group(2)),
                         iteration_seconds=seconds / 1000.0 if seconds is not None else None,
                         loss=fields.get("lm_loss"), tokens_per_second=finite(fields.get("tokens_per_sec")))]


PARSERS: tuple[type[Parser], ...] = (NanotronParser,)
