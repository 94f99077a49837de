"""Keras progress bars (``model.fit``), Keras 2 and Keras 3.

- ``Epoch 3/10`` header before each epoch: 1-based epoch of the total; events carry the 0-based epoch (2) and
  ``total_epochs`` (10).
- Keras 2: ``61/82 [===>....] - ETA: 37s - loss: 0.41`` while running,
  ``82/82 [======] - 5s 61ms/step - loss: 0.39 - val_loss: 0.41`` at the end of the epoch;
  verbose=2 prints ``82/82 - 5s - loss: … - 61ms/step``.
  Without a known size the total reads ``Unknown``.
- Keras 3: `` 100/1000 ━━━━━━━━━━━━━━━━━━━━ 1:23 92ms/step - loss: 0.12`` (the time is the ETA while running,
  the elapsed time at the end); verbose=2 prints ``1000/1000 - 95s - 94ms/step - loss: …``.

The ``ms/step`` figure is the epoch's mean step time so far; it is reported as ``iteration_seconds``. Keras 2
prints only an ETA while an epoch runs, so those updates have no step time. Validation adds no bar during
``fit`` (its metrics join the epoch's last line, read as an Eval); a bar that follows the last step of an epoch
without a new header belongs to ``evaluate``/``predict`` and is read as an Eval, not as training.
``Epoch 17: early stopping`` (``EarlyStopping(verbose=1)``) ends the run at that epoch.
"""

from __future__ import annotations

import re

from exporter.events import Config, Eval, Event, Progress
from exporter.formats._values import number, step_seconds
from exporter.formats.base import Parser

_HEADER = re.compile(r"^\s*Epoch (\d+)/(\d+)\s*$")
_BAR = re.compile(r"^\s*(?P<n>\d+)/(?P<total>\d+|Unknown)\s+(?:\[[=>.]*\]|━+|(?=-\s))\s*(?P<rest>.*)$")
_STEP = re.compile(r"(\d+(?:\.\d+)?)(s|ms|us|µs|μs)/step")
_METRIC = re.compile(r"(?:^|\s)(loss|val_loss):\s*(\S+)")
_EARLY_STOP = re.compile(r"\s*Epoch (\d+): early stopping$")
"""``EarlyStopping(verbose=1)``'s last word (keras-team/keras at 3422977a5e, ``on_train_end``): fit ended after that
1-based epoch, the run's size, so an early-stopped run reads as finished, not as a stalled one."""


class KerasParser(Parser):
    """Keras 2 and 3 ``Progbar`` output with ``Epoch N/M`` headers."""

    name = "keras"

    def __init__(self) -> None:
        self._epoch: int | None = None
        self._total_epochs: int | None = None
        self._epoch_finished = False
        """The current epoch's bar reached its total: further bars before a header are evaluate/predict."""
        self._steps: int | None = None

    def parse(self, text: str) -> list[Event]:
        if text.endswith(": early stopping"):
            stopped = _EARLY_STOP.match(text)
            epochs = int(stopped.group(1)) if stopped else 0
            if epochs < 1 or self._steps is None:
                return []
            # The last epoch's end again, now of a run of that many epochs (its lines said more).
            return [Config(total_epochs=epochs), Progress(iteration=self._steps, total_iterations=self._steps,
                                                          epoch=epochs - 1, total_epochs=epochs,
                                                          batches_per_epoch=self._steps)]
        if "/" not in text:
            return []
        if "\b" in text:
            # Interactive progbars erase the previous update with backspaces before the ``\r``.
            text = text.replace("\b", "")
        if "Epoch" in text:
            m = _HEADER.match(text)
            if m is None:
                return []
            epoch, total = int(m.group(1)), int(m.group(2))
            if epoch < 1:
                return []
            out: list[Event] = []
            if total != self._total_epochs:
                out.append(Config(total_epochs=total))
            self._epoch, self._total_epochs, self._epoch_finished = epoch - 1, total, False
            return out
        m = _BAR.match(text)
        if m is None:
            return []
        n = int(m.group("n"))
        bar_total = int(m.group("total")) if m.group("total") != "Unknown" else None
        rest = m.group("rest")
        step = _STEP.search(rest)
        seconds = step_seconds(step.group(1), step.group(2)) if step else None
        metrics = dict(_METRIC.findall(rest)) if "loss" in rest else {}
        finished = bar_total is not None and n >= bar_total
        if self._epoch_finished:
            return [Eval(iteration=self._global(), loss=number(metrics.get("loss")), done=finished)]
        self._steps = bar_total if bar_total is not None else self._steps
        out = [
            Progress(
                iteration=n,
                total_iterations=bar_total,
                iteration_seconds=seconds,
                loss=number(metrics.get("loss")),
                epoch=self._epoch,
                total_epochs=self._total_epochs if self._epoch is not None else None,
                batches_per_epoch=bar_total if self._epoch is not None else None,
            )
        ]
        if finished and self._epoch is not None:
            self._epoch_finished = True
            if "val_loss" in metrics:
                out.append(Eval(iteration=self._global(), loss=number(metrics["val_loss"]), done=True))
        return out

    def _global(self) -> int | None:
        if self._epoch is None or self._steps is None:
            return None
        return self._epoch * self._steps + self._steps


PARSERS: tuple[type[Parser], ...] = (KerasParser,)
