"""PyTorch Lightning: the real TQDM and Rich logs (tests/data/real_lightning*.log) and written shapes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import records

from exporter.events import Eval, Progress
from exporter.formats.lightning import PARSERS, LightningParser

DATA = Path(__file__).parent / "data"


def feed(lines: list[str], parser: LightningParser | None = None) -> list:
    parser = parser or LightningParser()
    return [event for line in lines for event in parser.parse(line)]


def test_module_exports_its_parser() -> None:
    assert PARSERS == (LightningParser,)


def test_real_tqdm_log_final_epoch_batch_and_global() -> None:
    progress = [e for e in feed(records(DATA / "real_lightning_tqdm.log")) if isinstance(e, Progress)]
    last = progress[-1]
    assert (last.epoch, last.iteration, last.total_iterations, last.batches_per_epoch) == (2, 1000, 1000, 1000)
    assert last.global_iteration == 3000
    assert last.loss == 2.03
    assert {p.epoch for p in progress} == {0, 1, 2}


def test_real_tqdm_log_global_counter_never_goes_back() -> None:
    progress = [e for e in feed(records(DATA / "real_lightning_tqdm.log")) if isinstance(e, Progress)]
    globals_ = [p.global_iteration for p in progress]
    assert globals_ == sorted(globals_)


def test_real_tqdm_log_validation_and_sanity_bars_never_produce_progress() -> None:
    parser = LightningParser()
    evals = []
    for line in records(DATA / "real_lightning_tqdm.log"):
        events = parser.parse(line)
        if line.startswith(("Validation", "Sanity Checking", "Training")):
            assert not any(isinstance(e, Progress) for e in events), line
        if line.startswith("Sanity Checking"):
            assert events == [], line
        evals.extend(e for e in events if isinstance(e, Eval))
    assert [e.iteration for e in evals if e.done] == [1000, 2000, 3000]
    # How long each took, for a log without record times: its 32 batches at the rate the completed bar printed.
    assert [e.seconds for e in evals if e.done] == pytest.approx([32 / 77.93, 32 / 77.87, 32 / 79.10])
    assert all(e.seconds is None for e in evals if not e.done)


def test_epoch_reset_redraw_is_skipped() -> None:
    parser = LightningParser()
    parser.parse("Epoch 0: 100%|██████████| 1000/1000 [00:14<00:00, 68.46it/s, train_loss=2.390, val_loss=2.390]")
    assert parser.parse("Epoch 0:   0%|          | 0/1000 [00:00<?, ?it/s, train_loss=2.390, val_loss=2.390]  ") == []
    [event] = parser.parse("Epoch 1:   0%|          | 0/1000 [00:00<?, ?it/s, train_loss=2.390, val_loss=2.390]")
    assert (event.epoch, event.iteration, event.global_iteration) == (1, 0, 1000)


def test_tqdm_bar_with_v_num_and_loss() -> None:
    [event] = LightningParser().parse(
        "Epoch 0:  92%|███████▉ | 932/1016 [00:33<00:03, 27.70it/s, v_num=77, train_loss=nan]"
    )
    assert (event.epoch, event.iteration, event.total_iterations, event.batches_per_epoch) == (0, 932, 1016, 1016)
    assert math.isclose(event.iteration_seconds, 1 / 27.70)
    assert math.isnan(event.loss)


def test_tqdm_bar_loss_step_preferred_over_epoch_mean() -> None:
    [event] = LightningParser().parse(
        "Epoch 4:  50%|█████     | 50/100 [00:05<00:05, 9.80it/s, v_num=3, loss_epoch=0.900, val_loss=0.7, loss_step=0.512]"
    )
    assert event.loss == 0.512


def test_tqdm_bar_with_unknown_total() -> None:
    [event] = LightningParser().parse("Epoch 2: |          | 57/? [00:04<00:00, 13.31it/s, v_num=0]")
    assert (event.epoch, event.iteration, event.total_iterations, event.batches_per_epoch) == (2, 57, None, None)


def test_validation_bar_opens_and_closes_eval() -> None:
    parser = LightningParser()
    parser.parse("Epoch 0: 100%|██████████| 1000/1000 [00:14<00:00, 70.46it/s, train_loss=2.390]")
    events = feed(
        [
            "Validation: |          | 0/? [00:00<?, ?it/s]",
            "Validation DataLoader 0:  31%|███▏      | 10/32 [00:00<00:00, 77.08it/s]",
            "Validation DataLoader 0: 100%|██████████| 32/32 [00:00<00:00, 77.93it/s]",
        ],
        parser,
    )
    assert [(type(e), e.done, e.iteration) for e in events] == [
        (Eval, False, 1000),
        (Eval, False, 1000),
        (Eval, True, 1000),
    ]


def test_real_rich_log_final_state() -> None:
    progress = [e for e in feed(records(DATA / "real_lightning.log")) if isinstance(e, Progress)]
    [last] = progress
    assert (last.epoch, last.total_epochs, last.iteration, last.batches_per_epoch) == (2, 3, 1000, 1000)
    assert last.global_iteration == 3000 and last.global_total == 3000
    assert math.isclose(last.iteration_seconds, 1 / 795.21)


def test_rich_bar_mid_epoch_with_metrics() -> None:
    [event] = LightningParser().parse(
        "Epoch 3/9  ━━━━━━━━━━━━╸━━━━━━━━━━━━━━━ 45/100 0:00:10 • 0:00:12 12.34it/s v_num: 0 train_loss: 0.123"
    )
    assert (event.epoch, event.total_epochs, event.iteration, event.total_iterations) == (3, 10, 45, 100)
    assert event.loss == 0.123
    assert math.isclose(event.iteration_seconds, 1 / 12.34)
    assert event.global_total == 1000


def test_rich_bar_without_max_epochs_or_rate() -> None:
    [event] = LightningParser().parse("Epoch 7  ━━━━━━━━━━━━━━━━━━━━ 3/100 0:00:01 • -:--:-- 0.00it/s v_num: 1")
    assert (event.epoch, event.total_epochs, event.iteration, event.iteration_seconds) == (7, None, 3, None)


def test_rich_validation_and_sanity_bars() -> None:
    parser = LightningParser()
    parser.parse("Epoch 0/2  ━━━━━━━━━━━━━━━━━━━━ 100/100 0:00:10 • 0:00:00 10.00it/s")
    [event] = parser.parse("Validation DataLoader 0 ━━━━━━━━━━━━━━━━━━━━ 10/32 0:00:00 • 0:00:01 77.00it/s")
    assert isinstance(event, Eval) and not event.done and event.iteration == 100
    assert parser.parse("Sanity Checking DataLoader 0 ━━━━━━━━━━━━━━━━━━━━ 2/2 0:00:00 • 0:00:00 50.00it/s") == []


def test_the_end_of_fit_gives_the_run_its_size() -> None:
    """The real last record of tests/data/real_lightning_tqdm.log: the final bar update with Lightning's end line."""
    from exporter.events import Config

    last = [r for r in records(DATA / "real_lightning_tqdm.log") if "`Trainer.fit` stopped" in r][0]
    events = feed([last])
    assert isinstance(events[0], Progress) and events[0].epoch == 2 and events[0].iteration == 1000
    assert isinstance(events[-1], Config) and events[-1].total_epochs == 3
    steps = feed(["`Trainer.fit` stopped: `max_steps=500` reached."])
    assert len(steps) == 1 and isinstance(steps[0], Config) and steps[0].total_iterations == 500


def test_early_stopping_ends_the_run_with_its_epoch() -> None:
    from exporter.events import Config

    events = feed(["Epoch 4: 100%|██████████| 50/50 [00:01<00:00, 45.00it/s, v_num=1, train_loss=0.31]",
                   "Monitored metric val_loss did not improve in the last 3 records. Best score: 0.123. "
                   "Signaling Trainer to stop."])
    assert isinstance(events[-1], Config) and events[-1].total_epochs == 5  # epochs 0 to 4
    assert feed(["Monitored metric val_loss did not improve in the last 3 records. Signaling Trainer to stop."]) == []


def test_a_hand_written_loops_epoch_bars_count_epochs_from_one() -> None:
    # tests/data/real_tqdm_epoch_loop.log: tqdm 4.70 over 3 epochs of 50 batches, desc=f"Epoch {epoch + 1}/3".
    progress = [e for e in feed(records(DATA / "real_tqdm_epoch_loop.log")) if isinstance(e, Progress)]
    assert [(p.global_iteration, p.global_total) for p in (progress[0], progress[-1])] == [(0, 150), (150, 150)]
    assert {p.epoch for p in progress} == {0, 1, 2}
    # Counted from 0 when the first epoch is 0 (desc=f"Epoch {epoch}/3").
    zero = [e for e in feed(["Epoch 0/3:  50%|█████     | 25/50 [00:01<00:01, 25.00it/s]",
                             "Epoch 1/3:  50%|█████     | 25/50 [00:01<00:01, 25.00it/s]"]) if isinstance(e, Progress)]
    assert [(p.global_iteration, p.global_total) for p in zero] == [(25, 150), (75, 150)]
