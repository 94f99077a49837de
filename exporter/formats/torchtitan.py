"""torchtitan: ``[titan] 2026-05-18 16:08:16,958 - root - INFO - step: 54  loss:  2.77350  grad_norm: 0.53
memory:  9.46GiB(64.99%)  tps: 7,084  tflops: 0.51  mfu: 0.16%`` (older versions print ``wps:`` for ``tps:``).

No step time is printed, so the line's own timestamp becomes the event time (the estimator paces on it). The total
is only in the startup line ``Training starts at step 1, with local batch size 8, …, total steps 1000 (warmup
200)``, which becomes a Config. ``validate step: N  loss: X`` is an Eval; ``Saving the checkpoint …`` a Checkpoint.
"""

from __future__ import annotations

import re

from exporter.events import Checkpoint, Config, Eval, Event, Progress
from exporter.formats._values import number, percent_to_ratio
from exporter.formats.base import Parser
from exporter.formats.prefixes import split_timestamp

_STEP = re.compile(r"(?:^|\s)step:\s*(\d+)\s+loss:\s*(\S+)(.*)$")
_METRIC = re.compile(r"\b(tps|wps|mfu):\s*([\d.,]+)")
_STARTUP = re.compile(r"Training starts at step (\d+)\b.*?total steps (\d+)")
_VALIDATE = re.compile(r"validate step:\s*(\d+)\s+loss:\s*(\S+)")
_TAG = "[titan] "


def _line_time(text: str) -> float | None:
    if not text.startswith(_TAG):
        return None
    found, _ = split_timestamp(text[len(_TAG) :])
    return found


class TorchtitanParser(Parser):
    """Keeps the last step so a checkpoint line can name it."""

    name = "torchtitan"

    def __init__(self) -> None:
        self._last_step: int | None = None

    def parse(self, text: str) -> list[Event]:
        events = self._events(text)
        if events:
            time = _line_time(text)
            for event in events:
                event.time = time
        return events

    def _events(self, text: str) -> list[Event]:
        if "loss:" in text and "step:" in text:
            if "validate step:" in text:
                match = _VALIDATE.search(text)
                return [] if match is None else [Eval(iteration=int(match.group(1)), loss=number(match.group(2)))]
            match = _STEP.search(text)
            if match is None:
                return []
            self._last_step = int(match.group(1))
            metrics = {key: value for key, value in _METRIC.findall(match.group(3))}
            return [
                Progress(
                    iteration=self._last_step,
                    loss=number(match.group(2)),
                    tokens_per_second=number(metrics.get("tps", metrics.get("wps"))),
                    mfu=percent_to_ratio(metrics.get("mfu")),
                )
            ]
        if "Training starts at step" in text:
            match = _STARTUP.search(text)
            if match is not None:
                return [Config(total_iterations=int(match.group(2)), new_run=True)]
            return []
        if "checkpoint" in text and ("Saving the checkpoint" in text or "Saving a full checkpoint" in text):
            return [Checkpoint(iteration=self._last_step)]
        return []


PARSERS: tuple[type[Parser], ...] = (TorchtitanParser,)
