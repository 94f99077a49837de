"""Family registry, autodetection, and robustness of every parser against garbage."""

from __future__ import annotations

import random

import pytest

from exporter.events import Config, Progress
from exporter.formats import FAMILIES, GENERIC_FAMILIES, AutoParser, family_names, get_parser
from exporter.formats.base import Parser
from exporter.formats.nanogpt import NanoGptParser

SAMPLES = {
    "nanogpt": "iter 250: loss 2.0307, time 90796.41ms, mfu 0.43%",
    "llmc": "step   61/74 | loss 3.208939 (+nanz)| norm 1.4800 (+nanz)| lr 3.00e-04 | 44.57 ms | -100.0% bf16 MFU | 91886 tok/s",
    "modded_nanogpt": "step:250/1390 train_time:7921ms step_avg:31.69ms",
    "nanochat": "step 00123/21400 (0.57%) | loss: 3.123456 | lrm: 1.00 | dt: 512.34ms | tok/sec: 1,234,567 | mfu: 45.67",
    "megatron": " iteration       43/     100 | consumed samples: 5504 | elapsed time per iteration (ms): 5444.9 | lm loss: 7.1E+00 |",
    "deepspeed": "[INFO] [logging.py:96:log_dist] [Rank 0] step=35, skipped=0, lr=[0.00015], mom=[(0.9, 0.95)]",
    "jsonl": '{"step": 12, "loss": 2.31, "lr": 0.0003, "step_time": 0.25}',
    "torchtitan": "[titan] 2026-05-18 16:08:16,958 - root - INFO - step: 54  loss:  2.77350  tps: 7,084  mfu: 0.16%",
    "litgpt": "Epoch 1 | iter 98 step 49 | loss train: 3.123, val: n/a | iter time: 199.07 ms (step)",
    "nemo": "Training epoch 0, iteration 125/149 | lr: 1.5e-05 | global_step: 125 | reduced_train_loss: 2.301 | "
            "train_step_timing in s: 0.5398",
    "torchtune": "Step 12 | loss:1.2345 lr:2e-05 tokens_per_second_per_gpu:1234.5 ",
    "maxtext": "completed step: 12, seconds: 1.234, TFLOP/s/device: 123.456, Tokens/s/device: 5678.901, "
               "total_weights: 4096, loss: 5.678",
    "opennmt": "Step 2400/200000; acc: 45.2; ppl: 12.3; xent: 2.5; lr: 0.00070; sents:    1234; bsz:  567/ 890/12; "
               "12345/23456 tok/s;    123 sec;",
    "paddle": "loss: 2.34567890, learning_rate: 3e-05, global_step: 120, interval_runtime: 12.34, "
              "interval_samples_per_second: 10.37, interval_steps_per_second: 0.81, epoch: 0.12",
}


def test_registry_order_and_lookup() -> None:
    names = family_names()
    assert len(names) == len(set(names)) == len(FAMILIES)
    for name in SAMPLES:
        assert name in names
        assert get_parser(name).name == name
    # Specific families before the generic bar parser, which matches bars inside Lightning/HF logs too, and the
    # fallback for any step counter last.
    # A Trainer's bar before DeepSpeed's step= lines, and bars before JSON records (finer, with their total).
    assert names[-4:] == ["tqdm_bars", "deepspeed", "jsonl", "generic"]
    assert names.index("lightning") < names.index("tqdm_bars") and names.index("hf_trainer") < names.index("tqdm_bars")
    with pytest.raises(KeyError, match="unknown format 'nope'"):
        get_parser("nope")


@pytest.mark.parametrize("family", sorted(SAMPLES))
def test_autodetect_picks_the_family(family: str) -> None:
    auto = AutoParser()
    preamble = ["Loading dataset...", "some warning: x = 3", ""]
    for index, text in enumerate(preamble, start=1):
        assert auto.parse(text, record=index) == []
    events = auto.parse(SAMPLES[family], time=12.5, record=4)
    if family in GENERIC_FAMILIES:
        # A generic family decides at the end of its window (or of the input), so that a more specific one
        # whose lines share the file can still take over.
        assert auto.name is None
        events += auto.finish()
    assert auto.name == family
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress and all(e.format == family and e.record == 4 for e in progress)
    # The record's time, except torchtitan, whose lines carry their own timestamp.
    assert all((e.time == 12.5) != (family == "torchtitan") for e in progress)


def test_sample_lines_are_exclusive() -> None:
    # Each sample is recognised as progress by its own family and by no other specific family.
    for family, text in SAMPLES.items():
        claimed = [cls.name for cls in FAMILIES if any(isinstance(e, Progress) for e in cls().parse(text))]
        assert claimed[:1] == [family], (family, claimed)


def test_undecided_events_are_released_with_their_own_stamps() -> None:
    auto = AutoParser()
    assert auto.parse("Overriding config with config/x.py:", time=1.0, record=1) == []
    assert auto.parse("max_iters = 5000", time=2.0, record=2) == []
    events = auto.parse("iter 0: loss 5.0, time 10.00ms, mfu -100.00%", time=3.0, record=3)
    assert [(type(e).__name__, e.record, e.time, e.format) for e in events] == [
        ("Config", 1, 1.0, "nanogpt"),
        ("Config", 2, 2.0, "nanogpt"),
        ("Progress", 3, 3.0, "nanogpt"),
    ]
    # Locked: another family's progress line is no longer understood.
    assert auto.parse(SAMPLES["modded_nanogpt"], record=4) == []
    assert auto.name == "nanogpt"


def test_buffer_is_bounded_keeping_the_latest() -> None:
    auto = AutoParser(buffer_limit=3)
    auto.parse("Overriding config with config/x.py:", record=1)
    for index in range(2, 12):
        auto.parse(f"max_iters = {index}", record=index)
    events = auto.parse("iter 0: loss 5.0, time 10.00ms", record=12)
    assert [e.total_iterations for e in events if isinstance(e, Config)] == [9, 10, 11]


def test_single_family_is_locked_from_the_start() -> None:
    auto = AutoParser([NanoGptParser])
    assert auto.name == "nanogpt"
    assert auto.parse("max_iters = 5000") == []  # no config block open: not config
    assert auto.parse("Overriding: max_iters = 10", record=1)[1].total_iterations == 10


class _Broken(Parser):
    name = "broken"

    def parse(self, text: str) -> list:
        raise RuntimeError("bug")


def test_a_raising_parser_costs_the_record_not_the_caller() -> None:
    auto = AutoParser([_Broken])
    assert auto.parse("anything") == []
    assert auto.errors == 1


def _garbage() -> list[str]:
    rng = random.Random(1234)
    texts = []
    for _ in range(300):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        texts.append(raw.decode("utf-8", errors="replace"))
    for sample in SAMPLES.values():
        texts += [sample[:cut] for cut in range(0, len(sample), 3)]
        texts.append(sample.replace("0", "\x00"))
        texts.append(sample.replace(" ", ""))
    texts += [
        "iter 99999999999999999999999999: loss 1e999, time 1e999ms, mfu 1e999%",
        "step:1/0 train_time:-5ms step_avg:infms",
        "Overriding: max_iters = 1_0_0",
        " iteration 5/ 0 | elapsed time per iteration (ms): | lm loss: |",
        "step 1/2 | loss x | | | ms | % MFU | tok/s",
        "\ufffd" * 1000,
        "[rank0]:" * 1000,
        "#015" * 1000,
    ]
    return texts


@pytest.mark.parametrize("cls", FAMILIES, ids=lambda cls: cls.name)
def test_every_family_survives_garbage(cls: type[Parser]) -> None:
    parser = cls()
    for text in _garbage():
        assert isinstance(parser.parse(text), list)


def test_own_families_on_a_10_mb_line_finish_and_stay_quiet() -> None:
    from conftest import must_finish

    big = "x" * 10_000_000
    tricky = "step " + "1" * 5_000_000 + " | " * 1000
    for name in SAMPLES:
        parser = get_parser(name)()
        with must_finish():
            assert parser.parse(big) == []
            parser.parse(tricky)


def _fake(name: str, marker: str) -> type[Parser]:
    class Fake(Parser):
        def parse(self, text: str) -> list:
            if text.startswith(marker):
                return [Progress(iteration=int(text[len(marker):]))]
            return [Config(log_interval=1)] if text == "config" else []

    Fake.name = name
    return Fake


SPECIFIC = _fake("lightning", "Epoch ")
GENERIC = _fake("tqdm_bars", "bar ")


def test_generic_family_yields_to_a_specific_one_within_the_window() -> None:
    auto = AutoParser([SPECIFIC, GENERIC], window=5)
    assert auto.parse("config", record=1) == []
    assert auto.parse("bar 0", record=2) == []  # generic progress: tentative only
    assert auto.name is None
    events = auto.parse("Epoch 3", record=3)
    assert auto.name == "lightning"
    assert [(type(e).__name__, e.record) for e in events] == [("Config", 1), ("Progress", 3)]


def test_generic_family_is_confirmed_after_the_window() -> None:
    auto = AutoParser([SPECIFIC, GENERIC], window=2)
    assert auto.parse("bar 1", record=1) == []
    assert auto.parse("bar 2", record=2) == []
    assert auto.name is None
    # Two more records after the first generic progress: decided, everything buffered released.
    assert [e.iteration for e in auto.parse("noise", record=3)] == [1, 2]
    assert auto.name == "tqdm_bars"
    assert [e.iteration for e in auto.parse("bar 4", record=4)] == [4]
    assert auto.parse("Epoch 9", record=5) == []  # locked


def test_finish_decides_a_short_input() -> None:
    auto = AutoParser([SPECIFIC, GENERIC], window=100)
    auto.parse("bar 7", record=1)
    assert auto.name is None
    assert [e.iteration for e in auto.finish()] == [7]
    assert auto.name == "tqdm_bars"
    assert auto.finish() == []


def test_specific_family_later_in_order_decides_at_once() -> None:
    auto = AutoParser([_fake("nanogpt", "iter "), SPECIFIC, GENERIC], window=100)
    assert [e.iteration for e in auto.parse("Epoch 2", record=1)] == [2]
    assert auto.name == "lightning"


def test_window_also_ends_by_record_time() -> None:
    auto = AutoParser([SPECIFIC, GENERIC], window=100, window_seconds=10.0)
    assert auto.parse("bar 1", time=1000.0, record=1) == []
    assert auto.parse("bar 2", time=1005.0, record=2) == []
    assert auto.parse("noise", record=3) == []  # no time: counts as a record only
    assert [e.iteration for e in auto.parse("bar 3", time=1010.0, record=4)] == [1, 2, 3]
    assert auto.name == "tqdm_bars"


def test_a_second_trainer_later_in_the_file_is_detected() -> None:
    """A file whose first program stops making progress and a second, different trainer starts (a nanoGPT run,
    then a Megatron job appended to the same log): the second is found without reading the first twice."""
    from exporter.formats import QUIET_RECORDS

    auto = AutoParser()
    lines = [f"iter {i}: loss 2.0, time 50.00ms, mfu 1.00%" for i in range(0, 50)]
    lines += ["some chatter between the two programs"] * (QUIET_RECORDS + 5)
    lines += [f" iteration {i:8d}/     100 | consumed samples: {i * 8} | elapsed time per iteration (ms): 5444.9 |"
              f" lm loss: 7.1E+00 |" for i in range(1, 30)]
    events = [e for n, line in enumerate(lines, 1) for e in auto.parse(line, record=n)] + auto.finish()
    progress = [e for e in events if isinstance(e, Progress)]
    families = [e.format for e in progress]
    assert families[:50] == ["nanogpt"] * 50 and set(families[50:]) == {"megatron"} and auto.name == "megatron"
    assert [e.iteration for e in progress[50:]][:3] == [1, 2, 3]
    assert len(progress) == 50 + 29  # each progress line once


def test_chatter_after_a_run_does_not_switch_to_a_generic_family() -> None:
    from exporter.formats import QUIET_RECORDS

    auto = AutoParser()
    lines = [f"iter {i}: loss 2.0, time 50.00ms, mfu 1.00%" for i in range(0, 20)]
    lines += [f"postprocess: step {i} loss 1.5 lr 0.001" for i in range(2 * QUIET_RECORDS)]
    for n, line in enumerate(lines, 1):
        auto.parse(line, record=n)
    assert auto.name == "nanogpt"


@pytest.mark.parametrize("cls", FAMILIES, ids=lambda c: c.name)
def test_a_64_kib_run_of_digits_behind_a_field_name_finishes(cls: type[Parser]) -> None:
    """A number regex searched from every position of a long digit run is quadratic (issue: 20 records of 64 KiB of
    digits took 15.8 s); numbers start at their first digit. Records are capped at 64 KiB."""
    from conftest import must_finish

    for prefix in ("Step 1; acc: 1; ", "loss ", "time: ", "iter ", "global_step: ", "{'loss': ", " 10%|#| ", "["):
        parser = cls()
        with must_finish(20):
            parser.parse(prefix + "1" * 32_000 + " " + "1" * 32_000 + " x")


def test_numbers_are_matched_from_their_first_digit_only() -> None:
    """What keeps a long digit run linear: a match never starts inside a number (it would be retried from every
    digit). Without the lookbehinds these match from position 1 ('234it/s', '234 sec;')."""
    from exporter.formats.generic import _RATE
    from exporter.formats.opennmt import _STEP

    assert _RATE.match("1234it/s", 1) is None and _RATE.match("1234it/s") is not None
    line = "Step 7; acc: 1; 1234 sec;"
    assert _STEP.match(line).group(3) == "1234"
    assert _STEP.search(line.replace("1234 sec", "x234 sec").replace("x", "1", 1)).group(3) == "1234"
