"""LitGPT (and lit-gpt / lit-llama before it): the per-iteration line of ``pretrain.py`` and ``finetune/*.py``.

Follows litgpt commit 26857050 (2026-06): ``Epoch 1 | iter 98 step 49 | loss train: 3.123, val: n/a | iter time:
199.07 ms (step) remaining time: 0:10:00`` (``fabric.print`` in ``litgpt/pretrain.py``; the finetune scripts print
the same without ``remaining time``). Older releases printed ``iter 98 step 49: loss 3.1234, iter time: 199.07ms``
and lit-llama ``iter 98: loss 3.1234, time: 199.07ms``. ``iter`` counts micro-batches (the loop's unit and the
one ``max_iters`` counts); ``step`` counts optimizer steps.
"""

from __future__ import annotations

import re

from exporter.events import Event, Progress
from exporter.formats._values import finite, number
from exporter.formats.base import Parser

_LINE = re.compile(
    r"Epoch (\d+) \| iter (\d+) step \d+ \| loss train: (\S+?), val: \S+ \| iter time: ([\d.]+) ms"
    r"|iter (\d+)(?: step \d+)?: loss (\S+?), (?:iter )?time: ([\d.]+) ?ms"
)


class LitGptParser(Parser):
    name = "litgpt"

    def parse(self, text: str) -> list[Event]:
        if "iter " not in text or "time: " not in text:
            return []
        match = _LINE.search(text)
        if match is None:
            return []
        if match.group(2) is not None:
            epoch, iteration, loss, ms = match.group(1, 2, 3, 4)
        else:
            epoch, (iteration, loss, ms) = None, match.group(5, 6, 7)
        seconds = finite(number(ms))
        return [Progress(
            iteration=int(iteration),
            iteration_seconds=seconds / 1000.0 if seconds is not None else None,
            loss=number(loss),
            epoch=int(epoch) - 1 if epoch is not None else None,
        )]


PARSERS: tuple[type[Parser], ...] = (LitGptParser,)
