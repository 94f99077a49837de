"""LLaMA-Factory's ``trainer_log.jsonl`` (hiyouga/LLaMA-Factory at ff6d4d12e,
``src/llamafactory/train/callbacks.py`` ``LogCallback.on_log``): one JSON object per log step,
``{"current_steps": 10, "total_steps": 100, "loss": 2.31, "lr": 1e-05, "epoch": 0.1, "percentage": 10.0,
"elapsed_time": "0:01:23", "remaining_time": "0:12:34"}``; an evaluation writes ``eval_loss`` instead of ``loss``.
Keys with ``None`` values are left out by LLaMA-Factory. The web UI follows the same file.
"""

from __future__ import annotations

import json

from exporter.events import Eval, Event, Progress
from exporter.formats._values import integer, number
from exporter.formats.base import Parser


class LlamaFactoryParser(Parser):
    """``trainer_log.jsonl`` records."""

    name = "llamafactory"

    def parse(self, text: str) -> list[Event]:
        if '"current_steps"' not in text or not text.lstrip().startswith("{"):
            return []
        try:
            record = json.loads(text)
        except ValueError:
            return []
        if not isinstance(record, dict):
            return []
        step = integer(str(record.get("current_steps")))
        if step is None:
            return []
        total = integer(str(record.get("total_steps"))) or None
        if "eval_loss" in record and "loss" not in record:
            return [Eval(iteration=step, loss=number(str(record["eval_loss"])), done=True)]
        loss = number(str(record["loss"])) if "loss" in record else None
        return [Progress(step, total_iterations=total, loss=loss)]


PARSERS: tuple[type[Parser], ...] = (LlamaFactoryParser,)
