"""JSON metric records (``exporter/formats/jsonlines.py``): real mmengine ``vis_data`` files, a recorded hand-written
loop that prints ``json.dumps`` per step, detectron2's ``metrics.json`` lines as its ``JSONWriter`` docstring quotes
them, fairseq's ``--log-format json`` lines as ``JsonProgressBar`` writes them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from exporter.events import Config, Eval, Event, Progress
from exporter.formats.jsonlines import JsonLinesParser
from exporter.pipeline import Pipeline
from exporter.sources import read_records

DATA = Path(__file__).parent / "data"
ROOT = DATA.parent.parent
JSON_LOGS = {"real_mmengine_iter_vis", "real_mmengine_epoch_vis", "torch_json_stall", "torch_json_noisy"}
"""The JSON logs in the repository: mmengine's (``benchmarks/corpus/mm_train.py``, 300 iterations logged every 10, a
validation every 100; the same loop by epochs, 3 of 80 iterations) and the corpus's hand-written loops."""


def parsed(lines: list[str]) -> list[Event]:
    parser = JsonLinesParser()
    return [event for line in lines for event in parser.parse(line)]


def read(path: Path) -> tuple[Pipeline, list[Event]]:
    pipeline = Pipeline()
    return pipeline, list(pipeline.read(path))


def test_mmengine_vis_data_is_progress_and_its_validations_are_evaluations() -> None:
    pipeline, events = read(DATA / "real_mmengine_iter_vis.log")
    assert pipeline.format == "jsonl" and pipeline.parser_errors == 0
    progress = [e for e in events if isinstance(e, Progress)]
    assert [e.iteration for e in progress] == list(range(10, 301, 10))
    assert [e.iteration for e in events if isinstance(e, Eval)] == [100, 200, 300]
    first = progress[0]
    assert (first.loss, first.iteration_seconds, first.data_seconds) == (
        0.6635531485080719, 0.0017256498336791991, 0.0007598400115966797)
    # The same run's text log, read by the mmengine family, is at the same positions.
    _, text = read(DATA / "real_mmengine_iter_text.log")
    assert [e.global_iteration for e in text if isinstance(e, Progress)] == [e.iteration for e in progress]


def test_an_epoch_based_mmengine_validation_at_step_epoch_is_no_step_back() -> None:
    """After each epoch mmengine writes ``{"accuracy": …, "step": 1}``: ``step`` is the epoch there, so it is an
    evaluation at the last training position, not progress back at iteration 1 (a restart)."""
    _, events = read(DATA / "real_mmengine_epoch_vis.log")
    progress = [e.iteration for e in events if isinstance(e, Progress)]
    assert progress == sorted(progress) and progress[-1] == 240
    assert [e.iteration for e in events if isinstance(e, Eval)] == [80, 160, 240]


def test_a_recorded_loop_printing_json_gives_its_total_evaluations_and_times() -> None:
    pipeline, events = read(ROOT / "benchmarks/data/torch_json_stall.tslog")
    assert pipeline.format == "jsonl"
    configs = [e for e in events if isinstance(e, Config)]
    assert [(c.total_iterations, c.eval_interval) for c in configs] == [(10000, 2000)]
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].iteration == 10000 and all(e.iteration_seconds for e in progress)
    evals = [e for e in events if isinstance(e, Eval)]
    assert [e.iteration for e in evals] == [2000, 4000, 6000, 8000, 10000]
    assert all(e.seconds and e.loss is not None for e in evals)


def test_detectron2_metrics_json() -> None:
    train = ('{"data_time": 0.008433341979980469, "iteration": 19, "loss_box_reg": 0.050025828182697296, "lr": '
             '0.007173333333333333, "time": 0.25401854515075684, "total_loss": 1.9228371381759644}')
    evaluation = '{"bbox/AP": 3.41, "bbox/AP50": 9.2, "iteration": 4999}'
    progress, result = parsed([train, evaluation])
    assert isinstance(progress, Progress) and isinstance(result, Eval)
    assert (progress.iteration, progress.loss, progress.iteration_seconds, progress.data_seconds) == (
        19, 1.9228371381759644, 0.25401854515075684, 0.008433341979980469)
    assert result.iteration == 19


def test_fairseq_json_lines_with_numbers_as_strings() -> None:
    inner = ('2026-12-01 10:00:00 | INFO | train_inner | {"epoch": 1, "update": 0.062, "loss": "12.975", "ppl": '
             '"8047.5", "wps": "25380.2", "ups": "6.25", "wpb": "3949.5", "num_updates": "100", "lr": "1.25e-05", '
             '"train_wall": "16", "wall": "17"}')
    valid = ('2026-12-01 10:05:00 | INFO | valid | {"epoch": 1, "valid_loss": "9.01", "valid_ppl": "515.4", '
             '"valid_num_updates": "1612"}')
    end = '2026-12-01 10:05:01 | INFO | train | {"epoch": 1, "train_loss": "10.1", "train_num_updates": "1612"}'
    got = parsed([inner, valid, end])
    assert isinstance(got[0], Progress) and isinstance(got[1], Eval) and isinstance(got[2], Progress)
    assert (got[0].iteration, got[0].loss, got[0].iteration_seconds, got[0].tokens_per_second) == (
        100, 12.975, 0.16, 25380.2)
    assert (got[1].iteration, got[1].loss) == (100, 9.01)
    assert (got[2].iteration, got[2].loss) == (1612, 10.1)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"step": 12, "loss": 2.31, "lr": 3e-4, "step_time": 0.25}', (12, None, 0.25, 2.31)),
        ('2026-12-01 14:03:07,123 - INFO - {"global_step": 12, "total_steps": 500, "loss": 2.3}', (12, 500, None, 2.3)),
        ('{"iter": 7, "max_iters": 90, "train/loss": 1.5, "time_ms": 250}', (7, 90, 0.25, 1.5)),
        ('{"train": {"loss": 0.5, "global_step": 3}, "val": {"loss": 9.0}}', (3, None, None, 0.5)),
        ('{"_step": 40, "train/loss": 0.7, "time": 1733000000.5}', (40, None, None, 0.7)),
        ('{"step": 5, "lr": 0.1, "steps_per_second": 4.0}', (5, None, 0.25, None)),
        ('{"step": 5, "lr": 0.1, "train/it/s": 4.0, "tok/s": 1000}', (5, None, 0.25, None)),
    ],
)
def test_common_json_shapes(line: str, expected: tuple[int, int | None, float | None, float | None]) -> None:
    (event,) = parsed([line])
    assert isinstance(event, Progress)
    assert (event.iteration, event.total_iterations, event.iteration_seconds, event.loss) == expected


@pytest.mark.parametrize(
    "line",
    [
        '{"step": 5}',  # a position without any metric
        '{"step": true, "loss": 1.0}',  # a boolean is no count
        '{"step": 2.5, "loss": 1.0}',
        '{"loss": 1.9, "learning_rate": 1e-4, "epoch": 1.0}',  # an HF-style fractional epoch is no count of epochs
        '{"step": 5, "loss": 1.0} and more',  # the object must end the record
        '{"step": 5, "loss": ',
        '[1, 2, 3]',
        '{' * 5000 + '}' * 5000,  # deeper than the decoder recurses
        "{'step': 5, 'loss': 1.0}",  # a Python dict is the hf_trainer family's
    ],
)
def test_not_progress(line: str) -> None:
    assert [e for e in parsed([line]) if isinstance(e, Progress)] == []


def test_a_config_echoed_as_json_gives_the_total_and_a_nan_loss_is_kept() -> None:
    config, other, progress = parsed(['{"max_steps": 500, "lr": 0.001, "eval_interval": 100}',
                                      '{"eval_steps": 50, "total_steps": 400}', '{"step": 1, "loss": NaN}'])
    assert isinstance(config, Config) and (config.total_iterations, config.eval_interval) == (500, 100)
    assert isinstance(other, Config) and other.total_iterations == 400  # an evaluation's setting is no result
    assert isinstance(progress, Progress) and progress.loss is not None and math.isnan(progress.loss)


def test_a_loop_that_logs_epochs_counts_them_until_steps_appear() -> None:
    got = parsed(['{"epoch": 0, "loss": 0.9, "val_loss": 1.0, "epochs": 3}', '{"epoch": 1, "loss": 0.8}',
                  '{"step": 50, "loss": 0.7}', '{"epoch": 2, "loss": 0.6}'])
    assert [e.iteration for e in got if isinstance(e, Progress)] == [1, 2, 50] and len(got) == 3
    assert isinstance(got[0], Progress) and got[0].total_iterations == 3


@pytest.mark.parametrize(
    "path",
    sorted(p for p in [*DATA.glob("*.log"), *ROOT.glob("benchmarks/data/*.tslog")] if p.stem not in JSON_LOGS),
    ids=lambda p: p.name,
)
def test_no_progress_on_the_other_real_logs(path: Path) -> None:
    parser = JsonLinesParser()
    assert [r.index for r in read_records(str(path)) if any(isinstance(e, Progress) for e in parser.parse(r.text))] == []
