"""torchvision reference scripts' ``MetricLogger`` (also DeiT, MAE, DETR, DINO, ConvNeXt, …).

- Training: ``Epoch: [2]  [1480/1504]  eta: 0:01:39  lr: 0.0001  loss: 0.8662 (0.8558)  time: 4.3713
  data: 0.0001  max mem: 51710``. The epoch is printed 0-based; the batch counter is the 0-based index of the
  batch (the last line of an epoch reads ``[1503/1504]``); both are reported as printed. ``time`` and ``data`` are
  means over the logger's window; a ``value (global mean)`` pair reports the first value.
- Evaluation: ``Test:  [ 10/100]  eta: …`` while it runs; ``Test: Total time: 0:00:16 (0.16 s / it)`` when done
  (how long it took: the pass's batches x the time per batch).
- ``Epoch: [2] Total time: 0:21:38 (0.8631 s / it)`` closes a training epoch: progress at the epoch's end (the last
  batch printed is up to ``print_freq - 1`` batches before it).
- The argument echo ``Namespace(…, epochs=90, …)`` gives the number of epochs.
- pytorch/examples' ImageNet ``ProgressMeter``, copied into many training scripts, prints the same counters with
  ``Name value (mean)`` meters: ``Epoch: [0][  10/5005]\tTime  0.312 ( 0.401)\tData  0.002 ( 0.090)\tLoss
  6.9077e+00 (6.9088e+00)\tAcc@1   0.00 (  0.10)`` and ``Test: [ 10/196]\t…`` while it evaluates.
"""

from __future__ import annotations

import re

from exporter.events import Config, Event
from exporter.formats._epochs import EpochTracker
from exporter.formats._values import SCAN_LIMIT, number
from exporter.formats.base import Parser

_LINE = re.compile(
    r"(?:Epoch: \[(?P<epoch>\d+)\]|(?P<test>(?:Test|Val|Eval):(?:\s*[A-Za-z_]\w*)?))"
    r"\s*\[\s*(?P<n>\d+)\s*/\s*(?P<total>\d+)\s*\]"
    r"(?P<rest>.*)$"
)
_FIELD = re.compile(r"(?:^|\s)(loss|time|data)(?::\s*|\s+)([^\s(]+)", re.IGNORECASE)
_EPOCHS = re.compile(r"[(,]\s*epochs=(\d+)\s*[,)]")
_EPOCH_DONE = re.compile(r"^Epoch: \[(\d+)\] Total time:")
_TOTAL_TIME = re.compile(r"^(?:Test|Val|Eval):(?:\s+[A-Za-z_]\w*)?\s+Total time:")
_PER_ITERATION = re.compile(r"\(([\d.]+) s / it\)")


class MetricLoggerParser(Parser):
    """torchvision-style ``MetricLogger.log_every`` lines."""

    name = "metriclogger"

    def __init__(self) -> None:
        self.epochs = EpochTracker()
        self._eval_batches: int | None = None
        """Batches of the evaluation pass under way (its lines' total)."""

    def parse(self, text: str) -> list[Event]:
        if "Namespace(" in text:
            m = _EPOCHS.search(text)
            return [Config(total_epochs=int(m.group(1)))] if m and int(m.group(1)) > 0 else []
        if "[" not in text:
            if "Total time:" in text and _TOTAL_TIME.match(text.lstrip()):
                # ``(0.0217 s / it)`` times the pass's batches is finer than the whole seconds before it.
                per = _PER_ITERATION.search(text)
                seconds = number(per.group(1)) if per else None
                batches, self._eval_batches = self._eval_batches, None
                return self.epochs.eval(done=True, seconds=seconds * batches if seconds and batches else None)
            return []
        m = _LINE.search(text[:SCAN_LIMIT])
        if m is None:
            done = _EPOCH_DONE.match(text.lstrip())
            last = self.epochs.last
            if done and last is not None and last[0] == int(done.group(1)) and last[2]:
                # The epoch's closing line: every batch ran, though the last one printed was up to print_freq-1
                # batches earlier; without it the final iterations of the run would never be seen.
                return self.epochs.train(epoch=last[0], n=last[2], total=last[2], seconds=None,
                                         data_seconds=None, loss=None)
            return []
        n, total = int(m.group("n")), int(m.group("total"))
        if m.group("test"):
            self._eval_batches = total
            return self.epochs.eval(done=False)
        fields = {key.lower(): value for key, value in _FIELD.findall(m.group("rest"))}
        return self.epochs.train(
            epoch=int(m.group("epoch")),
            n=n,
            total=total,
            seconds=fields.get("time"),
            data_seconds=fields.get("data"),
            loss=fields.get("loss"),
        )


PARSERS: tuple[type[Parser], ...] = (MetricLoggerParser,)
