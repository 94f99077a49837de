"""The generic fallback: step counters in common shapes from trainers no family knows, and its precision on every
real log in the repository (where a known family applies it must yield no progress that family does not)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from exporter.events import Progress
from exporter.formats import AutoParser, get_parser
from exporter.formats.generic import GenericParser
from exporter.formats.prefixes import strip_prefixes
from exporter.pipeline import Pipeline
from exporter.sources import read_records

ROOT = Path(__file__).resolve().parent.parent
REAL_LOGS = sorted(
    [*ROOT.glob("tests/data/*.log"), *ROOT.glob("tests/data/*.tslog"), *ROOT.glob("benchmarks/data/*.tslog")]
)


def progress(lines: list[str]) -> list[tuple[int, int | None, float | None, float | None]]:
    parser = GenericParser()
    return [
        (e.iteration, e.total_iterations, e.iteration_seconds, e.loss)
        for line in lines
        for e in parser.parse(line)
        if isinstance(e, Progress)
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # Shapes as trainers print them (the trainers named have no family of their own yet).
        ("step 12 | loss 2.3100 | lr 3.0e-04 | 120.5ms", (12, None, None, 2.31)),
        ("Step 12/1000, loss=2.3, time=0.5s", (12, 1000, 0.5, 2.3)),
        ("iter: 12 loss: 1.2", (12, None, None, 1.2)),
        ("global_step=12 loss=0.5 lr=1e-4", (12, None, None, 0.5)),
        ("[ 22/290 02:50 < 38:04, 0.12 it/s, Epoch 0.36/5]", (22, 290, 1 / 0.12, None)),  # HF notebook bar
        ("iter 98 step 49: loss 4.1019, iter time: 199.07ms", (98, None, 0.19907, 4.1019)),  # LitGPT's shape
        ("completed step: 17, seconds: 2.101, TFLOP/s/device: 100.0, loss: 8.912", (17, None, 2.101, 8.912)),
        ("Training epoch 0, iteration 125/149 | lr: 1e-4 | train_step_timing in s: 0.52 | reduced_train_loss: 3.1",
         (125, 149, 0.52, 3.1)),  # NeMo's shape
        ("Step 12 | loss:2.31 tokens_per_second_per_gpu:1234", (12, None, None, 2.31)),  # torchtune's shape
    ],
)
def test_common_step_counter_shapes(line: str, expected: tuple) -> None:
    (got,) = progress([line])
    assert got[:2] == expected[:2]
    assert got[2] == pytest.approx(expected[2]) if expected[2] is not None else got[2] is None
    assert got[3] == pytest.approx(expected[3]) if expected[3] is not None else got[3] is None


@pytest.mark.parametrize(
    "line",
    [
        "max_steps=1000, loss_scale=1",
        "total steps 10 (warmup 2), loss type: ce",
        "save every 500 steps, log loss every 10 steps",
        "warmup_steps: 100 lr: 1e-4",
        "step 250: train loss 2.3383, val loss 2.4551",  # an evaluation summary
        "Validation: step 3/10 loss 1.0",
        "step 12",  # a counter without any training metric
        "downloading shard 3/10",
        " 40%|████      | 4/10 [00:01<00:02, 2.5it/s]",  # tqdm bars are the tqdm family's
    ],
)
def test_not_progress(line: str) -> None:
    assert progress([line]) == []


def test_non_finite_loss_is_kept() -> None:
    (got,) = progress(["step 3 | loss nan | lr 1e-3"])
    assert math.isnan(got[3])


def test_a_counter_going_backwards_is_another_counter_but_a_restart_is_kept() -> None:
    got = progress(["step 100 loss 1.0", "step 40 loss 1.0", "step 101 loss 1.0", "step 0 loss 2.0", "step 1 loss 2"])
    assert [n for n, *_ in got] == [100, 101, 0, 1]


def test_autodetection_falls_back_to_generic_only_when_nothing_else_applies() -> None:
    parser = AutoParser()
    events = [e for line in ["loading", "step 1 | loss 2.0", "step 2 | loss 1.9"] for e in parser.parse(line)]
    events += parser.finish()
    assert parser.name == "generic" and [e.iteration for e in events if isinstance(e, Progress)] == [1, 2]


@pytest.mark.parametrize("path", REAL_LOGS, ids=lambda p: p.name)
def test_no_false_progress_on_real_logs(path: Path) -> None:
    """On each real log: the detected family is a known one, and every progress the fallback would read is
    progress the known family reads too, at the same record with the same counter."""
    pipeline = Pipeline()
    for record in read_records(str(path)):
        pipeline.feed(record)
    pipeline.finish()
    family = pipeline.format
    assert family is not None and family != "generic"
    known, generic = get_parser(family)(), GenericParser()
    false = []
    for record in read_records(str(path)):
        for part in strip_prefixes(record.text).parts:
            expected = [e.iteration for e in known.parse(part) if isinstance(e, Progress)]
            got = [e.iteration for e in generic.parse(part) if isinstance(e, Progress)]
            if got and got[0] not in expected:
                false.append(part)
    assert false == []
