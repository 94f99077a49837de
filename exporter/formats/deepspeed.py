"""DeepSpeed engine lines, plus Megatron-DeepSpeed (which also prints Megatron's iteration lines).

- ``[Rank 0] step=35, skipped=0, lr=[…], mom=[…]`` every ``steps_per_print`` steps (after a logging prefix such as
  ``[2024-04-06 02:59:36,123] [INFO] [logging.py:96:log_dist]``): the global step.
- ``epoch=0/micro_step=40/global_step=40, RunningAvgSamplesPerSec=7.86, CurrSamplesPerSec=8.0, …``: the throughput
  timer; one step's seconds is ``train_batch_size / CurrSamplesPerSec`` once the echoed config revealed
  ``train_batch_size`` (the timer measures samples of the global batch per second).
- pipeline engine: ``steps: 35 loss: 7.1234 iter time (s): 1.234 samples/sec: 103.7``.
- Megatron-DeepSpeed's `` iteration 10/ 500000 | … | samples per second: 6.4 | …`` lines go to the Megatron parser,
  so one parser follows a Megatron-DeepSpeed log whichever line shape shows up first.
"""

from __future__ import annotations

import re

from exporter.events import Event, Progress
from exporter.formats._values import integer, number
from exporter.formats.base import Parser
from exporter.formats.megatron import MegatronParser

_STEP = re.compile(r"\[Rank \d+\] step=(\d+), skipped=(\d+)")
_THROUGHPUT = re.compile(
    r"epoch=\d+/micro_step=\d+/global_step=(\d+), RunningAvgSamplesPerSec=\S+?, CurrSamplesPerSec=([^,\s]+)"
)
_PIPELINE = re.compile(r"steps: (\d+) loss: (\S+) iter time \(s\): ([\d.]+) samples/sec: ([\d.]+)")
_BATCH = re.compile(r"\btrain_batch_size \.+ (\d+)")


class DeepSpeedParser(Parser):
    """Keeps the echoed ``train_batch_size`` and delegates Megatron-shaped lines to a MegatronParser."""

    name = "deepspeed"

    def __init__(self) -> None:
        self._megatron = MegatronParser()
        self._train_batch_size: int | None = None

    def parse(self, text: str) -> list[Event]:
        if "step=" in text:
            if "[Rank " in text:
                match = _STEP.search(text)
                if match is not None:
                    return [Progress(iteration=int(match.group(1)))]
            if "CurrSamplesPerSec=" in text:
                return self._throughput(text)
            return []
        if "iter time (s)" in text:
            match = _PIPELINE.search(text)
            if match is None:
                return []
            return [
                Progress(
                    iteration=int(match.group(1)),
                    loss=number(match.group(2)),
                    iteration_seconds=number(match.group(3)),
                )
            ]
        if "train_batch_size" in text:
            match = _BATCH.search(text)
            if match is not None:
                self._train_batch_size = integer(match.group(1))
            return []
        return self._megatron.parse(text)

    def _throughput(self, text: str) -> list[Event]:
        match = _THROUGHPUT.search(text)
        if match is None:
            return []
        rate = number(match.group(2))
        seconds = None
        if self._train_batch_size and rate is not None and rate > 0:
            seconds = self._train_batch_size / rate
        return [Progress(iteration=int(match.group(1)), iteration_seconds=seconds)]


PARSERS: tuple[type[Parser], ...] = (DeepSpeedParser,)
