"""PaddlePaddle trainers: PaddleNLP's ``Trainer`` log line, PaddleOCR's and PaddleDetection's training lines.

Written from real lines quoted in the projects' issues (the repositories were too large to fetch here):

- PaddleNLP: ``loss: 2.34567890, learning_rate: 3e-05, global_step: 120, interval_runtime: 12.34,
  interval_samples_per_second: 10.37, interval_steps_per_second: 0.81, epoch: 0.12`` (one step's seconds =
  1 / ``interval_steps_per_second``); its banner prints ``Total optimization steps = 1000.0`` (a float, unlike the HF Trainer's);
- PaddleOCR: ``epoch: [1/500], global_step: 10, lr: 0.001, loss: 1.23, avg_reader_cost: 0.10 s, avg_batch_cost:
  0.51 s, …`` (data and batch seconds per iteration);
- PaddleDetection: ``Epoch: [0] [ 20/500] learning_rate: … loss: … eta: 1:23:45 batch_cost: 0.5123 data_cost:
  0.0123 ips: …`` (a 0-based epoch and the batch within it).
"""

from __future__ import annotations

import re

from exporter.events import Config, Event, Progress
from exporter.formats._values import finite, integer, number
from exporter.formats.base import Parser

_TOTAL = re.compile(r"Total optimization steps = ([\d,.]+)")
_NLP = re.compile(r"\bglobal_step: (\d+),")
_OCR = re.compile(r"\bepoch: \[(\d+)/(\d+)\], global_step: (\d+),")
_DET = re.compile(r"\bEpoch: \[(\d+)\]\s*\[\s*(\d+)/\s*(\d+)\]")
_FIELD = re.compile(
    r"\b(loss|interval_steps_per_second|avg_reader_cost|avg_batch_cost|batch_cost|data_cost): ([^,\s]+)"
)


def _fields(text: str) -> dict[str, float | None]:
    return {name: number(value) for name, value in _FIELD.findall(text)}


class PaddleParser(Parser):
    name = "paddle"

    def parse(self, text: str) -> list[Event]:
        if "Total optimization steps" in text:
            total = _TOTAL.search(text)
            steps = integer(total.group(1).rstrip(".")) if total else None
            return [Config(total_iterations=steps)] if steps else []
        if "global_step: " not in text and "Epoch: [" not in text:
            return []
        fields = _fields(text)
        det = _DET.search(text)
        if det is not None and "batch_cost" in fields:
            epoch, batch, batches = (int(g) for g in det.groups())
            return [Progress(iteration=batch, epoch=epoch, batches_per_epoch=batches, loss=fields.get("loss"),
                             iteration_seconds=finite(fields.get("batch_cost")),
                             data_seconds=finite(fields.get("data_cost")))]
        ocr = _OCR.search(text)
        if ocr is not None:
            return [Progress(iteration=int(ocr.group(3)), epoch=max(0, int(ocr.group(1)) - 1),
                             total_epochs=int(ocr.group(2)), loss=fields.get("loss"),
                             iteration_seconds=finite(fields.get("avg_batch_cost")),
                             data_seconds=finite(fields.get("avg_reader_cost")))]
        nlp = _NLP.search(text)
        rate = finite(fields.get("interval_steps_per_second"))
        if nlp is None or "learning_rate: " not in text:
            return []
        return [Progress(iteration=int(nlp.group(1)), loss=fields.get("loss"),
                         iteration_seconds=1.0 / rate if rate else None)]


PARSERS: tuple[type[Parser], ...] = (PaddleParser,)
