"""timm's ``train.py`` (pytorch-image-models).

- Training: ``Train: 0 [  50/73 ( 70%)]  Loss: 6.77 (6.83)  Time: 0.320s,  400.32/s  (0.470s,  272.39/s)
  LR: 1.000e-05  Data: 0.217 (0.047)``: 0-based epoch, 0-based update index of the epoch's updates (the last line
  of an epoch reads ``[  72/73 (100%)]``), both reported as printed. Each ``value (mean)`` pair reports the
  latest value.
- Evaluation: ``Test: [   0/97]  Time: …  Loss: …  Acc@1: …`` up to ``[  97/97]`` (its last index) when done;
  ``Test (EMA): [ …]`` likewise.
- ``Scheduled epochs: 300`` gives the number of epochs.
"""

from __future__ import annotations

import re

from exporter.events import Config, Event
from exporter.formats._epochs import EpochTracker
from exporter.formats._values import SCAN_LIMIT
from exporter.formats.base import Parser

_LINE = re.compile(
    r"(?:Train: (?P<epoch>\d+) |(?P<test>Test(?: \(EMA\))?:) ?)\[\s*(?P<n>\d+)/(?P<total>\d+)"
    r"(?:\s*\(\s*\d+%\))?\]"
    r"(?P<rest>.*)$"
)
_FIELD = re.compile(r"(?:^|\s)(Loss|Time|Data):\s*(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|nan|inf|-inf|NaN)")
_EPOCHS = re.compile(r"Scheduled epochs:\s*(\d+)")


class TimmParser(Parser):
    """timm ``train.py`` training and validation lines."""

    name = "timm"

    def __init__(self) -> None:
        self.epochs = EpochTracker()

    def parse(self, text: str) -> list[Event]:
        if "[" not in text:
            if "Scheduled epochs" in text:
                m = _EPOCHS.search(text)
                return [Config(total_epochs=int(m.group(1)))] if m and int(m.group(1)) > 0 else []
            return []
        if "Train:" not in text and "Test" not in text:
            return []
        m = _LINE.search(text[:SCAN_LIMIT])
        if m is None:
            return []
        n, total = int(m.group("n")), int(m.group("total"))
        if m.group("test"):
            # The validation loop prints its last batch index as the total: ``[  97/97]`` is the final line.
            return self.epochs.eval(done=n >= total)
        fields = dict(_FIELD.findall(m.group("rest")))
        return self.epochs.train(
            epoch=int(m.group("epoch")),
            n=n,
            total=total,
            seconds=fields.get("Time"),
            data_seconds=fields.get("Data"),
            loss=fields.get("Loss"),
        )


PARSERS: tuple[type[Parser], ...] = (TimmParser,)
