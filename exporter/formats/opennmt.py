"""OpenNMT-py: ``Step 2400/200000; acc: 45.2; ppl: 12.3; xent: 2.5; lr: 0.00070; sents: 1234; bsz: …; 12345/23456
tok/s; 123 sec;`` and the 0.x releases' ``Epoch  1, 13400/37527; acc: 40.12; ppl: 30.50; 5432 src tok/s; 4321 tgt
tok/s; 1234 s elapsed``.

Follows ``onmt/utils/statistics.py`` at commit 97111d97 (2024-06): ``Step %2d/%5d`` (the total only when
``train_steps`` is set) and ``%6.0f sec`` = seconds since training started, so one step's seconds is the
difference between two lines over the steps between them (whole seconds: coarse, averaged over a report
interval). The legacy line counts batches within a 1-based epoch.
"""

from __future__ import annotations

import re

from exporter.events import Event, Progress
from exporter.formats.base import Parser

_STEP = re.compile(r"\bStep\s+(\d+)(?:/\s*(\d+))?; acc:[^;]*;.*?(?<!\d)(\d+) sec;")
"""The lookbehind: the elapsed seconds start at a number's first digit (linear on a long run of digits)."""
_LEGACY = re.compile(r"\bEpoch\s+(\d+),\s+(\d+)/\s*(\d+); acc:")


class OpenNmtParser(Parser):
    name = "opennmt"

    def __init__(self) -> None:
        self._last: tuple[int, int] | None = None

    def parse(self, text: str) -> list[Event]:
        if "; acc:" not in text:
            return []
        match = _STEP.search(text)
        if match is not None:
            step, total, elapsed = int(match.group(1)), match.group(2), int(match.group(3))
            previous, self._last = self._last, (step, elapsed)
            seconds = None
            if previous is not None and step > previous[0] and elapsed >= previous[1]:
                seconds = (elapsed - previous[1]) / (step - previous[0])
            return [Progress(iteration=step, total_iterations=int(total) if total else None,
                             iteration_seconds=seconds)]
        legacy = _LEGACY.search(text)
        if legacy is None:
            return []
        epoch, batch, batches = (int(g) for g in legacy.groups())
        return [Progress(iteration=batch, epoch=max(0, epoch - 1), batches_per_epoch=batches)]


PARSERS: tuple[type[Parser], ...] = (OpenNmtParser,)
