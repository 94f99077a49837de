"""OpenMMLab logs: mmengine (mmdet 3.x, mmseg 1.x, mmpretrain, …) and mmcv 1.x (mmdet 2.x, mmseg 0.x).

- mmengine, iteration-based: ``Iter(train) [  100/90000]  lr: 1e-04  eta: 11:49:00  time: 0.9560
  data_time: 0.0067  memory: 8324  loss: 1.23 …``
- mmengine, epoch-based: ``Epoch(train)  [100][1100/4309]  …`` (1-based epoch, per-epoch batch counter)
- mmcv 1.x: ``Epoch [1][100/5005]\\tlr: 1.000e-01, eta: 37 days, 5:46:17, time: 6.430, data_time: 5.762, …`` and
  ``Iter [100/90000]\\t…``
- Validation: ``Epoch(val) [1][ 50/500]  eta: …`` while running, ``Epoch(val) [1][500/500]  coco/bbox_mAP: …``
  (or mmcv's ``Epoch(val) [1][500]\\tbbox_mAP: …``) when done; ``Iter(val)`` likewise. Test runs are ignored.
- The config dump's ``train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)`` (or
  ``max_iters=…``), also spread over several records, gives the run's totals.

``time`` and ``data_time`` are means over the logger's window, reported as printed.
"""

from __future__ import annotations

import re

from exporter.events import Config, Event
from exporter.formats._epochs import EpochTracker
from exporter.formats._values import SCAN_LIMIT
from exporter.formats.base import Parser

_LINE = re.compile(
    r"(?P<kind>Epoch|Iter)(?:\((?P<mode>\w+)\))?\s*"
    r"(?:\[\s*(?P<epoch>\d+)\s*\])?\s*\[\s*(?P<n>\d+)\s*(?:/\s*(?P<total>\d+)\s*)?\]"
    r"(?P<rest>.*)$"
)
_FIELD = re.compile(r"(?:^|[\s,])(time|data_time|loss):\s*([^\s,]+)")
_CFG_KEY = re.compile(r"\b(max_epochs|max_iters|val_interval)\s*=\s*(\d+)")
_CFG_MAX_RECORDS = 20
# mmcv's console ProgressBar used by its evaluation loop: ``[>>>>>>      ] 120/500, 20.3 task/s, elapsed: 6s, ETA: 19s``
_MMCV_BAR = re.compile(r"^\s*\[[>\s]*\]\s*(\d+)/(\d+),\s*[\d.]+ task/s")


class MmengineParser(Parser):
    """mmengine and mmcv 1.x training and validation lines, plus the echoed ``train_cfg``."""

    name = "mmengine"

    def __init__(self) -> None:
        self._train_cfg_records = 0
        self._train_cfg_depth = 0
        """Open parentheses of a ``train_cfg = dict(`` block still being read (0 when outside one)."""
        self.epochs = EpochTracker()

    def parse(self, text: str) -> list[Event]:
        if self._train_cfg_depth or "train_cfg" in text:
            return self._train_cfg(text)
        if "task/s" in text:
            return self._mmcv_progress(text)
        if "[" not in text or ("Epoch" not in text and "Iter" not in text):
            return []
        m = _LINE.search(text[:SCAN_LIMIT])
        if m is None:
            return []
        mode = m.group("mode") or "train"
        kind = m.group("kind")
        n = int(m.group("n"))
        total = int(m.group("total")) if m.group("total") else None
        if mode == "val":
            # mmcv prints one summary line without a total (``Epoch(val) [12][625]``): a finished validation.
            return self.epochs.eval(done=total is None or n >= total)
        if kind == "Epoch" and m.group("epoch") is None:
            return []  # a lone bracket after ``Epoch`` cannot tell the epoch from the batch
        if mode != "train":
            return []
        fields = dict(_FIELD.findall(m.group("rest")))
        epoch = int(m.group("epoch")) - 1 if m.group("epoch") else None
        if epoch is not None and epoch < 0:
            return []
        return self.epochs.train(
            epoch=epoch,
            n=n,
            total=total,
            seconds=fields.get("time"),
            data_seconds=fields.get("data_time"),
            loss=fields.get("loss"),
        )

    def _mmcv_progress(self, text: str) -> list[Event]:
        m = _MMCV_BAR.match(text)
        if m is None:
            return []
        return self.epochs.eval(done=int(m.group(1)) >= int(m.group(2)))

    def _train_cfg(self, text: str) -> list[Event]:
        if self._train_cfg_depth:
            self._train_cfg_records += 1
            if self._train_cfg_records > _CFG_MAX_RECORDS:
                # An unbalanced dump must not swallow the training lines that follow it.
                self._train_cfg_depth = 0
                return self.parse(text)
        else:
            start = text.find("train_cfg")
            rest = text[start + len("train_cfg") :].lstrip()
            if not rest.startswith("=") or "dict(" not in rest:
                return []
            text = rest
            self._train_cfg_records = 0
        self._train_cfg_depth = max(0, self._train_cfg_depth + text.count("(") - text.count(")"))
        found = dict(_CFG_KEY.findall(text))
        if "max_iters" in found:
            return [
                Config(
                    total_iterations=int(found["max_iters"]),
                    eval_interval=int(found["val_interval"]) if "val_interval" in found else None,
                )
            ]
        if "max_epochs" in found:
            # ``val_interval`` counts epochs here, not iterations, so it is not an ``eval_interval``.
            return [Config(total_epochs=int(found["max_epochs"]))]
        return []


PARSERS: tuple[type[Parser], ...] = (MmengineParser,)
