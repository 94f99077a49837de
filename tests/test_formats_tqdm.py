"""tqdm bars: the bar grammar, which bar is the training bar, and robustness of every parser in this family set."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from conftest import records
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.cli import main
from exporter.events import Checkpoint, Eval, Progress, ProgressColumns
from exporter.formats.base import Parser
from exporter.formats.detectron2 import Detectron2Parser
from exporter.formats.hf_trainer import HfTrainerParser
from exporter.formats.keras import KerasParser
from exporter.formats.lightning import LightningParser
from exporter.formats.metriclogger import MetricLoggerParser
from exporter.formats.mmengine import MmengineParser
from exporter.formats.timm import TimmParser
from exporter.formats.tqdm_bars import PARSERS, TqdmBarsParser, match_bar
from exporter.pipeline import Pipeline
from exporter.sources import Record

DATA = Path(__file__).parent / "data"

ALL_PARSERS: list[type[Parser]] = [
    TqdmBarsParser,
    HfTrainerParser,
    LightningParser,
    KerasParser,
    MmengineParser,
    Detectron2Parser,
    MetricLoggerParser,
    TimmParser,
]


def feed(parser: Parser, lines: list[str]) -> list:
    return [event for line in lines for event in parser.parse(line)]


def test_module_exports_its_parser() -> None:
    assert PARSERS == (TqdmBarsParser,)
    assert TqdmBarsParser.name == "tqdm_bars"


def test_seconds_per_iteration_bar() -> None:
    [event] = TqdmBarsParser().parse(" 30%|███▍      | 258/873 [22:15<43:27,  4.24s/it]")
    assert isinstance(event, Progress)
    assert (event.iteration, event.total_iterations) == (258, 873)
    assert event.iteration_seconds == 4.24
    assert event.loss is None and event.epoch is None


def test_iterations_per_second_bar_is_inverted() -> None:
    [event] = TqdmBarsParser().parse("  4%|▍         | 47/1200 [00:00<00:20, 56.65it/s]")
    assert math.isclose(event.iteration_seconds, 1 / 56.65)


def test_unknown_fields_are_none() -> None:
    [event] = TqdmBarsParser().parse("  0%|          | 0/1200 [00:00<?, ?it/s]")
    assert (event.iteration, event.total_iterations, event.iteration_seconds) == (0, 1200, None)


def test_description_and_postfix_loss() -> None:
    [event] = TqdmBarsParser().parse("Steps:  10%|█         | 100/1000 [01:40<15:00,  1.00s/it, loss=0.0831, lr=1e-05]")
    assert (event.iteration, event.total_iterations, event.loss) == (100, 1000, 0.0831)
    bar = match_bar("Steps:  10%|█         | 100/1000 [01:40<15:00,  1.00s/it, loss=0.0831, lr=1e-05]")
    assert bar is not None and bar.desc == "Steps"


def test_non_finite_postfix_loss_is_kept() -> None:
    [event] = TqdmBarsParser().parse(" 10%|█         | 100/1000 [01:40<15:00,  1.00s/it, loss=nan]")
    assert math.isnan(event.loss)


def test_zero_rate_has_no_seconds() -> None:
    [event] = TqdmBarsParser().parse(" 30%|███▍      | 258/873 [22:15<43:27, 0.00it/s]")
    assert (event.iteration, event.iteration_seconds) == (258, None)


def test_bar_without_total() -> None:
    [event] = TqdmBarsParser().parse("Training: 258it [22:15,  4.24s/it]")
    assert (event.iteration, event.total_iterations, event.iteration_seconds) == (258, None, 4.24)


def test_scaled_rate() -> None:
    [event] = TqdmBarsParser().parse(" 50%|█████     | 5000/10000 [00:02<00:02, 2.50kit/s]")
    assert math.isclose(event.iteration_seconds, 1 / 2500)


def test_text_glued_after_bar_is_tolerated() -> None:
    bar = match_bar("  0%|          | 0/1200 [00:00<?, ?it/s][transformers] `loss_type=None` was set")
    assert bar is not None and bar.n == 0 and bar.total == 1200
    assert bar.end == len("  0%|          | 0/1200 [00:00<?, ?it/s]")


def test_nested_bar_with_other_total_is_eval_not_progress() -> None:
    events = feed(
        TqdmBarsParser(),
        [
            " 25%|██▌       | 300/1200 [00:05<00:16, 55.76it/s]",
            "  0%|          | 0/63 [00:00<?, ?it/s]",
            " 51%|█████     | 32/63 [00:00<00:00, 157.35it/s]",
            "100%|██████████| 63/63 [00:00<00:00, 157.85it/s]",
            " 25%|██▌       | 302/1200 [00:05<00:33, 26.75it/s]",
        ],
    )
    assert [type(e) for e in events] == [Progress, Eval, Eval, Eval, Progress]
    assert [e.done for e in events if isinstance(e, Eval)] == [False, False, True]
    assert all(e.iteration == 300 for e in events if isinstance(e, Eval))
    assert events[-1].iteration == 302


def test_eval_bar_that_vanishes_is_closed_when_training_moves() -> None:
    events = feed(
        TqdmBarsParser(),
        [
            " 25%|██▌       | 300/1200 [00:05<00:16, 55.76it/s]",
            " 76%|███████▌  | 48/63 [00:00<00:00, 157.85it/s]",
            " 25%|██▌       | 302/1200 [00:05<00:33, 26.75it/s]",
        ],
    )
    assert [(type(e), getattr(e, "done", None)) for e in events] == [
        (Progress, None),
        (Eval, False),
        (Eval, True),
        (Progress, None),
    ]


def test_final_eval_after_last_step_is_not_a_new_training_bar() -> None:
    events = feed(
        TqdmBarsParser(),
        [
            "100%|██████████| 1200/1200 [00:24<00:00, 51.79it/s]",
            "  0%|          | 0/63 [00:00<?, ?it/s]",
            " 92%|█████████▏| 58/63 [00:00<00:00, 129.80it/s]",
        ],
    )
    assert [type(e) for e in events] == [Progress, Eval, Eval]
    assert events[0].iteration == 1200


def test_short_bar_before_training_gives_way_to_larger_training_bar() -> None:
    events = feed(
        TqdmBarsParser(),
        [
            "  0%|          | 0/40 [00:00<?, ?it/s]",
            "100%|██████████| 40/40 [00:01<00:00, 35.00it/s]",
            "  0%|          | 0/500 [00:00<?, ?it/s]",
            "  1%|          | 5/500 [00:00<00:50, 10.00it/s]",
        ],
    )
    progress = [e for e in events if isinstance(e, Progress)]
    assert [(p.iteration, p.total_iterations) for p in progress][-2:] == [(0, 500), (5, 500)]


def test_placeholder_bar_without_total_gives_way_to_the_real_bar() -> None:
    events = feed(
        TqdmBarsParser(),
        [
            "Training: |          | 0/? [00:00<?, ?it/s]",
            "Epoch 0:   0%|          | 0/1000 [00:00<?, ?it/s]",
            "Epoch 0:   0%|          | 1/1000 [00:00<00:20, 48.27it/s]",
        ],
    )
    assert [(type(e), e.iteration, e.total_iterations) for e in events] == [
        (Progress, 0, None),
        (Progress, 0, 1000),
        (Progress, 1, 1000),
    ]


def test_eval_at_step_zero_is_nested_even_before_training_moves() -> None:
    events = feed(
        TqdmBarsParser(),
        [
            "  0%|          | 0/1200 [00:00<?, ?it/s]",
            "  0%|          | 0/63 [00:00<?, ?it/s]",
            " 51%|█████     | 32/63 [00:00<00:00, 157.35it/s]",
        ],
    )
    assert [type(e) for e in events] == [Progress, Eval, Eval]


def test_tool_bars_and_non_iteration_units_are_ignored() -> None:
    parser = TqdmBarsParser()
    assert parser.parse("Loading checkpoint shards: 100%|██████████| 2/2 [00:03<00:00,  1.50s/it]") == []
    assert parser.parse("Map: 100%|██████████| 20000/20000 [00:01<00:00, 15000.00 examples/s]") == []
    assert parser.parse("model.safetensors: 100%|██████████| 548M/548M [00:05<00:00, 98.1MB/s]") == []
    [event] = parser.parse("  0%|          | 3/1200 [00:00<01:00, 20.00it/s]")
    assert (event.iteration, event.total_iterations) == (3, 1200)


def test_described_eval_bar_is_eval_even_with_the_same_total() -> None:
    parser = TqdmBarsParser()
    parser.parse(" 10%|█         | 100/1000 [01:40<15:00,  1.00s/it]")
    [event] = parser.parse("Evaluating:  10%|█         | 100/1000 [00:10<01:30, 10.00it/s]")
    assert isinstance(event, Eval) and event.done is False and event.iteration == 100


def test_shard_writing_bar_is_one_checkpoint() -> None:
    events = feed(
        TqdmBarsParser(),
        [
            " 33%|███▎      | 400/1200 [00:07<00:15, 50.55it/s]",
            "Writing model shards:   0%|          | 0/1 [00:00<?, ?it/s]",
            "Writing model shards: 100%|██████████| 1/1 [00:00<00:00, 363.62it/s]",
            " 34%|███▍      | 405/1200 [00:07<00:17, 45.00it/s]",
        ],
    )
    assert [type(e) for e in events] == [Progress, Checkpoint, Progress]
    assert events[1].iteration == 400


def test_keras_progbar_is_not_a_tqdm_bar() -> None:
    assert TqdmBarsParser().parse("61/82 [=====================>........] - ETA: 37s - loss: 0.41") == []


GARBAGE = [
    "",
    " ",
    "|",
    "||[",
    " 30%|███▍      | 258/",
    " 30%|███▍      | 258/873 [22:15<43:27,",
    "{'loss': ",
    "{'loss': 'abc', 'epoch': }",
    "Epoch 3/",
    "Epoch(train) [",
    "Epoch: [x]  [1/",
    "Train: 0 [  50/",
    "iter: time:",
    "iter: x time: y",
    "train_cfg = dict(",
    "\x00\x01\x02\x7f\ufffd\ufffd",
    "Saving model checkpoint to",
    "Total optimization steps = ",
    "Epoch 0 ━━━━ • ",
    "MAX_ITER: 0",
]


@pytest.mark.parametrize("parser_type", ALL_PARSERS, ids=lambda p: p.name)
def test_garbage_never_raises_and_yields_nothing(parser_type: type[Parser]) -> None:
    rng = random.Random(7)
    parser = parser_type()
    for text in GARBAGE:
        assert parser.parse(text) == [], text
    for _ in range(300):
        text = bytes(rng.randrange(256) for _ in range(rng.randrange(200))).decode("utf-8", "replace")
        assert parser.parse(text) == [], text


@pytest.mark.parametrize("parser_type", ALL_PARSERS, ids=lambda p: p.name)
def test_huge_lines_finish(parser_type: type[Parser]) -> None:
    from conftest import must_finish

    parser = parser_type()
    for filler in ("|[", "a", "Epoch 1 [", "{'loss': 1, ", "Train: 0 [", "Epoch: [1] [", "iter: time: "):
        text = filler * (10_000_000 // len(filler))
        with must_finish():
            assert parser.parse(text) == [], filler


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list(" 0123456789/|[]<>:,.%?=itsEpochTrainIter{}'━•\t-")), max_size=80)))
def test_any_text_sequence_never_raises(lines: list[str]) -> None:
    for parser_type in ALL_PARSERS:
        parser = parser_type()
        for line in lines:
            assert isinstance(parser.parse(line), list)


def test_bars_interleaved_with_deepspeed_log_dist_keep_their_rate() -> None:
    """An HF Trainer / axolotl run under DeepSpeed: the bar is the trainer's progress, DeepSpeed's ``step=`` lines
    the library's (issue: the bars lost their ``4.21s/it`` when DeepSpeed's lines came first in detection)."""
    from exporter.formats import AutoParser

    auto = AutoParser()
    lines = [
        " 10%|#         | 10/100 [00:42<06:19,  4.21s/it]",
        "[2024-01-01 12:00:00,000] [INFO] [logging.py:96:log_dist] [Rank 0] step=10, skipped=0, lr=[1e-05], "
        "mom=[(0.9, 0.95)]",
        " 11%|#         | 11/100 [00:46<06:15,  4.22s/it]"
        "[2024-01-01 12:00:04,000] [INFO] [logging.py:96:log_dist] [Rank 0] step=11, skipped=0, lr=[1e-05]",
    ]
    events = [e for i, line in enumerate(lines, 1) for e in auto.parse(line, record=i)] + auto.finish()
    progress = [e for e in events if isinstance(e, Progress)]
    assert [(e.iteration, e.total_iterations, e.iteration_seconds) for e in progress] == [(10, 100, 4.21),
                                                                                         (11, 100, 4.22)]


def _bar(n: int, elapsed: str, rate: str, total: int = 6000) -> str:
    return f" {n * 100 // total:3d}%|          | {n}/{total} [{elapsed}<01:00, {rate}]"


def _seconds(lines: list[str]) -> list[float | None]:
    """The seconds of each Progress, the same read every way the product reads: the parser alone, the pipeline a
    line at a time (its fast lane) and the pipeline as ``report`` reads (plain redraws as columns)."""
    parser = TqdmBarsParser()
    alone = [e.iteration_seconds for line in lines for e in parser.parse(line) if isinstance(e, Progress)]
    records = [Record(line, None, i, "bars.log") for i, line in enumerate(lines, 1)]
    pipeline = Pipeline(format="tqdm_bars")
    single = [e.iteration_seconds for r in records for e in pipeline.feed(r) if isinstance(e, Progress)]
    many: list[float | None] = []
    for item in Pipeline(format="tqdm_bars").feed_many(records):
        if isinstance(item, ProgressColumns):
            many += [item.line(i).iteration_seconds for i in range(len(item.iterations))]
        else:
            many += [e.iteration_seconds for e in item[1] if isinstance(e, Progress)]
    assert alone == single == many
    return alone


def test_skip_ahead_in_a_bars_first_second_is_not_a_pace() -> None:
    """A resumed bar counts the steps done before it at once; tqdm shows that rate and stale ones after it. The
    pace is the one before, then the bar's elapsed time over the steps since the skip, until the rate agrees."""
    before = [_bar(1970, "00:59", "10.00it/s"), *(_bar(2000 + 30 * k, f"01:{k:02d}", "30.00it/s") for k in range(3))]
    skip = [_bar(0, "00:00", "?it/s"), _bar(2003, "00:00", "16813.61it/s")]
    after = [_bar(2003 + 120, "00:04", "16813.61it/s"),  # under AVERAGE_AFTER since the skip: the pace before
             _bar(2003 + 180, "00:06", "98.09it/s"),  # elapsed over steps: 6 s / 180
             _bar(2003 + 330, "00:11", "98.09it/s"),  # over 10 s, still 3x off: not trusted
             _bar(2003 + 360, "00:12", "31.00it/s"),  # agrees within AGREE: the rate again
             _bar(2003 + 390, "00:13", "40.00it/s")]
    again = [*skip, _bar(2003 + 60, "00:02", "16813.61it/s"),  # skipped again, then another bar begins
             _bar(0, "00:00", "?it/s"), _bar(20, "00:00", "40.00it/s")]
    seconds = _seconds(before + skip + after + again)
    assert seconds[:4] == pytest.approx([1 / 10, *[1 / 30] * 3])
    assert seconds[4:6] == [None, None]
    assert seconds[6:11] == pytest.approx([1 / 30, 6 / 180, 11 / 330, 1 / 31, 1 / 40])
    assert seconds[11:] == pytest.approx([None, None, 1 / 40, None, 1 / 40])


@pytest.mark.parametrize("first", [
    [],  # the first bar of a log: no pace to judge a jump by
    [_bar(5900, "03:00", "30.00it/s"), _bar(0, "00:00", "?it/s")],  # a new bar whose first second is ordinary
])
def test_a_bars_first_second_is_read_as_its_rate_without_a_skip(first: list[str]) -> None:
    lines = [*first, _bar(10, "00:00", "40.00it/s"), _bar(50, "00:01", "40.00it/s"), _bar(90, "00:02", "41.00it/s"),
             _bar(690, "00:17", "40.00it/s")]  # past its first second, a bar updated in chunks is no skip
    assert _seconds(lines)[-4:] == pytest.approx([1 / 40, 1 / 40, 1 / 41, 1 / 40])


def test_a_bar_over_epochs_described_as_such_gives_the_training_bar_its_epoch() -> None:
    # Real tqdm 4.70: ``for epoch in trange(3, desc="Epoch"): for i in tqdm(range(200), desc="Iteration",
    # leave=False)``. The training bar starts over each epoch; the run is 3 x 200 iterations, one run.
    events = feed(TqdmBarsParser(), records(DATA / "real_tqdm_nested_epochs.log"))
    outer, *progress = [e for e in events if isinstance(e, Progress)]
    assert (outer.iteration, outer.total_iterations) == (0, 3)  # drawn first, at 0: the first bar is the main bar
    positions = [p.global_iteration for p in progress]
    assert positions == sorted(positions) and positions[-1] == 600
    assert {p.global_total for p in progress} == {600}
    assert {p.epoch for p in progress} == {0, 1, 2}
    assert not [e for e in events if isinstance(e, Eval)]  # its redraws are no evaluations


def test_a_bar_over_epochs_without_description_is_known_once_the_training_bar_starts_over() -> None:
    # Real tqdm 4.70: ``for epoch in trange(3): for i in tqdm(range(1000)): …``, no descriptions.
    events = feed(TqdmBarsParser(), records(DATA / "real_tqdm_nested_plain.log"))
    progress = [e for e in events if isinstance(e, Progress)][1:]  # after the bar over epochs at 0
    positions = [p.global_iteration for p in progress]
    assert positions == sorted(positions) and positions[-1] == 3000
    # The first pass is taken as the first of 3 epochs until it completes: then it is one run's bar, which finishes
    # there, until the bar over epochs moves on and the training bar starts over.
    assert [(p.global_iteration, p.global_total) for p in progress if p.global_iteration >= 995][:4] == [
        (995, 3000), (1000, 1000), (1000, 1000), (1000, 3000)]  # its last redraw, the same at close, the next pass
    assert {p.global_total for p in progress if p.global_iteration < 1000} == {3000}
    assert {p.global_total for p in progress if p.global_iteration > 1000} == {3000}


def test_a_run_of_one_pass_after_a_small_bar_at_0_finishes_at_its_end() -> None:
    # A bar of 3 drawn at 0 just before the training bar may be the loop over epochs (taken as such meanwhile), but
    # a run whose training bar completes and nothing moves on is that bar's run.
    lines = ["  0%|          | 0/3 [00:00<?, ?it/s]", *(f"{n // 3:3d}%|          | {n}/300 [00:03<00:00, 100.00it/s]"
                                                       for n in (0, 150, 300))]
    progress = [e for e in feed(TqdmBarsParser(), lines) if isinstance(e, Progress)]
    assert [(p.global_iteration, p.global_total) for p in progress] == [(0, 3), (0, 900), (150, 900), (300, 300)]
    # One that moves twice while the first pass runs is an evaluation bar: the pass is its run's from then on (once
    # may be the loop over epochs moving on before a ``leave=False`` training bar drew its end).
    moved = [*lines[:3], "  33%|███▎      | 1/3 [00:01<00:02,  1.00it/s]",
             "  67%|██████▋   | 2/3 [00:02<00:01,  1.00it/s]", lines[2]]
    progress = [e for e in feed(TqdmBarsParser(), moved) if isinstance(e, Progress)]
    assert [(p.global_iteration, p.global_total) for p in progress] == [(0, 3), (0, 900), (150, 900), (150, 300)]


def test_an_epoch_ends_where_the_bar_over_epochs_moves_on() -> None:
    # Real tqdm 4.70: ``tqdm(range(3), desc="Epochs")`` around ``tqdm(range(150), leave=False)`` with a loss in its
    # postfix: a bar that clears itself may never draw its last step; the epochs bar moving on says it was done.
    lines = records(DATA / "real_tqdm_nested_leave_false.log")
    assert not any("150/150" in line for line in lines)
    progress = [e for e in feed(TqdmBarsParser(), lines) if isinstance(e, Progress)]
    assert [(p.global_iteration, p.global_total) for p in progress[-1:]] == [(450, 450)]
    assert [p.global_iteration for p in progress] == sorted(p.global_iteration for p in progress)
    assert progress[-2].loss is not None  # the postfix still gives the loss


def test_a_bar_that_moves_as_an_evaluation_does_is_no_bar_over_epochs() -> None:
    evaluation = [f"{n * 100 // 63:3d}%|          | {n}/63 [00:00<00:00, 150.00it/s]" for n in range(4)]
    training = [f"{n // 12:3d}%|          | {n}/1200 [00:10<00:00, 100.00it/s]" for n in (0, 600, 1200)]
    events = feed(TqdmBarsParser(), [evaluation[0], *training, *evaluation, *training])
    # The bar drawn at 0 before training and moving after it is an evaluation, and the second pass a new run.
    assert sum(isinstance(e, Eval) for e in events) == 5  # four redraws, closed when training moves
    assert [e.global_iteration for e in events if isinstance(e, Progress)] == [0, 0, 600, 1200, 0, 600, 1200]


def test_a_loop_that_prints_its_epoch_makes_the_passes_of_its_bar_epochs() -> None:
    # Real tqdm 4.70: ``print(f"Epoch {epoch + 1}/3")`` before each pass of ``tqdm(range(300))`` and a loss line
    # after it: one run of 3 epochs of 300, from the first pass on (the line came before any bar).
    progress = [e for e in feed(TqdmBarsParser(), records(DATA / "real_tqdm_epoch_header.log")) if isinstance(e, Progress)]
    positions = [p.global_iteration for p in progress]
    assert positions == sorted(positions) and positions[-1] == 900
    assert {p.global_total for p in progress} == {900}
    assert {p.epoch for p in progress} == {0, 1, 2}


def test_a_line_naming_another_epoch_while_the_bar_runs_makes_it_one_bar_over_the_epochs() -> None:
    def totals(lines: list[str]) -> list[int | None]:
        return [e.global_total for e in feed(TqdmBarsParser(), lines) if isinstance(e, Progress)]

    def bar(n: int, total: int) -> str:
        return f"{n * 100 // total:3d}%|          | {n}/{total} [00:03<00:00, 100.00it/s]"

    # Named before the bar: its passes are taken as the epochs, until the next epoch is named while it runs.
    assert totals(["Epoch 1/3", bar(0, 900), bar(300, 900), "Epoch 2/3", bar(301, 900)]) == [2700, 2700, 900]
    # A line that names the same epoch while the bar runs (a loss every 100 steps) changes nothing.
    assert totals(["Epoch 1/3", bar(0, 300), "Epoch 1/3 step 100 loss 0.5", bar(150, 300)]) == [900, 900]
    # Once the bar started over after a line, its passes are epochs whatever the lines inside a pass say.
    lines = ["Epoch 1/3", bar(0, 300), bar(300, 300), "Epoch 2/3", bar(0, 300), "epoch 1 step 100", bar(100, 300)]
    assert [e.global_iteration for e in feed(TqdmBarsParser(), lines) if isinstance(e, Progress)] == [0, 300, 300, 400]


def test_an_epoch_named_without_the_epochs_leaves_the_total_to_the_flag(capsys) -> None:
    # Real tqdm 4.70: ``epoch 0: train loss …`` after each pass: epochs, but not how many.
    progress = [e for e in feed(TqdmBarsParser(), records(DATA / "real_tqdm_epoch_summary.log")) if isinstance(e, Progress)]
    assert progress[-1].global_iteration == 900 and progress[-1].global_total is None
    assert main(["report", str(DATA / "real_tqdm_epoch_summary.log")]) == 0
    assert "of an unknown total (pass --total-epochs N for an ETA; 300 per epoch)" in capsys.readouterr().out
    assert main(["report", "--total-epochs", "3", str(DATA / "real_tqdm_epoch_summary.log")]) == 0
    assert "finished: iteration 900 of 900" in capsys.readouterr().out


def test_only_an_epoch_named_between_a_completed_pass_and_the_next_makes_it_an_epoch() -> None:
    def bar(n: int) -> str:
        return f"{n * 100 // 300:3d}%|          | {n}/300 [00:03<00:00, 100.00it/s]"

    def positions(lines: list[str]) -> list[int]:
        return [e.global_iteration for e in feed(TqdmBarsParser(), lines) if isinstance(e, Progress)]

    assert positions([bar(300), "Epoch 2/3", bar(0), bar(150)]) == [300, 300, 450]
    assert positions([bar(300), bar(0), bar(150)]) == [300, 0, 150]  # no epoch named: another run
    # Each pass needs its line: a pass that follows none is another run.
    assert positions([bar(300), "Epoch 2/3", bar(0), bar(300), bar(0), bar(150)]) == [300, 300, 600, 0, 150]
    # Named while the bar runs (one bar over the whole run), and the bar starting over before it completed: another run.
    assert positions([bar(150), "Epoch 2/3", bar(200), bar(0), bar(150)]) == [150, 200, 0, 150]
    assert positions([bar(150), "Epoch 2/3", bar(0), bar(150)]) == [150, 0, 150]


def test_a_description_that_counts_on_by_one_makes_the_passes_epochs() -> None:
    # Real tqdm 4.70: ``tqdm(range(200), desc=f"[{epoch + 1}/3]")`` three times: 3 epochs of 200, one run.
    progress = [e for e in feed(TqdmBarsParser(), records(DATA / "real_tqdm_epoch_in_desc.log")) if isinstance(e, Progress)]
    positions = [p.global_iteration for p in progress]
    assert positions == sorted(positions) and (positions[-1], progress[-1].global_total) == (600, 600)

    def ends(first: str, second: str) -> list[tuple[int, int | None]]:
        lines = [f"{first}: 100%|██████████| 200/200 [00:02<00:00, 100.00it/s]",
                 f"{second}:  50%|█████     | 100/200 [00:01<00:01, 100.00it/s]"]
        return [(e.global_iteration, e.global_total) for e in feed(TqdmBarsParser(), lines) if isinstance(e, Progress)]

    assert ends("Train 0", "Train 1") == [(200, 200), (300, None)]  # epochs, how many not said
    assert ends("Training (epoch 2 of 5)", "Training (epoch 3 of 5)") == [(200, 200), (300, 1000)]
    assert ends("Train 0", "Train 2") == [(200, 200), (100, 200)]  # not the next: another run
    assert ends("loss 0.52", "loss 0.53") == [(200, 200), (100, 200)]  # a decimal's digits, no count
    assert ends("Epoch 0 loss 0.021", "Epoch 1 loss 0.412") == [(200, 200), (300, None)]  # the first to change counts


def test_a_description_set_in_the_loop_counts_on_from_the_passes_second_redraw() -> None:
    # Real tqdm 4.70: ``pbar.set_description(f"Epoch {epoch} loss {loss:.3f}")`` every step of three passes of
    # ``tqdm(range(200))``: each pass draws 0/200 without it, then with it.
    progress = [e for e in feed(TqdmBarsParser(), records(DATA / "real_tqdm_epoch_set_description.log"))
                if isinstance(e, Progress)]
    positions = [p.global_iteration for p in progress]
    assert positions == sorted(positions) and positions[-1] == 600

    def positions_of(second: str) -> list[int]:
        lines = ["Epoch 0 loss 0.021: 100%|██████████| 200/200 [00:02<00:00, 100.00it/s]",
                 "  0%|          | 0/200 [00:00<?, ?it/s]",
                 f"{second}:  50%|█████     | 100/200 [00:01<00:01, 100.00it/s]"]
        return [e.global_iteration for e in feed(TqdmBarsParser(), lines) if isinstance(e, Progress)]

    assert positions_of("Epoch 1 loss 0.412") == [200, 200, 300]
    assert positions_of("Epoch 3 loss 0.412") == [200, 200, 100]  # not the next: another run after all


def test_a_bar_over_epochs_without_description_around_a_bar_that_never_draws_its_end() -> None:
    # Real tqdm 4.70: ``for epoch in trange(3): for i in tqdm(range(300), leave=False, mininterval=0.5)``: no pass
    # draws 300/300; the bar over epochs moves on after each, and the training bar starts over: one run of 900.
    lines = records(DATA / "real_tqdm_nested_leave_false_plain.log")
    assert not any("300/300 [" in line for line in lines)
    progress = [e for e in feed(TqdmBarsParser(), lines) if isinstance(e, Progress)]
    positions = [p.global_iteration for p in progress]
    assert positions == sorted(positions) and (positions[-1], progress[-1].global_total) == (900, 900)


def test_a_slow_first_step_is_no_reference_for_a_skip_ahead() -> None:
    """tests/data/real_tqdm_crash.log: the first step took 0.65 s (start-up), the next 16 came in the same second at
    ~30 it/s: quick steps after a slow first one, not a resume's skip-ahead, so the printed rates stand."""
    pipeline = Pipeline()
    progress = [e for e in pipeline.read(DATA / "real_tqdm_crash.log") if isinstance(e, Progress)]
    seconds = {e.iteration: e.iteration_seconds for e in progress}
    assert seconds[1] == pytest.approx(1 / 1.53) and seconds[17] == pytest.approx(1 / 29.87)
    assert seconds[400] == pytest.approx(1 / 126.19)
