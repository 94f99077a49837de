"""Hugging Face Trainer: the real transformers 5.x log (tests/data/real_hf_trainer.log) and 4.x/5.x shapes."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from conftest import records

from exporter.events import Checkpoint, Config, Eval, Progress
from exporter.formats.hf_trainer import PARSERS, HfTrainerParser

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]


def feed(lines: list[str], parser: HfTrainerParser | None = None) -> list:
    parser = parser or HfTrainerParser()
    return [event for line in lines for event in parser.parse(line)]


def test_module_exports_its_parser() -> None:
    assert PARSERS == (HfTrainerParser,)


def test_real_log_final_iteration_and_total() -> None:
    events = feed(records(DATA / "real_hf_trainer.log"))
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].iteration == 1200
    assert progress[-1].total_iterations == 1200
    assert all(p.total_iterations == 1200 for p in progress)


def test_real_log_eval_bars_never_produce_progress() -> None:
    parser = HfTrainerParser()
    for line in records(DATA / "real_hf_trainer.log"):
        events = parser.parse(line)
        if re.search(r"\| \d+/63 \[", line):
            assert events == [] or all(isinstance(e, Eval) for e in events), line
        if line.startswith("Writing model shards"):
            assert not any(isinstance(e, Progress) for e in events), line


def test_real_log_counter_never_goes_back() -> None:
    progress = [e for e in feed(records(DATA / "real_hf_trainer.log")) if isinstance(e, Progress)]
    iterations = [p.iteration for p in progress]
    assert iterations == sorted(iterations)


def test_real_log_losses_evals_and_checkpoints() -> None:
    events = feed(records(DATA / "real_hf_trainer.log"))
    losses = [e for e in events if isinstance(e, Progress) and e.loss is not None]
    assert len(losses) == 24  # logging_steps=50 over 1200 steps
    assert losses[0].loss == 6.155 and losses[0].iteration == 47  # the bar's latest redraw before the dict line
    finished = [e for e in events if isinstance(e, Eval) and e.done]
    assert [(e.iteration, e.loss) for e in finished] == [(300, 6.151), (600, 6.149), (900, 6.146), (1200, 6.145)]
    assert all(not e.done for e in events if isinstance(e, Eval) and e.loss is None)
    assert [e.iteration for e in events if isinstance(e, Checkpoint)] == [400, 800, 1200]


def test_v4_dict_with_numbers_and_nan() -> None:
    parser = HfTrainerParser()
    parser.parse(" 25%|██▌       | 250/1000 [01:00<03:00,  4.17it/s]")
    [event] = parser.parse("{'loss': nan, 'grad_norm': nan, 'learning_rate': 4.58e-05, 'epoch': 0.25}")
    assert isinstance(event, Progress) and event.iteration == 250 and event.total_iterations == 1000
    assert math.isnan(event.loss)
    [event] = parser.parse("{'loss': 2.119, 'grad_norm': 37.6, 'learning_rate': 4.58e-05, 'epoch': 0.25}")
    assert event.loss == 2.119


def test_v5_quoted_dict() -> None:
    parser = HfTrainerParser()
    parser.parse(" 25%|██▌       | 250/1000 [01:00<03:00,  4.17it/s]")
    [event] = parser.parse("{'loss': '1.178', 'grad_norm': '0.5849', 'learning_rate': '4.796e-05', 'epoch': '0.04'}")
    assert event.loss == 1.178 and event.iteration == 250


def test_dict_glued_to_bar_gives_one_progress_with_loss() -> None:
    events = HfTrainerParser().parse(
        " 30%|███       | 300/1000 [01:12<02:48,  4.16it/s]{'loss': 2.119, 'grad_norm': 37.6, 'epoch': 0.3}"
    )
    assert len(events) == 1
    assert (events[0].iteration, events[0].loss, events[0].iteration_seconds) == (300, 2.119, 1 / 4.16)


def test_loss_before_any_bar_is_progress_at_its_epoch_until_a_bar_takes_over() -> None:
    # A log whose bars go elsewhere has only dicts; a log cut before its bar's first redraw has one dict first.
    parser = HfTrainerParser()
    [event] = parser.parse("{'loss': 3.5, 'learning_rate': 5e-05, 'epoch': 0.01}")
    assert (event.global_iteration, event.batches_per_epoch, event.loss) == (10, 1000, 3.5)
    [event] = parser.parse("  1%|          | 10/1000 [00:02<03:20,  4.90it/s]")
    assert (event.iteration, event.batches_per_epoch, event.loss) == (10, None, None)
    [event] = parser.parse("{'loss': 3.4, 'learning_rate': 5e-05, 'epoch': 0.011}")
    assert (event.iteration, event.batches_per_epoch, event.loss) == (10, None, 3.4)


def test_eval_dict_finishes_eval_with_loss() -> None:
    parser = HfTrainerParser()
    parser.parse(" 30%|███       | 300/1000 [01:12<02:48,  4.16it/s]")
    [event] = parser.parse("{'eval_loss': 1.92, 'eval_runtime': 3.1, 'eval_samples_per_second': 100.0, 'epoch': 0.3}")
    assert isinstance(event, Eval) and event.done and (event.iteration, event.loss, event.seconds) == (300, 1.92, 3.1)


def test_closing_redraw_of_eval_bar_after_eval_dict_is_silent() -> None:
    parser = HfTrainerParser()
    parser.parse(" 25%|██▌       | 300/1200 [00:05<00:16, 55.76it/s]")
    parser.parse(" 76%|███████▌  | 48/63 [00:00<00:00, 157.85it/s]")
    parser.parse("{'eval_loss': '6.151', 'eval_runtime': '0.401', 'epoch': '0.24'}")
    assert parser.parse("100%|██████████| 63/63 [00:00<00:00, 157.85it/s]") == []


def test_train_runtime_summary_reports_the_last_step() -> None:
    parser = HfTrainerParser()
    parser.parse("100%|██████████| 1200/1200 [00:24<00:00, 51.79it/s]")
    [event] = parser.parse("{'train_runtime': '24.76', 'train_samples_per_second': '775.4', 'train_loss': '6.15'}")
    assert isinstance(event, Progress) and (event.iteration, event.total_iterations, event.loss) == (1200, 1200, None)


def test_total_optimization_steps_gives_config_and_identifies_the_training_bar() -> None:
    parser = HfTrainerParser()
    [config] = parser.parse("[INFO|trainer.py:2128] 2024-04-06 02:59:36,123 >>   Total optimization steps = 1,200")
    assert isinstance(config, Config) and config.total_iterations == 1200
    # An evaluation before the first step whose bar is larger than the training bar is still an evaluation.
    [event] = parser.parse("  0%|          | 0/5000 [00:00<?, ?it/s]")
    assert isinstance(event, Eval)
    closed, event = parser.parse("  0%|          | 1/1200 [00:00<?, ?it/s]")
    assert isinstance(closed, Eval) and closed.done
    assert isinstance(event, Progress) and event.iteration == 1


def test_saving_line_and_shard_bar_are_one_checkpoint() -> None:
    parser = HfTrainerParser()
    parser.parse(" 33%|███▎      | 400/1200 [00:07<00:15, 50.55it/s]")
    [event] = parser.parse("Saving model checkpoint to /tmp/hf_out/checkpoint-400")
    assert isinstance(event, Checkpoint) and (event.iteration, event.path) == (400, "/tmp/hf_out/checkpoint-400")
    assert parser.parse("Writing model shards:   0%|          | 0/1 [00:00<?, ?it/s]") == []
    assert parser.parse("Writing model shards: 100%|██████████| 1/1 [00:00<00:00, 363.62it/s]") == []
    # The bar's latest redraw may lag the saved step: the announced save is still counted once.
    parser.parse(" 58%|█████▊    | 698/1200 [00:14<00:09, 52.04it/s]")
    [event] = parser.parse("Saving model checkpoint to /tmp/hf_out/checkpoint-700")
    assert event.iteration == 700
    assert parser.parse("Writing model shards:   0%|          | 0/1 [00:00<?, ?it/s]") == []


def test_running_evaluation_header_opens_an_eval() -> None:
    parser = HfTrainerParser()
    parser.parse(" 30%|███       | 300/1000 [01:12<02:48,  4.16it/s]")
    [event] = parser.parse("***** Running Evaluation *****")
    assert isinstance(event, Eval) and not event.done and event.iteration == 300


def test_ms_swift_dicts_carry_their_own_step() -> None:
    """ms-swift (built on the HF Trainer) prints ``'global_step/max_steps': '110/1000'`` in its dicts: the step
    comes from there, newer than the bar's last redraw."""
    parser = HfTrainerParser()
    parser.parse("Train:  10%|█         | 100/1000 [05:00<45:00,  3.00s/it]")
    [event] = parser.parse("{'loss': 1.2001, 'acc': 0.68, 'grad_norm': 2.0, 'learning_rate': 9.7e-05, "
                           "'memory(GiB)': 20.1, 'train_speed(iter/s)': 0.334, 'epoch': 0.31, "
                           "'global_step/max_steps': '110/1000', 'percentage': '11.00%'}")
    assert (event.iteration, event.total_iterations) == (110, 1000) and event.loss == 1.2001
    assert event.iteration_seconds == pytest.approx(1 / 0.334)


def test_real_resume_skip_ahead_is_not_taken_as_a_pace() -> None:
    """benchmarks/data/hf_resume: killed at step 2779, resumed from checkpoint-2000. The new bar counts the 2003
    steps done before at once (``2003/6000 [00:00<00:00, 16813.61it/s]``) and tqdm shows that rate for ~20 s,
    then rates decaying from it (98, 49 it/s): the pace comes from the bar's elapsed time until the rate agrees."""
    lines = [line.split("\t", 1)[1] for line in records(ROOT / "benchmarks" / "data" / "hf_resume.tslog") if "\t" in line]
    progress = [e for e in feed(lines) if isinstance(e, Progress)]
    back = next(i for i in range(1, len(progress)) if progress[i].iteration < progress[i - 1].iteration)
    assert progress[back - 1].iteration_seconds == pytest.approx(1 / 29.86)
    assert next(e for e in progress[back:] if e.iteration == 2003).iteration_seconds is None
    resumed = [e.iteration_seconds for e in progress[back:] if e.iteration_seconds is not None]
    # At most 45 it/s, as the run went (its fastest redraw says 40.07 it/s): never the skip's or the stale rates.
    assert min(resumed) >= 1 / 45
    assert resumed[-2:] == pytest.approx([1 / 28.75, 1 / 40.07])  # the rate is taken again


def test_real_stdout_alone_counts_thousandths_of_an_epoch() -> None:
    # `python train.py > train.log` (transformers 5.24): the bars went to stderr, only tqdm.write's dicts are here.
    events = feed(records(DATA / "real_hf_dicts_stdout.log"))
    progress = [e for e in events if isinstance(e, Progress)]
    assert len(progress) == 51  # 50 loss dicts (logging_steps=50 over 2,500 steps) and the closing summary
    assert [p.global_iteration for p in progress[:3]] == [20, 40, 60]  # 'epoch': '0.02', '0.04', '0.06'
    assert all(p.batches_per_epoch == 1000 and p.epoch == 0 and p.loss is not None for p in progress[:-1])
    assert [p.global_iteration for p in progress] == sorted(p.global_iteration for p in progress)
    assert progress[-1].global_iteration == 1000 and progress[-1].epoch == 0  # epoch 1.0: the first one's end
    evals = [e for e in events if isinstance(e, Eval)]
    assert [(e.iteration, e.loss, e.seconds) for e in evals][:2] == [(200, 6.15, 1.89), (400, 6.143, 2.124)]
    assert len(evals) == 5 and all(e.done for e in evals)
    # The summary is the run's end: its total, whatever was assumed before.
    assert [e.total_iterations for e in events if isinstance(e, Config)] == [1000]


def test_dicts_alone_with_4x_numbers_a_resume_and_no_epoch() -> None:
    lines = ["{'loss': 2.3, 'learning_rate': 4.9e-05, 'epoch': 0.5}",
             "{'loss': 2.2, 'learning_rate': 4.8e-05, 'epoch': 1.25}",
             "{'loss': 2.1, 'learning_rate': 4.8e-05, 'epoch': 0.75}",  # resumed from an earlier checkpoint
             "{'loss': 2.0, 'learning_rate': 4.7e-05}",  # a custom callback's dict without its epoch: no position
             "{'loss': nan, 'learning_rate': 4.7e-05, 'epoch': 2.0}"]
    progress = [e for e in feed(lines) if isinstance(e, Progress)]
    assert [(p.epoch, p.iteration) for p in progress] == [(0, 500), (1, 250), (0, 750), (1, 1000)]
    assert math.isnan(progress[-1].loss or 0.0)


def test_a_dict_that_prints_its_step_is_at_that_step() -> None:
    # Not the Trainer's own dict (it prints no step): a hand-written loop's print(metrics).
    lines = ["{'step': 10, 'loss': 2.3, 'lr': 0.0001, 'epoch': 0}", "{'step': 20, 'loss': 2.2, 'max_steps': 500, 'epoch': 0}"]
    progress = [e for e in feed(lines) if isinstance(e, Progress)]
    assert [(p.iteration, p.total_iterations, p.batches_per_epoch, p.loss) for p in progress] == [
        (10, None, None, 2.3), (20, 500, None, 2.2)]


def test_a_training_bar_keeps_the_dicts_at_its_steps() -> None:
    parser = HfTrainerParser()
    feed(["  4%|▍         | 47/1200 [00:05<02:10,  8.83it/s]"], parser)
    events = feed(["{'loss': 2.3, 'learning_rate': 4.9e-05, 'epoch': 0.04}"], parser)
    assert [(e.iteration, e.batches_per_epoch, e.loss) for e in events if isinstance(e, Progress)] == [(47, None, 2.3)]
