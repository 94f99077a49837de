"""The generic fallback: step counters in common shapes from trainers no family knows, and its precision on every
real log in the repository (where a known family applies it must yield no progress that family does not)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from exporter.events import Eval, Progress
from exporter.formats import AutoParser, get_parser
from exporter.formats.generic import GenericParser
from exporter.formats.prefixes import strip_prefixes
from exporter.pipeline import Pipeline
from exporter.sources import read_records

ROOT = Path(__file__).resolve().parent.parent
GENERIC_RUNS = {"mnist_example": (7 * 20000 + 19840, None, 8), "tutorial_sigstop": (12 * 600, 12 * 600, 1),
                "word_lm_noisy": (13 * 285 + 280, None, 14), "torch_lines_stall": (6 * 3000, 6 * 3000, 6),
                "torch_logging_blip_sigstop": (12000, 12000, 4)}
"""Recorded runs of hand-written loops no family knows (``benchmarks/data/README.md``), read by the fallback: (last
position, the run's total as the log states it, evaluation summaries). ``mnist_example``: 8 epochs of 20,000 samples
(not printed), its last line at sample 19,840, a test pass after each epoch; ``tutorial_sigstop``: 12 epochs of 600
steps, one test at the end; ``word_lm_noisy``: 14 epochs of 285 batches (not printed), a line every 20, a validation
after each epoch; ``torch_logging_blip_sigstop``: 12,000 steps behind a ``logging`` prefix, an evaluation after each of
4 epochs; ``torch_lines_stall``: ``Epoch 1/6`` on a line of its own before each of 6 passes of 3,000 batches
(``Batch 50/3000, Loss: …``, the counter without its epoch), ``epoch 0: val_loss …`` after each."""
LOOP_LOGS = {f"real_loop_epoch_{style}" for style in ("header", "summary", "none")}
"""Real hand-written loops in ``tests/data`` that only this family reads (``test_a_counter_that_starts_over_…``)."""
REAL_LOGS = sorted(
    path
    for path in [*ROOT.glob("tests/data/*.log"), *ROOT.glob("tests/data/*.tslog"), *ROOT.glob("benchmarks/data/*.tslog")]
    if path.stem not in GENERIC_RUNS and path.stem not in LOOP_LOGS
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
        ("iter_dt 12.34ms; iter 100: train loss 2.12345", (100, None, 0.01234, 2.12345)),  # karpathy/minGPT's demos
        ("[ 100/1000] loss: 0.5213, 0.21s", (100, 1000, None, 0.5213)),
        ("Step 100 of 5000, loss: 3.2", (100, 5000, None, 3.2)),  # a total in words
        ("step 12 | loss: 2.31 | time/step: 0.250s", (12, None, 0.25, 2.31)),
        ("it 12/500 loss 2.31 250.0ms/it", (12, 500, 0.25, 2.31)),
        ("epoch 1 step 300 loss 1.7 elapsed 75.0s", (300, None, None, 1.7)),  # elapsed: the run's clock, no step's
        ("[100] learning_rate=0.0010000000474974513, loss=2.301, steps_per_sec=4", (100, None, 0.25, 2.301)),  # CLU
        ("[100] collection=train loss=2.301", (100, None, None, 2.301)),
        ("Iter 10: Train loss 1.999, Learning Rate 1.000e-05, It/sec 4.000, Tokens/sec 567.8", (10, None, 0.25, 1.999)),
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
        "[3/10] Building CXX object loss.o",  # a build step, no training metric
        "[3] Building loss=1",  # a bracketed step must start the name=value pairs
        "[Hyperparameters] {'num_train_steps': 1000, 'learning_rate': 0.1}",
        "loading [3/10] loss weights",  # a counter that does not start the line
        "Namespace(batch=64, epochs=10, lr=0.01)",  # a batch size, not a batch counter
        "Namespace(batch_size=64, epoch=10, log_interval=10, lr=0.01)",  # argparse's echo of the settings
        "batch=64 lr=0.01 loss=2.3",  # a batch size
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


def events_of(lines: list[str]) -> list[Progress | Eval]:
    parser = GenericParser()
    return [e for line in lines for e in parser.parse(line) if isinstance(e, (Progress, Eval))]


def positions(lines: list[str]) -> list[tuple[int, int | None]]:
    """(position in the run, the run's total) of each training line."""
    return [(e.global_iteration, e.global_total) for e in events_of(lines) if isinstance(e, Progress)]


# The prints of hand-written loops, as their sources write them (pytorch/examples at HEAD, yunjey/pytorch-tutorial).
MNIST = "Train Epoch: {} [{}/60000 ({:.0f}%)]\tLoss: 0.301234"  # mnist/main.py, vae, siamese_network, mnist_rnn
TUTORIAL = "Epoch [{}/5], Step [{}/600], Loss: 0.2345"  # convolutional_neural_network/main.py
WORD_LM = "| epoch {:3d} | {:5d}/ 2983 batches | lr 20.00 | ms/batch 45.30 | loss  5.20 | ppl   181.27"
SUPER_RES = "===> Epoch[{}]({}/200): Loss: 0.0123"  # super_resolution/main.py
MINGPT = "[RANK0] Epoch {} | Iter {} | train Loss 2.12345"  # distributed/minGPT-ddp/mingpt/trainer.py
GAN = "[Epoch {}/200] [Batch {}/938] [D loss: 0.312345] [G loss: 0.512345]"  # eriklindernoren/PyTorch-GAN
TF_TUTORIAL = "Epoch {} Batch {} Loss 3.1234 Accuracy 0.1234"  # tensorflow.org's transformer tutorial
DCGAN = "[{}/25][{}/1583] Loss_D: 0.5141 Loss_G: 3.2104 D(x): 0.8045 D(G(z)): 0.2250 / 0.0533"  # dcgan/main.py


def test_a_per_epoch_counter_is_placed_in_the_run() -> None:
    # 1-based epochs, counters starting over: the position is epochs done x the counter's total + the counter.
    lines = [MNIST.format(1, 0, 0), MNIST.format(1, 57600, 96), MNIST.format(2, 0, 0), MNIST.format(2, 6400, 11)]
    assert positions(lines) == [(0, None), (57600, None), (60000, None), (66400, None)]
    assert positions([TUTORIAL.format(1, 600), TUTORIAL.format(2, 100), TUTORIAL.format(5, 600)]) == [
        (600, 3000), (700, 3000), (3000, 3000)]  # the epochs' total gives the run's
    assert positions([SUPER_RES.format(1, 191), SUPER_RES.format(2, 1), SUPER_RES.format(3, 11)]) == [
        (191, None), (201, None), (411, None)]
    assert positions([WORD_LM.format(1, 2800), WORD_LM.format(2, 200)]) == [(2800, None), (3183, None)]
    assert positions([GAN.format(0, 900), GAN.format(1, 0)]) == [(900, 187600), (938, 187600)]
    assert positions([DCGAN.format(0, 1550), DCGAN.format(1, 0), DCGAN.format(1, 50)]) == [
        (1550, 25 * 1583), (1583, 25 * 1583), (1633, 25 * 1583)]
    assert positions([TF_TUTORIAL.format(1, 0), TF_TUTORIAL.format(1, 50), TF_TUTORIAL.format(2, 0)]) == [
        (0, None), (50, None), (100, None)]  # no batch total: an epoch is its last batch plus one logging step


def test_counters_with_their_totals_in_words_are_placed_in_the_run() -> None:
    parser = GenericParser()
    events = [e for line in ("Epoch 1 of 3, batch 300 of 400, loss 0.5", "Epoch 2 of 3, batch 100 of 400, loss 0.4")
              for e in parser.parse(line) if isinstance(e, Progress)]
    assert [(e.global_iteration, e.global_total) for e in events] == [(300, 1200), (500, 1200)]


def test_an_epoch_counter_without_a_total_continues_from_the_last_epochs_end() -> None:
    # minGPT logs every 100 iterations from 0: an epoch is its last counter plus one logging step.
    lines = [MINGPT.format(e, i) for e in range(3) for i in range(0, 1000, 100)]
    assert [n for n, _ in positions(lines)] == list(range(0, 3000, 100))
    # The same loop run again in the same log starts over: epoch 0, iteration 0.
    assert [n for n, _ in positions(lines + lines[:12])] == [*range(0, 3000, 100), *range(0, 1200, 100)]


def test_a_run_wide_counter_beside_an_epoch_is_taken_as_it_is() -> None:
    lines = ["epoch 1 step 4900/10000 loss 2.0", "epoch 1 step 5000/10000 loss 2.0",
             "epoch 2 step 5100/10000 loss 1.9", "epoch 3 step 9900/10000 loss 1.8"]
    assert positions(lines) == [(4900, None), (5000, None), (5100, 10000), (9900, 10000)]
    # Until a new epoch shows which, the counter is taken per epoch: read as the run's, "Epoch 1 | Step 600/600" would
    # end the run, and the next epoch's steps would be past its total.
    assert positions(["Epoch 1 | Step 600/600 | Loss 0.3", "Epoch 2 | Step 100/600 | Loss 0.3"]) == [
        (600, None), (700, None)]


def test_a_zero_based_epoch_starts_the_run() -> None:
    assert positions(["Epoch 0 | step 10/20 | loss 1.0", "Epoch 1 | step 10/20 | loss 1.0"]) == [
        (10, None), (30, None)]


def test_epoch_counters_going_back_are_another_counter_and_a_new_run_starts_afresh() -> None:
    # A log that starts in epoch 2 (of 1-based epochs): a resumed run, placed after the first epoch.
    lines = [TUTORIAL.format(2, 300), TUTORIAL.format(1, 300),  # an epoch back: not this run's progress
             TUTORIAL.format(2, 400), TUTORIAL.format(1, 1), TUTORIAL.format(1, 100)]  # a restart from step 1
    assert positions(lines) == [(900, 3000), (1000, 3000), (1, 3000), (100, 3000)]


def test_time_per_batch_and_epoch_shapes_that_are_not_progress() -> None:
    (line,) = events_of([WORD_LM.format(1, 200)])
    assert isinstance(line, Progress) and line.iteration_seconds == pytest.approx(0.0453)
    (step,) = events_of(["step 10/1000 | loss 2.0 | 123.4 ms/step"])
    assert isinstance(step, Progress) and step.iteration_seconds == pytest.approx(0.1234)
    assert progress(["epoch 0.25 loss 2.0"]) == []  # a fraction of an epoch, no counter
    assert positions(["step 100/1000 | epoch 0.25 | loss 2.0"]) == [(100, 1000)]  # a run-wide step, not per epoch
    assert progress(["Epoch 3/10"]) == []  # Keras's epoch header: no metric
    assert progress(["Epoch 0:  45%|████▌     | 450/1000 [00:10<00:12, 45.00it/s, loss=2.3]"]) == []  # a bar


def test_an_evaluation_summary_is_one_eval_at_the_training_position() -> None:
    summary = "Test set: Average loss: 0.0400, Accuracy: 9800/10000 (98%)"
    lines = [summary, MNIST.format(1, 57600, 96), "Test: [ 10/196]  Loss 6.9 (6.9)", summary, summary,
             "| end of epoch   1 | time: 140.20s | valid loss  5.00 | valid ppl   148.41", MNIST.format(2, 640, 1),
             "| end of epoch   2 | time: 140.20s | valid loss  4.50 | valid ppl   90.02"]
    evals = [(e.iteration, e.loss) for e in events_of(lines) if isinstance(e, Eval)]
    assert evals == [(57600, 0.04), (60640, 4.5)]


def test_a_clu_evaluation_is_an_eval_at_the_training_position() -> None:
    lines = ["[100] learning_rate=0.001, loss=2.3", "[100] collection=eval accuracy=0.9, loss=2.1"]
    assert [(type(e).__name__, e.iteration, e.loss) for e in events_of(lines)] == [("Progress", 100, 2.3),
                                                                                 ("Eval", 100, 2.1)]


@pytest.mark.parametrize("name", sorted(GENERIC_RUNS))
def test_recorded_hand_written_loops_are_read_over_their_epochs(name: str) -> None:
    last, total, summaries = GENERIC_RUNS[name]
    pipeline = Pipeline()
    events = [e for record in read_records(str(ROOT / "benchmarks" / "data" / f"{name}.tslog"))
              for e in pipeline.feed(record)] + pipeline.finish()
    assert pipeline.format == "generic"
    steps = [e for e in events if isinstance(e, Progress)]
    at = [e.global_iteration for e in steps]
    assert at == sorted(at) and at[-1] == last and steps[-1].global_total == total
    assert sum(isinstance(e, Eval) for e in events) == summaries


def test_a_loop_that_logs_once_per_epoch_counts_epochs() -> None:
    # One line per epoch, its validation on the same line (an evaluation word does not make it a summary here).
    lines = [f"Epoch [{e}/200] Train Loss: 0.5123 | Val Loss: 0.6 | Val Acc: 0.81" for e in (1, 2, 3)]
    assert positions(lines) == [(1, 200), (2, 200), (3, 200)]
    # 0-based epochs count the printed one as done too; pytorch/examples' GCN prints no total.
    gcn = "Epoch: {:04d} (0.1234s) loss_train: 1.2345 acc_train: 0.5000 loss_val: 1.1111 acc_val: 0.6000"
    assert positions([gcn.format(0), gcn.format(1)]) == [(1, None), (2, None)]
    assert positions(["Epoch 0 loss 0.3", "Epoch 1 loss 0.2"]) == [(1, None), (2, None)]
    assert positions(["Epoch [0/200] loss 0.3", "Epoch [1/200] loss 0.2"]) == [(1, 200), (2, 200)]


def test_in_a_log_that_counts_batches_an_epoch_line_is_a_summary() -> None:
    lines = [TUTORIAL.format(1, 600), "Epoch 1/5 done, average loss 0.2", "Epoch 1: val loss 0.31", TUTORIAL.format(2, 10)]
    got = events_of(lines)
    assert [e.global_iteration if isinstance(e, Progress) else ("eval", e.iteration) for e in got] == [
        600, ("eval", 600), 610]
    # Batches counted by a tqdm bar (the tqdm or Lightning family's lines) count too.
    assert progress(["Epoch 1/3: 100%|██████████| 50/50 [00:00<00:00, 443.10it/s]", "Epoch 1: val_loss=0.5"]) == []


_LOOP_SHAPES = {
    # shape, whether it prints the epochs' total, whether its counter has a total
    "mnist": ("Train Epoch: {e} [{n}/{N} ({p:.0f}%)]\tLoss: 0.301234", False, True),
    "tutorial": ("Epoch [{e}/{E}], Step [{n}/{N}], Loss: 0.2345", True, True),
    "word_lm": ("| epoch {e:3d} | {n:5d}/{N:5d} batches | lr 20.00 | ms/batch 45.30 | loss  5.20", False, True),
    "gan": ("[Epoch {e}/{E}] [Batch {n}/{N}] [D loss: 0.31] [G loss: 0.51]", True, True),
    "dcgan": ("[{e}/{E}][{n}/{N}] Loss_D: 0.5141 Loss_G: 3.2104 D(x): 0.8045 D(G(z)): 0.2250 / 0.0533", True, True),
    "mingpt": ("[RANK0] Epoch {e} | Iter {n} | train Loss 2.12345", False, False),
}


@settings(max_examples=200, deadline=None)
@given(shape=st.sampled_from(sorted(_LOOP_SHAPES)), epochs=st.integers(2, 6), per_epoch=st.integers(20, 500),
       every=st.integers(1, 40), first_epoch=st.sampled_from([0, 1]), first_batch=st.sampled_from([0, 1]))
def test_hand_written_loops_are_placed_in_the_run_whatever_their_sizes(
    shape: str, epochs: int, per_epoch: int, every: int, first_epoch: int, first_batch: int
) -> None:
    """Every line of a loop of any size, logging interval and base lands at epochs done x its size + its batch (one
    logging step per epoch off where the counter has no total), in order, with the run's total where printed."""
    text, prints_epochs, has_total = _LOOP_SHAPES[shape]
    batches = [b for b in range(first_batch, per_epoch + first_batch) if b % every == 0]
    assume(len(batches) >= 2)
    lines, expected = [], []
    for index in range(epochs):
        for b in batches:
            lines.append(text.format(e=index + first_epoch, E=epochs, n=b, N=per_epoch, p=100 * b / per_epoch))
            size = per_epoch if has_total else batches[-1] + (batches[-1] - batches[-2])
            expected.append(index * size + b)
    got = positions(lines)
    assert [n for n, _ in got] == expected
    assert {total for _, total in got} == {epochs * per_epoch if prints_epochs else None}


def _loop(name: str) -> list[Progress]:
    parser = GenericParser()
    lines = (ROOT / "tests" / "data" / name).read_text().splitlines()
    return [e for line in lines for e in parser.parse(line) if isinstance(e, Progress)]


@pytest.mark.parametrize("style", ["header", "summary", "none"])
def test_a_counter_that_starts_over_each_epoch_is_placed_in_the_run(style: str) -> None:
    # A real PyTorch loop printing ``Batch 5/20, Loss: …`` every 5 of 20 batches for 3 epochs, with
    # ``Epoch 2/3`` before each pass (header), ``Epoch 0 done, mean loss …`` after it (summary: the epoch done, not
    # the next) or no epoch at all: one run of 60, each pass its epoch.
    progress = _loop(f"real_loop_epoch_{style}.log")
    positions = [p.global_iteration for p in progress]
    assert positions == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]
    assert progress[-1].global_total == (60 if style == "header" else None)  # how many epochs, where a line says


def test_a_named_epoch_that_is_no_first_one_leaves_the_first_pass_as_it_is() -> None:
    parser = GenericParser()
    lines = ["epoch: 10", "Batch 5/20, Loss: 1.0", "Batch 20/20, Loss: 1.0", "Batch 5/20, Loss: 1.0",
             "Batch 3/20, Loss: 1.0"]  # a config's epochs; then a pass, the next, and a counter going back in it
    progress = [e for line in lines for e in parser.parse(line) if isinstance(e, Progress)]
    assert [(p.global_iteration, p.global_total) for p in progress] == [(5, 20), (20, 20), (25, None)]


def test_a_line_between_passes_says_how_many_and_a_counter_back_to_its_start_is_a_new_run() -> None:
    def positions(lines: list[str]) -> list[tuple[int, int | None]]:
        parser = GenericParser()
        return [(e.global_iteration, e.global_total) for line in lines for e in parser.parse(line)
                if isinstance(e, Progress)]

    first = ["Batch 10/20, Loss: 1.0", "Batch 20/20, Loss: 1.0"]
    assert positions([*first, "Epoch 2/3", "Batch 10/20, Loss: 1.0"])[-1] == (30, 60)
    # Back to 1 before the pass reached its end: a new run (its passes count afresh), not this run's line.
    assert positions([*first, "Batch 10/20, Loss: 1.0", "Batch 1/20, Loss: 1.0"])[-1] == (1, 20)
