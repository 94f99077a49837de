"""llm.c (``train_gpt2.cu`` / ``train_gpt2.c``), both eras of its step line.

- 2024-06 on: ``step   61/74 | loss 3.208939 (+nanz)| norm 1.4800 (+nanz)| lr 3.00e-04 | 44.57 ms | -100.0% bf16 MFU |
  91886 tok/s`` (earlier in 2024: ``| train loss 3.2 |`` and ``A100 fp16 MFU``; ``-100%`` = unknown GPU).
- until 2024-05: ``step   12/74: train loss 4.367 norm 1.2 lr 3.00e-04 (80.79 ms, 50700 tok/s)`` with the norm, lr and
  tok/s parts added over time; CPU ``train_gpt2.c``: ``step 3: train loss 4.67 (took 1926.9 ms)`` (no total).
- ``val loss 3.21`` lines become Eval at the last printed step.
- A diverged run prints ``loss      nan (+nanz)``: the value is padded to its width (``%9f``), so spaces vary.
"""

from __future__ import annotations

import re

from exporter.events import Eval, Event, Progress
from exporter.formats._values import number, percent_to_ratio
from exporter.formats.base import Parser

_NEW = re.compile(
    r"step\s+(\d+)/(\d+) \| (?:train )?loss\s+(\S+)[^|]*\|.*?\|\s*([\d.,]+) ms\s*\|"
    r"(?:\s*(-?[\d.]+)%[^|]*MFU\s*\|)?(?:\s*([\d.,]+) tok/s)?"
)
_OLD = re.compile(
    r"step\s+(\d+)(?:/(\d+))?: train loss\s+(\S+)(?: norm \S+)?(?: lr \S+)? \((?:took )?([\d.,]+) ms(?:, ([\d.,]+) tok/s)?\)"
)
_VAL = re.compile(r"val loss (\S+)\s*$")


class LlmcParser(Parser):
    """Keeps the last printed step so that val-loss lines can name it."""

    name = "llmc"

    def __init__(self) -> None:
        self._last_step: int | None = None

    def parse(self, text: str) -> list[Event]:
        if text.startswith("step"):
            if " | " in text:
                match = _NEW.match(text)
                mfu = match.group(5) if match else None
            else:
                match = _OLD.match(text)
                mfu = None
            if match is None:
                return []
            self._last_step = int(match.group(1))
            total = match.group(2)
            millis = number(match.group(4))
            return [
                Progress(
                    iteration=self._last_step,
                    total_iterations=int(total) if total else None,
                    loss=number(match.group(3)),
                    iteration_seconds=None if millis is None else millis / 1000.0,
                    mfu=percent_to_ratio(mfu),
                    tokens_per_second=number(match.group(6) if match.re is _NEW else match.group(5)),
                )
            ]
        if text.startswith("val loss "):
            match = _VAL.match(text)
            if match is None:
                return []
            return [Eval(iteration=self._last_step, loss=number(match.group(1)))]
        return []


PARSERS: tuple[type[Parser], ...] = (LlmcParser,)
