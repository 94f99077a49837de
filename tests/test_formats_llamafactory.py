"""LLaMA-Factory's ``trainer_log.jsonl``, written from ``src/llamafactory/train/callbacks.py`` (``LogCallback.on_log``
writes ``json.dumps`` of ``current_steps``, ``total_steps``, ``loss``/``eval_loss``, ``lr``, ``epoch``,
``percentage``, ``elapsed_time``, ``remaining_time``, None values dropped)."""

from __future__ import annotations

import math

import pytest

from exporter.events import Eval, Progress
from exporter.formats.llamafactory import LlamaFactoryParser
from exporter.pipeline import Pipeline
from exporter.sources import Record


def test_progress_eval_and_nonfinite_loss() -> None:
    lines = [
        '{"current_steps": 10, "total_steps": 100, "loss": 2.3145, "lr": 9.5e-05, "epoch": 0.1, "percentage": 10.0, '
        '"elapsed_time": "0:01:23", "remaining_time": "0:12:34"}',
        '{"current_steps": 50, "total_steps": 100, "eval_loss": 2.1, "epoch": 0.5, "percentage": 50.0, '
        '"elapsed_time": "0:06:00", "remaining_time": "0:06:00"}',
        '{"current_steps": 60, "total_steps": 100, "loss": NaN, "lr": 5e-05, "epoch": 0.6, "percentage": 60.0, '
        '"elapsed_time": "0:07:00", "remaining_time": "0:05:00"}',
    ]
    pipeline = Pipeline()
    events = [e for i, line in enumerate(lines, 1) for e in pipeline.feed(Record(line, None, i, "trainer_log.jsonl"))]
    assert pipeline.format == "llamafactory"
    first, evaluation, nan = events
    assert isinstance(first, Progress) and (first.iteration, first.total_iterations) == (10, 100)
    assert first.loss == pytest.approx(2.3145)
    assert isinstance(evaluation, Eval) and evaluation.iteration == 50
    assert isinstance(nan, Progress) and nan.loss is not None and math.isnan(nan.loss)
    assert LlamaFactoryParser().parse('{"loss": 1.0}') == [] and LlamaFactoryParser().parse("{broken") == []
