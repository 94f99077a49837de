"""nanoGPT ``train.py``: ``iter N: loss X, time Yms, mfu Z%``, eval and checkpoint lines, and the echoed config.

llama2.c's ``train.py`` is nanoGPT's loop (karpathy/llama2.c at 350e04f, ``train.py`` line 332) with another progress
line: ``590 | loss 1.2345 | lr 1.000000e-04 | 7949.49ms | mfu 2.50%``; its eval (``step N: train loss …, val loss …``),
checkpoint and ``Overriding:`` lines are nanoGPT's, so it is read by this family.

The total is known only from the echoed config: the ``Overriding config with config/X.py:`` header followed by the
file's contents (``max_iters = 5000``) and command-line overrides ``Overriding: max_iters = 2000``; each line
becomes a Config event, so the last one wins downstream. The training loop runs iterations 0..max_iters inclusive
and prints its last ``iter`` line at ``max_iters``, so ``total_iterations`` is ``max_iters``: progress
(iteration / total) reaches exactly 1.0 on the final printed line.
"""

from __future__ import annotations

import re
from itertools import repeat
from operator import truediv

from exporter.events import Checkpoint, Config, Eval, Event, Progress
from exporter.formats._values import integer, number, percent_to_ratio
from exporter.formats.base import Parser

_ITER = re.compile(r"iter (\d+): loss (\S+?), time ([\d.,]+)ms(?:, mfu (-?[\d.]+)%)?")
_LLAMA2C = re.compile(r"(\d+) \| loss (\S+) \| lr \S+ \| ([\d.,]+)ms \| mfu (-?[\d.]+)%")
_EVAL = re.compile(r"step (\d+): train loss (\S+?), val loss (\S+)")
_FAST = re.compile(r"iter (\d{1,15}): loss ([^,\s]+), time (\d{1,12}\.\d+)ms, mfu (\d{1,12}\.\d+|-100\.00)%")
"""``_ITER`` with bounded digits and a plain mfu: the lines of a long log, read without any cleaning."""
_COLUMNS = re.compile(r"iter (\d{1,15}): loss \d{1,12}\.\d+, time (\d{1,12}\.\d+)ms, mfu (?:\d{1,12}\.\d+|-100\.00)%")
"""``_FAST`` with a plain (finite) loss: its iteration and milliseconds as columns."""
_ASSIGN = re.compile(r"(?:Overriding: )?(max_iters|eval_interval|log_interval)\s*=\s*([\d_]+)\s*(?:#.*)?$")
_CONFIG_KEYS = {"max_iters": "total_iterations", "eval_interval": "eval_interval", "log_interval": "log_interval"}


class NanoGptParser(Parser):
    """One nanoGPT run per ``Overriding`` block; keeps whether a config block is open and the last eval step."""

    name = "nanogpt"

    def __init__(self) -> None:
        self._in_config = False
        self._last_step: int | None = None

    def parse(self, text: str) -> list[Event]:
        if text.startswith("iter "):
            return self._iteration(_ITER.match(text))
        if text[:1].isdigit() and " | loss " in text:
            return self._iteration(_LLAMA2C.match(text))
        if text.startswith("Overriding"):
            return self._override(text)
        if text.startswith("step "):
            match = _EVAL.match(text)
            if match is None:
                return []
            self._in_config = False
            self._last_step = int(match.group(1))
            return [Eval(iteration=self._last_step, loss=number(match.group(3)))]
        if text.startswith("saving checkpoint to "):
            return [Checkpoint(iteration=self._last_step, path=text[len("saving checkpoint to ") :].strip() or None)]
        if self._in_config and ("max_iters" in text or "_interval" in text):
            return self._config_line(text)
        return []

    def fast_progress(self, text: str) -> Progress | None:
        match = _FAST.match(text)
        if match is None:
            return None
        iteration, loss_text, ms_text, mfu_text = match.groups()
        try:
            loss = float(loss_text)
        except ValueError:
            return None
        mfu = None if mfu_text[0] == "-" else float(mfu_text) / 100.0
        return self._step(int(iteration), loss, float(ms_text) / 1000.0, mfu)

    def columns(self) -> re.Pattern[str]:
        return _COLUMNS

    def column_seconds(self, texts: list[str]) -> list[float]:
        return list(map(truediv, map(float, texts), repeat(1000.0)))

    def _iteration(self, match: re.Match[str] | None) -> list[Event]:
        if match is None:
            return []
        iteration, loss_text, ms_text, mfu_text = match.groups()
        ms = number(ms_text)
        mfu = percent_to_ratio(mfu_text) if mfu_text is not None else None
        return [self._step(int(iteration), number(loss_text), None if ms is None else ms / 1000.0, mfu)]

    def _step(self, iteration: int, loss: float | None, seconds: float | None, mfu: float | None) -> Progress:
        """An iter line: it ends a config block, and eval/checkpoint lines after it belong to its step."""
        self._in_config = False
        self._last_step = iteration
        return Progress(iteration=iteration, loss=loss, iteration_seconds=seconds, mfu=mfu)

    def _override(self, text: str) -> list[Event]:
        if text.startswith("Overriding config with "):
            self._in_config = True
            return [Config(new_run=True)]
        if not text.startswith("Overriding: "):
            return []
        # Command-line overrides with no config file in front still open a run's config block.
        events: list[Event] = [] if self._in_config else [Config(new_run=True)]
        self._in_config = True
        return events + self._config_line(text)

    def _config_line(self, text: str) -> list[Event]:
        match = _ASSIGN.match(text.strip())
        if match is None:
            return []
        value = integer(match.group(2))
        if value is None:
            return []
        config = Config()
        setattr(config, _CONFIG_KEYS[match.group(1)], value)
        return [config]


PARSERS: tuple[type[Parser], ...] = (NanoGptParser,)
