"""llm.c, modded-nanogpt and nanochat parsers on lines in the shapes these programs print."""

from __future__ import annotations

import math

import pytest

from exporter.events import Eval, Progress
from exporter.formats.llmc import LlmcParser
from exporter.formats.modded_nanogpt import ModdedNanoGptParser
from exporter.formats.nanochat import NanochatParser


def one(parser, line: str) -> Progress:
    events = parser.parse(line)
    assert len(events) == 1 and isinstance(events[0], Progress), (line, events)
    return events[0]


@pytest.mark.parametrize(
    ("line", "iteration", "total", "seconds", "loss", "mfu", "tokens"),
    [
        (
            "step   61/74 | loss 3.208939 (+nanz)| norm 1.4800 (+nanz)| lr 3.00e-04 | 44.57 ms | -100.0% bf16 MFU | 91886 tok/s",
            61, 74, 0.04457, 3.208939, None, 91886.0,
        ),
        (
            "step    1/74 | train loss 4.283 | norm 1.2 | lr 1.00e-06 | 80.11 ms | 45.1% A100 fp16 MFU | 102233 tok/s",
            1, 74, 0.08011, 4.283, 0.451, 102233.0,
        ),
        (
            "step 19560/19560 | loss 3.2 (+0.12z)| norm 0.27 (-0.01z)| lr 0.00e+00 | 1,024.50 ms | 51.2% bf16 MFU | 1,234,567 tok/s",
            19560, 19560, 1.0245, 3.2, 0.512, 1234567.0,
        ),
        ("step   12/74: train loss 4.367 norm 1.2 lr 3.00e-04 (80.79 ms, 50700 tok/s)", 12, 74, 0.08079, 4.367, None, 50700.0),
        ("step   12/74: train loss 4.367 (80.79 ms, 50700 tok/s)", 12, 74, 0.08079, 4.367, None, 50700.0),
        ("step 3: train loss 4.677779 (took 1926.938000 ms)", 3, None, 1.926938, 4.677779, None, None),
    ],
)
def test_llmc_step_lines(line, iteration, total, seconds, loss, mfu, tokens) -> None:
    event = one(LlmcParser(), line)
    assert (event.iteration, event.total_iterations, event.loss, event.tokens_per_second) == (
        iteration, total, loss, tokens,
    )
    assert math.isclose(event.iteration_seconds, seconds)
    assert event.mfu == (None if mfu is None else pytest.approx(mfu))


def test_llmc_nan_loss_and_val_line() -> None:
    parser = LlmcParser()
    event = one(parser, "step   40/74 | loss nan (+nanz)| norm nan (+nanz)| lr 3.00e-04 | 44.00 ms | 12.0% bf16 MFU | 1 tok/s")
    assert math.isnan(event.loss)
    assert parser.parse("val loss 3.512") == [Eval(iteration=40, loss=3.512)]


def test_llmc_rejects_other_families() -> None:
    parser = LlmcParser()
    for line in [
        "step 250: train loss 1.9639, val loss 2.0676",
        "step:250/1390 train_time:7921ms step_avg:31.69ms",
        "step 00123/21400 (0.57%) | loss: 3.12 | lrm: 1.00 | dt: 512.34ms",
        "step   61/74 | loss 3.2",
    ]:
        assert parser.parse(line) == [], line


def test_modded_nanogpt_printed_average_wins_then_differences_of_cumulative_time() -> None:
    parser = ModdedNanoGptParser()
    assert parser.parse("step:0/1390 val_loss:10.8258 train_time:0ms step_avg:nanms") == [Eval(iteration=0, loss=10.8258)]
    first = one(parser, "step:1/1390 train_time:29ms step_avg:29.00ms")
    assert first.total_iterations == 1390 and math.isclose(first.iteration_seconds, 0.029)
    one(parser, "step:125/1390 train_time:3921ms step_avg:31.37ms")
    later = one(parser, "step:250/1390 train_time:7921ms step_avg:31.69ms")
    # The trainer's own figure wins over the (7921 - 3921) ms / 125 steps we could derive.
    assert math.isclose(later.iteration_seconds, 0.03169)
    unprinted = one(parser, "step:375/1390 train_time:11921ms step_avg:nanms")
    assert math.isclose(unprinted.iteration_seconds, 0.032)  # (11921 - 7921) ms over 125 steps


def test_modded_nanogpt_restart_falls_back_to_step_avg() -> None:
    parser = ModdedNanoGptParser()
    one(parser, "step:500/1390 train_time:16000ms step_avg:32.00ms")
    restarted = one(parser, "step:10/1390 train_time:400ms step_avg:40.00ms")
    assert math.isclose(restarted.iteration_seconds, 0.040)
    early = one(ModdedNanoGptParser(), "step:1/3000 train_loss:10.8258 train_time:29ms step_avg:nanms")
    assert early.iteration_seconds is None and early.loss == 10.8258


def test_nanochat_lines() -> None:
    parser = NanochatParser()
    event = one(
        parser,
        "step 00123/21400 (0.57%) | loss: 3.123456 | lrm: 1.00 | dt: 512.34ms | tok/sec: 1,234,567 | mfu: 45.67 | total time: 1.2m",
    )
    assert (event.iteration, event.total_iterations, event.tokens_per_second) == (123, 21400, 1234567.0)
    assert math.isclose(event.iteration_seconds, 0.51234) and math.isclose(event.mfu, 0.4567)
    newer = one(
        parser,
        "step 00124/21400 (0.58%) | loss: nan | lrm: 1.00 | dt: 498.00ms | tok/sec: 1,052,000 | bf16_mfu: 40.00 | total time: 1.3m | eta: 181.2m",
    )
    assert math.isnan(newer.loss) and math.isclose(newer.mfu, 0.40)
    assert parser.parse("Step 00250 | Validation bpb: 0.9876") == [Eval(iteration=250, loss=0.9876)]
    assert parser.parse("step   61/74 | loss 3.208939 (+nanz)| norm 1.4800 (+nanz)| lr 3.00e-04 | 44.57 ms") == []


def test_llmc_nan_loss_lines_are_parsed() -> None:
    """llm.c prints the loss with ``%9f``: a diverged run reads ``loss      nan (+nanz)``."""
    import math

    from exporter.formats.llmc import LlmcParser

    parser = LlmcParser()
    (event,) = parser.parse("step   12/74 | loss       nan (+nanz)| norm    nan (+nanz)| lr 6.00e-04 | 123.45 ms | "
                            "35.2% bf16 MFU | 160000 tok/s")
    assert event.iteration == 12 and event.loss is not None and math.isnan(event.loss)
