"""NVIDIA NeMo: the Megatron progress line of NeMo 2 (``Training epoch 0, iteration 125/149 | lr: … | global_step:
125 | reduced_train_loss: 2.345 | train_step_timing in s: 0.5412 | consumed_samples: …``) and NeMo Automodel's
``step 14 | epoch 0 | loss 1.2345 | grad_norm 0.51 | lr 1.00e-05 | mem 20.12 GiB | tps 12345.67``.

Written from the lines quoted in the issue (real excerpts from NeMo's issues); ``train_step_timing in s`` is the
step's wall time, ``tps`` tokens per second. The classic NeMo 1 progress bar is a Lightning TQDM bar (``Epoch 0:
12%|…| 125/1000 […]``), which ``lightning`` and ``tqdm_bars`` read.
"""

from __future__ import annotations

import re

from exporter.events import Event, Progress
from exporter.formats._values import finite, number
from exporter.formats.base import Parser

_MEGATRON = re.compile(r"Training epoch (\d+), iteration (\d+)/(\d+) \|")
_AUTOMODEL = re.compile(r"^step (\d+) \| epoch (\d+) \| loss (\S+)")
_FIELD = re.compile(r"\| (reduced_train_loss|train_loss|train_step_timing in s|tps)(?:: ?| )([^|\s]+)")
"""``name: value`` (Megatron line) or ``name value`` (Automodel)."""


class NemoParser(Parser):
    name = "nemo"

    def parse(self, text: str) -> list[Event]:
        if text.startswith("step ") and " | epoch " in text:
            auto = _AUTOMODEL.match(text)
            if auto is None:
                return []
            fields = dict(_FIELD.findall(text))
            return [Progress(iteration=int(auto.group(1)), loss=number(auto.group(3)),
                             tokens_per_second=finite(number(fields.get("tps"))))]
        if "Training epoch " not in text:
            return []
        match = _MEGATRON.search(text)
        if match is None:
            return []
        fields = dict(_FIELD.findall(text))
        loss = fields.get("reduced_train_loss", fields.get("train_loss"))
        return [Progress(iteration=int(match.group(2)), total_iterations=int(match.group(3)), loss=number(loss),
                         iteration_seconds=finite(number(fields.get("train_step_timing in s"))))]


PARSERS: tuple[type[Parser], ...] = (NemoParser,)
