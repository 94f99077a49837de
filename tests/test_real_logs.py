"""Every shared real log (copied into tests/data/formats_*.log) parses with the right family, final iteration
and total. The logs were made by running the real trainers (see /work/shared/logs/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.events import Config, Progress
from exporter.pipeline import Pipeline

DATA = Path(__file__).parent / "data"


def summary(name: str) -> tuple[Pipeline, list[Progress], int | None]:
    pipe = Pipeline()
    events = list(pipe.read(DATA / name))
    progress = [e for e in events if isinstance(e, Progress)]
    configured = [e.total_iterations for e in events if isinstance(e, Config) and e.total_iterations is not None]
    return pipe, progress, configured[-1] if configured else None


@pytest.mark.parametrize(
    ("name", "final", "total"),
    [("real_ng_perturbed.log", 3000, 3000), ("real_ng_noisy_partial.log", 61, 2000)],
)
def test_nanogpt_logs(name: str, final: int, total: int) -> None:
    pipe, progress, configured = summary(name)
    assert pipe.format == "nanogpt"
    assert progress[-1].iteration == final
    assert configured == total
    assert pipe.parser_errors == 0


def test_hf_trainer_log() -> None:
    pipe, progress, configured = summary("real_hf_trainer.log")
    assert pipe.format == "hf_trainer"
    last = progress[-1]
    assert last.global_iteration == 1200
    assert (last.global_total or configured) == 1200
    assert pipe.parser_errors == 0


def test_lightning_rich_log() -> None:
    pipe, progress, _ = summary("real_lightning.log")
    assert pipe.format == "lightning"
    last = progress[-1]
    assert (last.epoch, last.iteration, last.batches_per_epoch, last.total_epochs) == (2, 1000, 1000, 3)
    assert last.global_iteration == 3000 and last.global_total == 3000


def test_lightning_tqdm_log() -> None:
    pipe, progress, _ = summary("real_lightning_tqdm.log")
    assert pipe.format == "lightning"
    last = progress[-1]
    assert (last.epoch, last.iteration, last.batches_per_epoch) == (2, 1000, 1000)
    assert last.global_iteration == 3000
    # The log never states the number of epochs, so the run's total is unknown from it (pass it to the exporter).
    assert last.total_epochs is None and last.global_total is None
    assert max(e.global_iteration for e in progress) == 3000
