"""Ultralytics YOLO training lines. Written from ``ultralytics/engine/trainer.py``'s bar description as we know it
(``("%11s" * 2 + "%11.4g" * (2 + loss_len)) % (f"{epoch + 1}/{self.epochs}", f"{mem}G", *losses, n_instances,
imgsz)``) and the newer bar's shape as users post it; not checked against a pinned commit (no snapshot fetched):

- tqdm era: ``      1/100      2.41G      1.234      2.345      1.111         45        640: 100%|██████████| 8/8
  [00:01<00:00,  4.60it/s]``;
- the newer ultralytics bar: ``      1/100      2.41G      1.234      2.345      1.111         45        640: 100%
  ━━━━━━━━━━━━ 8/8 4.6it/s 1.7s``.

The leading ``epoch/epochs`` (1-based) and the bar's ``batch/batches`` give the run's position: global iteration =
epoch × batches + batch, total = epochs × batches; the rate gives the time per batch; the first number after the
memory is the box loss. Validation bars (``Class Images Instances …``) have no epoch prefix and are not progress.
"""

from __future__ import annotations

import re

from exporter.events import Event, Progress
from exporter.formats._values import SCAN_LIMIT, finite, number
from exporter.formats.base import Parser

_LINE = re.compile(
    r"^\s*(?P<epoch>\d+)/(?P<epochs>\d+)\s+(?P<mem>[\d.]+[GMK]?)\s+(?P<loss>\S+)\s.*?:\s*\d+%\s*(?:\|[^|]*\||[━─╸╺\s]+)\s*"
    r"(?P<n>\d+)/(?P<total>\d+)\s*(?:\[[^,\]]*,\s*)?(?P<rate>[\d.]+)(?P<unit>it/s|s/it)"
)


class UltralyticsParser(Parser):
    """Ultralytics training bars (tqdm and the newer bar)."""

    name = "ultralytics"

    def parse(self, text: str) -> list[Event]:
        if "/" not in text or ("it/s" not in text and "s/it" not in text):
            return []
        m = _LINE.match(text[:SCAN_LIMIT])
        if m is None:
            return []
        rate = finite(number(m.group("rate")))
        seconds = None if not rate else (1.0 / rate if m.group("unit") == "it/s" else rate)
        batches = int(m.group("total"))
        return [
            Progress(
                int(m.group("n")),
                total_iterations=batches,
                iteration_seconds=seconds,
                loss=number(m.group("loss")),
                epoch=int(m.group("epoch")) - 1,
                total_epochs=int(m.group("epochs")),
                batches_per_epoch=batches,
            )
        ]


PARSERS: tuple[type[Parser], ...] = (UltralyticsParser,)
