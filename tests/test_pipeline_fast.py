"""The fast lane (``Parser.fast_progress``): a decided family's plain progress lines read at C speed give exactly
the events, counters and parser state that the full path (prefix check, detection, ``parse``, ``checked``) gives.

Property: random logs of real line shapes (nanoGPT; HF Trainer / tqdm bars) with odd numbers (huge counters,
commas, nan, exponents, scaled or zero rates, negative or absent mfu, trailing text), eval/checkpoint/config lines,
eval bars, postfixes, glued dicts, launcher tags and chatter, framed from a file with ``\\n``, ``\\r\\n`` and
``\\r`` terminators (partial last line included) or as a ``.tslog`` with record times, read through
``Pipeline.read`` with the fast lane and with it switched off.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.events import Event, Progress, to_dict
from exporter.formats import FAMILIES
from exporter.formats.base import Parser
from exporter.formats.hf_trainer import HfTrainerParser
from exporter.formats.lightning import LightningParser
from exporter.formats.nanogpt import NanoGptParser
from exporter.formats.tqdm_bars import TqdmBarsParser
from exporter.pipeline import Pipeline


def full_path(family: type[Parser]) -> type[Parser]:
    """``family`` without its fast lane: every line through ``parse``."""

    def no_fast_lane(self: Parser, text: str) -> Progress | None:
        return None

    return type(f"FullPath{family.__name__}", (family,), {"fast_progress": no_fast_lane})


FAST_LANES: tuple[type[Parser], ...] = (NanoGptParser, HfTrainerParser, TqdmBarsParser, LightningParser)
FULL_PATH = {family: full_path(family) for family in FAST_LANES}


numbers = st.one_of(
    st.floats(0, 1e4, allow_nan=False).map(lambda v: f"{v:.4f}"),
    st.sampled_from(["nan", "inf", "-inf", "1,234.5", "1e3", "1_0.5", "-1.0", "3.", ".5", "1.2.3", "", "x"]),
    st.integers(0, 10**20).map(str),
)
counters = st.one_of(st.integers(0, 10**6).map(str), st.sampled_from(["0", "007", "9" * 15, "9" * 16, "1,000"]))
iter_lines = st.builds(
    lambda it, loss, ms, mfu, tail: f"iter {it}: loss {loss}, time {ms}ms{mfu}{tail}",
    counters,
    numbers,
    numbers,
    st.one_of(st.just(""), numbers.map(lambda v: f", mfu {v}%"), st.just(", mfu -100.00%")),
    st.sampled_from(["", " extra", ",", "%"]),
)
other_lines = st.sampled_from([
    "step 250: train loss 2.1, val loss 2.2",
    "saving checkpoint to out",
    "Overriding config with config/train.py:",
    "max_iters = 5000",
    "Overriding: eval_interval = 250",
    "[rank1]:iter 3: loss 1.0, time 80.00ms, mfu 3.00%",
    " iter 4: loss 1.0, time 80.00ms, mfu 3.00%",
    "number of parameters: 10.65M",
    "100%|██████████| 10/10 [00:01<00:00, 9.50it/s]",
    "",
])
nanogpt_logs = st.lists(st.one_of(iter_lines, iter_lines, other_lines), min_size=1, max_size=60)

def bar(n: int, total: int, *, desc: str = "", pad: str = " ", rate: str = "4.00", unit: str = "it/s",
        postfix: str = "", tail: str = "") -> str:
    pct = min(999, n * 100 // max(1, total))
    return f"{desc}{pad}{pct}%|███▏      | {n}/{total} [00:12<01:34, {rate}{unit}{postfix}]{tail}"


rates = st.one_of(st.floats(0.01, 500, allow_nan=False).map(lambda v: f"{v:.2f}"),
                  st.sampled_from(["?", "0.00", "1e3", "4.21k", "0.0000000001", "12"]))
plain_bars = st.builds(  # redraws of the training bar: what the fast lane reads
    lambda n, rate, unit, pad: bar(n, 100, rate=rate, unit=unit, pad=pad),
    st.integers(0, 120),
    st.one_of(st.floats(0.01, 500, allow_nan=False).map(lambda v: f"{v:.2f}"),
              st.sampled_from(["0.0000000001", "2000000000.00"])),  # beyond the range check either way
    st.sampled_from(["it/s", "s/it"]), st.sampled_from(["", " ", "  "]),
)
odd_bars = st.builds(  # everything around them
    lambda n, total, desc, rate, unit, postfix, tail: bar(n, total, desc=desc, rate=rate, unit=unit, postfix=postfix,
                                                          tail=tail),
    st.integers(0, 120),
    st.sampled_from([100, 20, 3, 10**16]),
    # Descriptions that count passes (``_bar_epochs``): epochs, numbers that count on or not, a bar over epochs.
    st.sampled_from(["", "Epoch 1: ", "Evaluating: ", "Map: ", "Train 0: ", "Train 1: ", "[1/3]: ", "[2/3]: ",
                     "Epoch 0 loss 0.52: ", "Epoch 1 loss 0.48: ", "Epochs: "]),
    rates,
    st.sampled_from(["it/s", "s/it", "B/s"]),
    st.sampled_from(["", ", loss=1.25", ",  lr=1e-4"]),
    st.sampled_from(["", "{'loss': 1.5, 'grad_norm': 2.0, 'learning_rate': 1e-05, 'epoch': 0.5}", " x"]),
)
hf_lines = st.sampled_from([
    "{'loss': 1.5, 'grad_norm': 2.0, 'learning_rate': 1e-05, 'epoch': 0.5}",
    "{'eval_loss': 1.2, 'eval_runtime': 3.0}",
    "***** Running Evaluation *****",
    "  Total optimization steps = 100",
    "Saving model checkpoint to out/checkpoint-50",
    "{'train_runtime': 100.0, 'train_loss': 1.3}",
    "[rank0]: 50%|█████     | 50/100 [00:12<01:34, 4.00it/s]",
    "Epoch 2/3",  # lines that name an epoch (``_bar_epochs``)
    "epoch 1: train loss 0.5",
    "=== epoch 3 of 5 ===",
    "",
])
postfixes = st.sampled_from(["", ", v_num=0", ", v_num=3, train_loss=2.310", ", v_num=0, loss=nan",
                             ", v_num=0, val_loss=1.5", ", v_num=0, train_loss_step=2.1, train_loss_epoch=2.3",
                             ", v_num=0, train_loss=1,5", ", `Trainer.fit` stopped: `max_epochs=3` reached."])
epoch_bars = st.builds(  # Lightning's epoch bars: what its fast lane reads, and the odd ones around them
    lambda epoch, n, total, rate, unit, postfix: bar(n, total, desc=f"Epoch {epoch}: ", rate=rate, unit=unit,
                                                     postfix=postfix),
    st.sampled_from([0, 0, 1, 2, 10**10]), st.integers(0, 120), st.sampled_from([100, 100, 50]),
    st.one_of(st.floats(0.01, 500, allow_nan=False).map(lambda v: f"{v:.2f}"),
              st.sampled_from(["?", "0.00", "1e3", "0.0000000001"])),
    st.sampled_from(["it/s", "it/s", "s/it"]), postfixes,
)
lightning_lines = st.sampled_from([
    "Validation DataLoader 0:  50%|█████     | 5/10 [00:01<00:01,  4.00it/s]",
    "Validation DataLoader 0: 100%|██████████| 10/10 [00:02<00:00,  4.00it/s]",
    "Validation: 0it [00:00, ?it/s]",
    "Sanity Checking DataLoader 0:  50%|█████     | 1/2 [00:00<00:00,  4.00it/s]",
    "Epoch 1/9 ━━━━━━━━━━━━━━━━ 45/100 0:00:10 • 0:00:12 12.34it/s v_num: 0 train_loss: 0.123",
    "`Trainer.fit` stopped: `max_epochs=3` reached.",
    "",
])
lightning_logs = st.lists(st.one_of(epoch_bars, epoch_bars, epoch_bars, lightning_lines), min_size=1, max_size=60)
bar_logs = st.lists(st.one_of(plain_bars, plain_bars, odd_bars, hf_lines), min_size=1, max_size=60)


def events_of(path: Path, pipeline: Pipeline) -> tuple[list[dict[str, object]], tuple[int, int, int, int]]:
    events: list[Event] = list(pipeline.read(path))
    return [to_dict(e) for e in events], (pipeline.records, pipeline.parsed, pipeline.rejected, pipeline.parser_errors)


def assert_same_events(lines: list[str], terminators: list[str], cut: bool, forced: type | None,
                       times: list[float] | None) -> None:
    """The log of ``lines`` read with every fast lane and with none give the same events and counters."""
    if times is None:
        text = "".join(line + terminators[i % len(terminators)] for i, line in enumerate(lines))
        name = "train.log"
    else:  # record times, some out of any clock's range
        text = "".join(f"{times[i % len(times)] + i}\t{line}\n" for i, line in enumerate(lines))
        name = "train.tslog"
    if cut:
        text = text[: len(text) - 3]  # a partial last line
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8")
        if forced is not None:
            fast = Pipeline(parsers=(forced,))
            full = Pipeline(parsers=(FULL_PATH[forced],))
        else:
            fast = Pipeline()
            full = Pipeline(parsers=tuple(FULL_PATH.get(f, f) for f in FAMILIES))
        assert events_of(path, fast) == events_of(path, full)


framings = {
    "terminators": st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=1),
    "cut": st.booleans(),
    "times": st.one_of(st.none(), st.lists(st.sampled_from([1.7e9, 0.0, 5e9, -1.0]), min_size=1)),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=nanogpt_logs, forced=st.sampled_from([None, NanoGptParser]), **framings)
def test_nanogpt_fast_lane_gives_the_full_paths_events(lines: list[str], terminators: list[str], cut: bool,
                                                       forced: type | None, times: list[float] | None) -> None:
    head = ["Overriding: max_iters = 100", "iter 0: loss 4.0, time 30000.00ms, mfu -100.00%"]
    assert_same_events(head + lines, terminators, cut, forced, times)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=bar_logs, forced=st.sampled_from([None, HfTrainerParser, TqdmBarsParser]), **framings)
def test_bar_fast_lane_gives_the_full_paths_events(lines: list[str], terminators: list[str], cut: bool,
                                                   forced: type | None, times: list[float] | None) -> None:
    head = ["  0%|          | 0/100 [00:00<?, ?it/s]"]
    assert_same_events(head + lines, terminators, cut, forced, times)


def test_the_end_of_a_pass_guessed_to_be_an_epochs_is_left_to_the_full_path() -> None:
    # A bar of 3 drawn at 0 before the training bar: the first pass is taken as the first of 3 epochs until it
    # completes (``_bar_epochs``), which the full path reads.
    lines = ["  0%|          | 0/3 [00:00<?, ?it/s]", bar(0, 100), bar(50, 100), bar(100, 100)]
    assert_same_events(lines, ["\n"], False, HfTrainerParser, None)


def test_a_redraw_the_fast_lane_reads_leaves_the_description_as_the_full_path_does() -> None:
    # Found by the property test above: a pass whose description counts is followed by one that draws none, and the
    # bar then starts over (``_bar_epochs``: a description set in the loop, the next epoch, or none).
    lines = ["  0%|          | 0/100 [00:00<?, ?it/s]", bar(0, 100, desc="Epoch 1: "), bar(100, 100), bar(0, 100)]
    assert_same_events(lines, ["\n"], False, HfTrainerParser, None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=lightning_logs, forced=st.sampled_from([None, LightningParser]), **framings)
def test_lightning_fast_lane_gives_the_full_paths_events(lines: list[str], terminators: list[str], cut: bool,
                                                         forced: type | None, times: list[float] | None) -> None:
    head = ["Epoch 0:   1%|          | 1/100 [00:00<00:10,  9.50it/s, v_num=0]"]
    assert_same_events(head + lines, terminators, cut, forced, times)


def test_the_fast_lane_reads_plain_lines_and_leaves_the_rest() -> None:
    parser = NanoGptParser()
    event = parser.fast_progress("iter 12: loss 3.25, time 81.50ms, mfu 12.50%")
    assert event == Progress(iteration=12, loss=3.25, iteration_seconds=0.0815, mfu=0.125)
    assert parser.fast_progress("iter 12: loss 3.25, time 81.50ms, mfu -100.00%") == Progress(
        iteration=12, loss=3.25, iteration_seconds=0.0815, mfu=None)
    for odd in ("iter 12: loss 3.25, time 1,081.50ms, mfu 12.50%", "iter 12: loss 3.25, time 81.50ms",
                f"iter {10**15}: loss 1.0, time 80.00ms, mfu 1.00%", "step 250: train loss 2.1, val loss 2.2"):
        assert parser.fast_progress(odd) is None


def test_the_bar_fast_lane_reads_redraws_of_the_training_bar_only() -> None:
    parser = HfTrainerParser()
    first = " 10%|█         | 10/100 [00:02<00:18,  4.00it/s]"
    assert parser.fast_progress(first) is None  # no training bar known yet: the full path decides
    parser.parse(first)
    assert parser.fast_progress(" 11%|█         | 11/100 [00:02<00:18,  2.00s/it]") == Progress(
        iteration=11, total_iterations=100, iteration_seconds=2.0)
    for odd in (" 12%|█         | 12/20 [00:02<00:18,  4.00it/s]", "Eval:  12%|█  | 12/100 [00:02<00:18,  4.00it/s]",
                " 12%|█         | 12/100 [00:02<00:18,  4.00it/s, loss=1.2]", " 12%|█  | 12/100 [00:02<?, ?it/s]"):
        assert parser.fast_progress(odd) is None


def test_a_training_bar_like_the_candidate_bar_over_epochs_is_read_whole() -> None:
    """Found by the property test above: a bar of 100 replaced at 0 by a larger one is a candidate bar over epochs;
    when the training bar is again of 100 (the total the log states), its redraws may be that bar moving
    (``BarEpochs.other_bar``), so the fast lane and the columns leave them to ``parse``."""
    lines = ["  0%|          | 0/100 [00:00<?, ?it/s]", " 0%|███▏      | 0/10000000000000000 [00:12<01:34, 1.00it/s]",
             "  Total optimization steps = 100", *["0%|███▏      | 0/100 [00:12<01:34, 1.00it/s]"] * 3,
             "2%|███▏      | 2/100 [00:12<01:34, 1.00it/s]"]
    for forced in (HfTrainerParser, TqdmBarsParser):
        assert_same_events(lines, ["\n"], False, forced, None)
