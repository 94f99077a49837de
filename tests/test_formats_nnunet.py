"""nnU-Net v2's epoch lines, as ``nnUNetTrainer.print_to_log_file`` prints them (MIC-DKFZ/nnUNet at 0e495086:
``on_epoch_start``, ``on_epoch_end``; no run recorded: nnU-Net needs a preprocessed dataset), read through the
reader so that the timestamp prefix becomes the record's time."""

from __future__ import annotations

from pathlib import Path

from exporter.events import Progress
from exporter.formats.nnunet import NnUnetParser
from exporter.pipeline import Pipeline

EPOCH = [
    "2026-12-01 10:00:00.123456: ",
    "2026-12-01 10:00:00.123456: Epoch {e}",
    "2026-12-01 10:00:00.123456: Current learning rate: 0.00955",
    "2026-12-01 10:02:31.456789: train_loss {loss}",
    "2026-12-01 10:02:31.456789: val_loss -0.5012",
    "2026-12-01 10:02:31.456789: Pseudo dice [np.float32(0.8123), np.float32(0.7012)]",
    "2026-12-01 10:02:31.456789: Epoch time: 151.33 s",
    "2026-12-01 10:02:31.456789: Yayy! New best EMA pseudo Dice: 0.7567",
]


def test_an_epoch_ends_with_its_time_and_counts_from_zero(tmp_path: Path) -> None:
    log = tmp_path / "training_log.txt"
    log.write_text("".join(line.format(e=e, loss=-0.43 - e / 100) + "\n" for e in (0, 1) for line in EPOCH))
    pipeline = Pipeline()
    events = list(pipeline.read(log))
    progress = [e for e in events if isinstance(e, Progress)]
    assert pipeline.format == "nnunet"
    assert [(e.iteration, e.iteration_seconds, e.loss) for e in progress] == [(1, 151.33, -0.43), (2, 151.33, -0.44)]
    assert progress[0].time is not None  # the prefix's time


def test_an_epoch_time_without_its_epoch_or_other_lines_are_not_progress() -> None:
    parser = NnUnetParser()
    assert parser.parse("Epoch time: 151.33 s") == []
    assert [e for line in ["Epoch 3", "Epoch 3/10 loss 0.5", "Epoch time: soon"] for e in parser.parse(line)] == []
