"""torchtune's metric loggers: ``Step 12 | loss:1.2345 lr:2e-05 tokens_per_second_per_gpu:1234.5 …``.

Follows ``torchtune/training/metric_logging.py`` at commit bd2a0fc7c (2026-04): ``StdoutLogger.log_dict`` prints
``Step {step} | `` then ``{name}:{value} `` per metric, ``log`` prints ``Step {step} | {name}:{value}`` (the
``DiskLogger`` writes the same lines to its file). The recipes' tqdm bar (``1|12|Loss: 1.23: …| 12/300 […]``) is a
tqdm bar.
"""

from __future__ import annotations

import re

from exporter.events import Event, Progress
from exporter.formats._values import finite, number
from exporter.formats.base import Parser

_LINE = re.compile(r"^Step (\d+) \| (\w+:\S+(?: \w+:\S+)*) ?$")


class TorchtuneParser(Parser):
    name = "torchtune"

    def parse(self, text: str) -> list[Event]:
        if not text.startswith("Step "):
            return []
        match = _LINE.match(text)
        if match is None:
            return []
        fields = dict(item.split(":", 1) for item in match.group(2).split())
        if "loss" not in fields and "tokens_per_second_per_gpu" not in fields:
            return []
        return [Progress(iteration=int(match.group(1)), loss=number(fields.get("loss")),
                         tokens_per_second=finite(number(fields.get("tokens_per_second_per_gpu"))))]


PARSERS: tuple[type[Parser], ...] = (TorchtuneParser,)
