"""detectron2 (and projects built on it: Detic, Mask2Former, …).

- Training: ``[04/05 01:30:24 d2.utils.events]:  eta: 0:03:35  iter: 19  total_loss: 1.36  loss_cls: 0.7  …
  time: 0.3636  last_time: 0.35  data_time: 0.1102  last_data_time: 0.09  lr: 0.0002  max_mem: 433M``.
  ``iter`` counts from 0, so the last line of a run reads ``iter: MAX_ITER - 1``.
- The full config echoed at start (``Running with full config:`` then YAML) has ``MAX_ITER: 90000`` under
  ``SOLVER`` and ``EVAL_PERIOD``; LazyConfig runs echo ``max_iter: 90000``. Totals are expressed in the printed
  counter, so the Config says ``MAX_ITER - 1``: the value ``iter`` has at the last step.
- Evaluation: ``Start inference on 5000 batches``, ``Inference done 11/5000. … ETA=0:05:55`` while it runs,
  ``Total inference time: …`` when done. ``Saving checkpoint to ./output/model_0004999.pth`` is a checkpoint.

Not derived on purpose:
- the total from ``eta`` (total ≈ iter + eta/time): ``eta`` uses the median of up to 1000 iteration times while
  ``time`` is another statistic (the global mean in current versions) and ``eta`` is truncated to seconds, so the
  estimate drifts by more than one iteration; ``total_iterations`` stays None unless the config says it.
- the event time from the ``[MM/DD HH:MM:SS …]`` prefix: it has no year and no zone, so the record's own time
  (container timestamp or arrival time) is kept.
"""

from __future__ import annotations

import re

from exporter.events import Checkpoint, Config, Eval, Event, Progress
from exporter.formats._values import SCAN_LIMIT, finite, number
from exporter.formats.base import Parser

_FIELD = re.compile(r"(?:^|\s)(iter|total_loss|loss|time|data_time):\s*([^\s,]+)")
_MAX_ITER = re.compile(r"^\s*(?:MAX_ITER|max_iter):\s*(\d+)\s*$")
_EVAL_PERIOD = re.compile(r"^\s*EVAL_PERIOD:\s*(\d+)\s*$")
_SAVING = re.compile(r"Saving checkpoint to (\S+)\s*$")
_MODEL_ITER = re.compile(r"model_(\d+)\.")


class Detectron2Parser(Parser):
    """detectron2's ``CommonMetricPrinter`` lines, evaluator lines, checkpoint lines and echoed config."""

    name = "detectron2"

    def __init__(self) -> None:
        self._iteration: int | None = None
        self._eval_open = False

    def parse(self, text: str) -> list[Event]:
        if "iter:" in text and "time:" in text:
            return self._train(text)
        if "MAX_ITER" in text or "max_iter" in text:
            m = _MAX_ITER.match(text)
            if m and int(m.group(1)) > 0:
                return [Config(total_iterations=int(m.group(1)) - 1)]
            return []
        if "EVAL_PERIOD" in text:
            m = _EVAL_PERIOD.match(text)
            return [Config(eval_interval=int(m.group(1)))] if m and int(m.group(1)) > 0 else []
        if "Start inference on" in text or "Inference done" in text:
            self._eval_open = True
            return [Eval(iteration=self._iteration, done=False)]
        if "Total inference time:" in text:
            self._eval_open = False
            return [Eval(iteration=self._iteration, done=True)]
        if "Saving checkpoint to" in text:
            m = _SAVING.search(text)
            if m is None:
                return []
            path = m.group(1)
            step = _MODEL_ITER.search(path)
            return [Checkpoint(iteration=int(step.group(1)) if step else self._iteration, path=path)]
        return []

    def _train(self, text: str) -> list[Event]:
        fields = dict(_FIELD.findall(text, 0, SCAN_LIMIT))
        iteration = fields.get("iter")
        if iteration is None or not iteration.isdigit():
            return []
        out: list[Event] = []
        if self._eval_open:
            self._eval_open = False
            out.append(Eval(iteration=self._iteration, done=True))
        self._iteration = int(iteration)
        loss = fields.get("total_loss", fields.get("loss"))
        out.append(
            Progress(
                iteration=self._iteration,
                iteration_seconds=finite(number(fields.get("time"))),
                data_seconds=finite(number(fields.get("data_time"))),
                loss=number(loss),
            )
        )
        return out


PARSERS: tuple[type[Parser], ...] = (Detectron2Parser,)
