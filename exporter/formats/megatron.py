"""Megatron-LM (and the Megatron part of Megatron-DeepSpeed) ``training_log`` lines.

`` [2024-04-06 02:59:36] iteration       43/     100 | consumed samples: 5504 | elapsed time per iteration (ms):
5444.9 | … | lm loss: 7.1E+00 | …`` (the bracketed timestamp since 2024-03; older logs have none). The
per-iteration time is a mean over the log interval, so ``averaged_over`` is set to that interval once it is known:
from the echoed ``log_interval …… 10`` argument, else from the iteration difference of consecutive lines.
Data-loading time exists only with timing level 2 (``batch-generator``); its timers print after the iteration line
of the same interval, so it is reported with the next iteration line. Also: ``validation loss at iteration N |
lm loss value: X`` (Eval), ``saving checkpoint at iteration N to PATH`` (Checkpoint), and the ``arguments`` dump
(``train_iters``, ``eval_interval``, ``log_interval``; ``train_samples // global_batch_size`` when only samples
are given).
"""

from __future__ import annotations

import re

from exporter.events import Checkpoint, Config, Eval, Event, Progress
from exporter.formats._values import integer, number
from exporter.formats.base import Parser

_ITERATION = re.compile(r"iteration\s+(\d+)/\s*(\d+) \|")
_ARGUMENT = re.compile(r"\s+(\w+) \.{3,} (\S+)\s*$")
_BATCH_GENERATOR = re.compile(r"batch-generator[ .]*:\s*(?:\(\s*[\d.]+,\s*([\d.]+)\)|([\d.]+))")
_VALIDATION = re.compile(r"validation loss at iteration\s+(\d+)[^|]*\|(.*)$")
_SAVING = re.compile(r"saving checkpoint at iteration\s+(\d+) to (\S+)")
_ARGUMENT_KEYS = {"train_iters", "eval_interval", "log_interval", "global_batch_size", "train_samples"}


def _fields(segments: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for segment in segments:
        key, sep, value = segment.rpartition(":")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


class MegatronParser(Parser):
    """Keeps the echoed arguments, the previous iteration (for the interval) and a pending data time."""

    name = "megatron"

    def __init__(self) -> None:
        self._log_interval: int | None = None
        self._previous_iteration: int | None = None
        self._pending_data_seconds: float | None = None
        self._global_batch_size: int | None = None
        self._train_iters_given = False

    def parse(self, text: str) -> list[Event]:
        if "iteration" in text:
            if "elapsed time per iteration" in text:
                return self._iteration(text)
            if "validation loss at iteration" in text:
                return self._validation(text)
            if "saving checkpoint at iteration" in text:
                match = _SAVING.search(text)
                if match is not None:
                    return [Checkpoint(iteration=int(match.group(1)), path=match.group(2))]
                return []
        if "batch-generator" in text:
            match = _BATCH_GENERATOR.search(text)
            if match is not None:
                millis = number(match.group(1) or match.group(2))
                self._pending_data_seconds = None if millis is None else millis / 1000.0
            return []
        if " arguments " in text and text.lstrip().startswith("---") and "end of" not in text:
            self._train_iters_given = False
            self._previous_iteration = None
            return [Config(new_run=True)]
        if " ..." in text:
            return self._argument(text)
        return []

    def _iteration(self, text: str) -> list[Event]:
        match = _ITERATION.search(text)
        if match is None:
            return []
        iteration = int(match.group(1))
        fields = _fields(text[match.end() :].split("|"))
        previous, self._previous_iteration = self._previous_iteration, iteration
        interval = self._log_interval
        if interval is None and previous is not None and iteration > previous:
            interval = iteration - previous
        millis = number(fields.get("elapsed time per iteration (ms)"))
        loss = fields.get("lm loss", fields.get("loss"))
        data_seconds, self._pending_data_seconds = self._pending_data_seconds, None
        return [
            Progress(
                iteration=iteration,
                total_iterations=int(match.group(2)),
                iteration_seconds=None if millis is None else millis / 1000.0,
                loss=number(loss),
                tokens_per_second=number(fields.get("tokens per gpu per second (tgs)")),
                data_seconds=data_seconds,
                averaged_over=interval,
            )
        ]

    def _validation(self, text: str) -> list[Event]:
        match = _VALIDATION.search(text)
        if match is None:
            return []
        fields = _fields(match.group(2).split("|"))
        return [Eval(iteration=int(match.group(1)), loss=number(fields.get("lm loss value")))]

    def _argument(self, text: str) -> list[Event]:
        match = _ARGUMENT.match(text)
        if match is None or match.group(1) not in _ARGUMENT_KEYS:
            return []
        key, value = match.group(1), integer(match.group(2))
        if value is None:
            return []
        if key == "global_batch_size":
            self._global_batch_size = value
            return []
        if key == "log_interval":
            self._log_interval = value
            return [Config(log_interval=value)]
        if key == "eval_interval":
            return [Config(eval_interval=value)]
        if key == "train_iters":
            self._train_iters_given = True
            return [Config(total_iterations=value)]
        if not self._train_iters_given and self._global_batch_size:
            return [Config(total_iterations=value // self._global_batch_size)]
        return []


PARSERS: tuple[type[Parser], ...] = (MegatronParser,)
