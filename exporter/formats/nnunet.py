"""nnU-Net v2's training log (MIC-DKFZ/nnUNet at 0e495086, ``nnUNetTrainer``: ``print_to_log_file`` prints
``f"{datetime.now()}:"`` then its arguments joined by blanks, to the console and to ``training_log_*.txt``), per epoch::

    2026-12-01 10:00:00.123456: Epoch 5
    2026-12-01 10:00:00.123456: Current learning rate: 0.00955
    2026-12-01 10:02:31.456789: train_loss -0.4321
    2026-12-01 10:02:31.456789: val_loss -0.5012
    2026-12-01 10:02:31.456789: Pseudo dice [np.float32(0.8123)]
    2026-12-01 10:02:31.456789: Epoch time: 151.33 s

(the timestamp becomes the record's time). ``Epoch N`` counts from 0; ``Epoch time`` ends it (its validation
included): progress to N + 1 epochs, its time the epoch's, its loss ``train_loss``. The number of epochs
(``num_epochs``, 1000 unless the trainer class says otherwise, ``nnUNetTrainer_250epochs``) is not printed: pass
``--total-iterations N``.
"""

from __future__ import annotations

import re

from exporter.events import Event, Progress
from exporter.formats._values import number
from exporter.formats.base import Parser

_EPOCH = re.compile(r"Epoch (\d{1,9})\s*$")
_EPOCH_TIME = re.compile(r"Epoch time: (\d+(?:\.\d+)?) s\s*$")
_TRAIN_LOSS = re.compile(r"train_loss (\S+)\s*$")


class NnUnetParser(Parser):
    """The epoch that began and its training loss."""

    name = "nnunet"

    def __init__(self) -> None:
        self._epoch: int | None = None
        self._loss: float | None = None

    def parse(self, text: str) -> list[Event]:
        if not text.startswith(("Epoch", "train_loss")):
            return []
        if (started := _EPOCH.match(text)) is not None:
            self._epoch, self._loss = int(started.group(1)), None
            return []
        if (loss := _TRAIN_LOSS.match(text)) is not None:
            self._loss = number(loss.group(1))
            return []
        ended = _EPOCH_TIME.match(text)
        if ended is None or self._epoch is None:
            return []
        epoch, self._epoch = self._epoch, None
        return [Progress(epoch + 1, iteration_seconds=float(ended.group(1)), loss=self._loss)]


PARSERS: tuple[type[Parser], ...] = (NnUnetParser,)
