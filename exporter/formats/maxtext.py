"""MaxText (JAX): ``completed step: 12, seconds: 1.234, TFLOP/s/device: 123.456, Tokens/s/device: 5678.901,
total_weights: 4096, loss: 5.678``, bare or behind an absl prefix (``I0811 12:34:56.789012 140234
metric_logger.py:178] …``).

Follows ``src/maxtext/common/metric_logger.py`` at commit e591f30cb (2026-08): ``seconds`` is the step's time;
during a batch-size ramp-up the line starts with ``[Rampup Batch Size Phase]`` and has no throughput; profiler
boundary steps print ``completed profiler activation/deactivation step: N`` (no time, skipped).
"""

from __future__ import annotations

import re

from exporter.events import Event, Progress
from exporter.formats._values import finite, number
from exporter.formats.base import Parser

_LINE = re.compile(r"completed step: (\d+), seconds: ([\d.]+)")
_TOKENS = re.compile(r"Tokens/s/device: ([\d.]+)")
_LOSS = re.compile(r"\bloss: (\S+?)(?:,|$)")


class MaxTextParser(Parser):
    name = "maxtext"

    def parse(self, text: str) -> list[Event]:
        if "completed step: " not in text:
            return []
        match = _LINE.search(text)
        if match is None:
            return []
        tokens, loss = _TOKENS.search(text), _LOSS.search(text)
        return [Progress(iteration=int(match.group(1)), iteration_seconds=finite(number(match.group(2))),
                         tokens_per_second=finite(number(tokens.group(1))) if tokens else None,
                         loss=number(loss.group(1)) if loss else None)]


PARSERS: tuple[type[Parser], ...] = (MaxTextParser,)
