"""nanochat (``base_train.py`` and the mid/SFT scripts):

``step 00123/21400 (0.57%) | loss: 3.12 | lrm: 1.00 | dt: 512.34ms | tok/sec: 1,234,567 | mfu: 45.67 | total time: 1.2m``
(later versions print ``bf16_mfu:`` and ``eta:``). ``mfu`` is a percentage. ``Step 00250 | Validation bpb: 0.98``
lines become Eval (bits per byte stand in for the loss).
"""

from __future__ import annotations

import re

from exporter.events import Eval, Event, Progress
from exporter.formats._values import number, percent_to_ratio
from exporter.formats.base import Parser

_STEP = re.compile(r"step (\d+)/(\d+)(?: \([\d.]+%\))? \|(.*)$")
_FIELD = re.compile(r"\s*([A-Za-z0-9_/ ]+?):\s*(\S+)")
_VAL = re.compile(r"Step (\d+) \| Validation bpb: (\S+)")


class NanochatParser(Parser):
    """Stateless: every field is on the step line."""

    name = "nanochat"

    def parse(self, text: str) -> list[Event]:
        if text.startswith("step "):
            match = _STEP.match(text)
            if match is None or " | " not in text:
                return []
            fields: dict[str, str] = {}
            for part in match.group(3).split("|"):
                field = _FIELD.match(part)
                if field is not None:
                    fields[field.group(1).strip().lower()] = field.group(2)
            if "loss" not in fields and "dt" not in fields:
                return []
            millis = number(fields.get("dt", "").removesuffix("ms")) if "dt" in fields else None
            return [
                Progress(
                    iteration=int(match.group(1)),
                    total_iterations=int(match.group(2)),
                    loss=number(fields.get("loss")),
                    iteration_seconds=None if millis is None else millis / 1000.0,
                    tokens_per_second=number(fields.get("tok/sec")),
                    mfu=percent_to_ratio(fields.get("bf16_mfu", fields.get("mfu"))),
                )
            ]
        if text.startswith("Step ") and "Validation" in text:
            match = _VAL.match(text)
            if match is not None:
                return [Eval(iteration=int(match.group(1)), loss=number(match.group(2)))]
        return []


PARSERS: tuple[type[Parser], ...] = (NanochatParser,)
