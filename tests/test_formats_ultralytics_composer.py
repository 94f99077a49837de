"""Ultralytics YOLO bars (``ultralytics/engine/trainer.py``'s description ``"%11s" * 2 + "%11.4g" * …`` with
``f"{epoch + 1}/{self.epochs}"``, ``f"{mem}G"``, the losses, instances and image size) in the tqdm era and with the
newer bar, and Composer's console logger headers (``[batch=N/M]:``, ``[epoch=E][batch=N/M]:``)."""

from __future__ import annotations

import pytest

from exporter.events import Progress
from exporter.formats.composer import ComposerParser
from exporter.formats.ultralytics import UltralyticsParser
from exporter.pipeline import Pipeline
from exporter.sources import Record

NEW_BAR = "      1/100      2.41G      1.234      2.345      1.111         45        640: 100% ━━━━━━━━━━━━ 8/8 4.6it/s 1.7s"
TQDM = ("      3/100      2.41G      1.234      2.345      1.111         45        640:  50%|█████     | 4/8 "
        "[00:01<00:00,  4.60it/s]")
VALIDATION = ("                 Class     Images  Instances      Box(P          R      mAP50  mAP50-95): 100%|██████████| "
              "4/4 [00:00<00:00,  8.1it/s]")


@pytest.mark.parametrize(("line", "epoch", "batch", "rate"), [(NEW_BAR, 0, 8, 4.6), (TQDM, 2, 4, 4.6)])
def test_ultralytics_epoch_and_batch(line: str, epoch: int, batch: int, rate: float) -> None:
    pipeline = Pipeline()
    (event,) = pipeline.feed(Record(line, None, 1, "yolo.log"))
    assert pipeline.format == "ultralytics"
    assert isinstance(event, Progress)
    assert (event.epoch, event.iteration, event.global_total) == (epoch, batch, 800)
    assert event.global_iteration == epoch * 8 + batch
    assert event.iteration_seconds == pytest.approx(1 / rate) and event.loss == pytest.approx(1.234)


def test_ultralytics_validation_bar_is_not_progress() -> None:
    assert UltralyticsParser().parse(VALIDATION) == []


def test_composer_headers_and_loss() -> None:
    parser = ComposerParser()
    events = [e for line in ["[batch=1/300000000]:", "\t Train loss/train/total: 7.1", "[batch=2/300000000]:",
                             "[epoch=2][batch=16/100]:"] for e in parser.parse(line)]
    assert [(e.iteration, e.global_iteration, e.global_total) for e in events] == [
        (1, 1, 300000000), (2, 2, 300000000), (16, 116, None)]
    assert events[1].loss == pytest.approx(7.1)
