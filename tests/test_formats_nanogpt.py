"""nanoGPT parser: real lines from tests/data/real_ng_*.log and the shapes of older versions."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from exporter.events import Checkpoint, Config, Eval, Progress
from exporter.formats.nanogpt import NanoGptParser

DATA = Path(__file__).parent / "data"


def parse_all(lines: list[str]) -> list:
    parser = NanoGptParser()
    return [event for line in lines for event in parser.parse(line)]


def test_iter_line_real() -> None:
    [event] = NanoGptParser().parse("iter 250: loss 2.0307, time 90796.41ms, mfu 0.43%")
    assert isinstance(event, Progress)
    assert event.iteration == 250
    assert event.loss == 2.0307
    assert math.isclose(event.iteration_seconds, 90.79641)
    assert math.isclose(event.mfu, 0.0043)
    assert event.total_iterations is None


def test_mfu_minus_100_is_unknown() -> None:
    [event] = NanoGptParser().parse("iter 0: loss 5.3645, time 5649.01ms, mfu -100.00%")
    assert event.mfu is None
    assert math.isclose(event.iteration_seconds, 5.64901)


def test_old_line_without_mfu() -> None:
    [event] = NanoGptParser().parse("iter 12: loss 4.1000, time 250.00ms")
    assert event.iteration == 12 and event.mfu is None and math.isclose(event.iteration_seconds, 0.25)


def test_loss_nan_is_kept() -> None:
    [event] = NanoGptParser().parse("iter 40: loss nan, time 80.12ms, mfu 12.50%")
    assert math.isnan(event.loss)


def test_eval_and_checkpoint() -> None:
    events = parse_all(["step 250: train loss 1.9639, val loss 2.0676", "saving checkpoint to out-dir"])
    assert events == [Eval(iteration=250, loss=2.0676), Checkpoint(iteration=250, path="out-dir")]


def test_config_dump_then_overrides_last_wins() -> None:
    lines = [
        "Overriding config with config/train_shakespeare_char.py:",
        "eval_interval = 250 # keep frequent because we'll overfit",
        "log_interval = 10 # don't print too too often",
        "max_iters = 5000",
        "lr_decay_iters = 5000 # make equal to max_iters usually",
        "Overriding: max_iters = 3000",
        "Overriding: log_interval = 1",
        "tokens per iteration will be: 2,048",
    ]
    events = parse_all(lines)
    assert events == [
        Config(new_run=True),
        Config(eval_interval=250),
        Config(log_interval=10),
        Config(total_iterations=5000),
        Config(total_iterations=3000),
        Config(log_interval=1),
    ]


def test_assignments_outside_a_config_block_are_ignored() -> None:
    parser = NanoGptParser()
    assert parser.parse("iter 1: loss 2.0, time 10.00ms, mfu 1.00%")
    # After training started, a stray python-looking line is not config.
    assert parser.parse("max_iters = 7") == []


def test_overrides_without_config_file_start_a_run() -> None:
    parser = NanoGptParser()
    assert parser.parse("iter 5: loss 2.0, time 10.00ms")
    events = parser.parse("Overriding: max_iters = 100")
    assert events == [Config(new_run=True), Config(total_iterations=100)]
    # Further overrides in the same block are not new runs.
    assert parser.parse("Overriding: eval_interval = 20") == [Config(eval_interval=20)]


def test_near_misses_yield_nothing() -> None:
    parser = NanoGptParser()
    for line in [
        "iter 250: loss 2.0307",  # truncated
        "iter x: loss 2.0, time 1ms",
        "step 0: train loss 4.677779 (took 1926.938000 ms)",  # llm.c CPU, not a nanoGPT eval
        "iteration 43/100",
    ]:
        assert parser.parse(line) == [], line


def test_non_integer_override_reveals_no_total() -> None:
    events = NanoGptParser().parse("Overriding: max_iters = lots")
    assert events == [Config(new_run=True)]


def test_real_log_totals_and_final_iteration() -> None:
    lines = (DATA / "real_ng_perturbed.log").read_text().splitlines()
    events = parse_all(lines)
    progress = [e for e in events if isinstance(e, Progress)]
    configs = [e for e in events if isinstance(e, Config)]
    totals = [c.total_iterations for c in configs if c.total_iterations is not None]
    assert totals[-1] == 3000 and totals[0] == 5000  # dump first, command-line override last
    assert progress[0].iteration == 0 and progress[-1].iteration == 3000
    # Progress ratio reaches exactly 1.0 at the last printed iteration.
    assert progress[-1].iteration / totals[-1] == 1.0
    assert [c.log_interval for c in configs if c.log_interval][-1] == 10
    assert [c.eval_interval for c in configs if c.eval_interval][-1] == 250
    evals = [e for e in events if isinstance(e, Eval)]
    assert [e.iteration for e in evals][:3] == [0, 250, 500] and evals[-1].iteration == 3000
    assert any(isinstance(e, Checkpoint) and e.iteration == 250 for e in events)
    assert sum(1 for c in configs if c.new_run) == 1


def test_iteration_numbers_float_cannot_read_take_the_tolerant_path() -> None:
    from exporter.formats.nanogpt import NanoGptParser

    parser = NanoGptParser()
    (fast,) = parser.parse("iter 7: loss 2.5000, time 81.25ms, mfu 30.00%")
    assert (fast.iteration, fast.loss, fast.iteration_seconds, fast.mfu) == (7, 2.5, 0.08125, 0.3)
    (odd,) = parser.parse("iter 8: loss nan, time 1,234.50ms, mfu -100.00%")
    assert odd.iteration == 8 and odd.loss != odd.loss
    assert odd.iteration_seconds == 1.2345 and odd.mfu is None
    (bare,) = parser.parse("iter 9: loss 1_0, time 80ms")
    assert (bare.loss, bare.iteration_seconds, bare.mfu) == (10.0, 0.08, None)


def test_llama2c_progress_line() -> None:
    """llama2.c's ``train.py`` (karpathy/llama2.c, ``print(f"{iter_num} | loss {lossf:.4f} | lr {lr:e} |
    {dt*1000:.2f}ms | mfu {running_mfu*100:.2f}%")``) with nanoGPT's eval and config lines."""
    from exporter.events import Eval, Progress
    from exporter.formats.nanogpt import NanoGptParser

    parser = NanoGptParser()
    (first,) = parser.parse("590 | loss 1.2345 | lr 1.000000e-04 | 7949.49ms | mfu 2.50%")
    assert isinstance(first, Progress) and first.iteration == 590
    assert first.iteration_seconds == pytest.approx(7.94949) and first.mfu == pytest.approx(0.025)
    (nan,) = parser.parse("600 | loss nan | lr 1.000000e-04 | 7949.49ms | mfu -100.00%")
    assert isinstance(nan, Progress) and math.isnan(nan.loss) and nan.mfu is None
    assert isinstance(parser.parse("step 2000: train loss 1.2000, val loss 1.3000")[0], Eval)
