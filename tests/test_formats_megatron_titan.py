"""Megatron-LM, Megatron-DeepSpeed / DeepSpeed and torchtitan parsers on lines in their printed shapes."""

from __future__ import annotations

import math
import time

import pytest

from exporter.events import Checkpoint, Config, Eval, Progress
from exporter.formats.deepspeed import DeepSpeedParser
from exporter.formats.megatron import MegatronParser
from exporter.formats.torchtitan import TorchtitanParser

NEW = (
    " [2024-04-06 02:59:36] iteration       43/     100 | consumed samples:         5504 | elapsed time per iteration"
    " (ms): 5444.9 | throughput per GPU (TFLOP/s/GPU): 80.1 | learning rate: 1.500000E-04 | global batch size:   128 |"
    " lm loss: 7.123456E+00 | loss scale: 1.0 | grad norm: 1.234 | number of skipped iterations:   0 |"
    " number of nan iterations:   0 |"
)
OLD = (
    " iteration      {it}/  500000 | consumed samples:        51200 | elapsed time per iteration (ms): 1,234.5 |"
    " learning rate: 6.000E-05 | global batch size:   512 | lm loss: {loss} | loss scale: 65536.0 |"
    " number of skipped iterations:   0 | number of nan iterations:   0 |"
)


def progress(events: list) -> list[Progress]:
    return [e for e in events if isinstance(e, Progress)]


def test_megatron_with_timestamp_prefix_left_in() -> None:
    [event] = MegatronParser().parse(NEW)
    assert (event.iteration, event.total_iterations) == (43, 100)
    assert math.isclose(event.iteration_seconds, 5.4449) and math.isclose(event.loss, 7.123456)
    assert event.averaged_over is None  # interval not known from one line


def test_megatron_old_shape_interval_from_consecutive_lines_and_nan() -> None:
    parser = MegatronParser()
    [first] = parser.parse(OLD.format(it=100, loss="6.7E+00"))
    [second] = parser.parse(OLD.format(it=200, loss="nan"))
    assert (first.iteration, first.total_iterations, first.averaged_over) == (100, 500000, None)
    assert second.averaged_over == 100
    assert math.isclose(second.iteration_seconds, 1.2345)
    assert math.isnan(second.loss)


def test_megatron_arguments_dump() -> None:
    parser = MegatronParser()
    lines = [
        "------------------------ arguments ------------------------",
        "  eval_interval ................................... 1000",
        "  global_batch_size ............................... 512",
        "  log_interval .................................... 10",
        "  train_iters ..................................... None",
        "  train_samples ................................... 5120000",
        "-------------------- end of arguments ---------------------",
    ]
    events = [e for line in lines for e in parser.parse(line)]
    assert events == [
        Config(new_run=True),
        Config(eval_interval=1000),
        Config(log_interval=10),
        Config(total_iterations=10000),
    ]
    # The echoed log_interval gives the averaging window from the first iteration line on.
    [event] = parser.parse(OLD.format(it=10, loss="9.1E+00"))
    assert event.averaged_over == 10


def test_megatron_train_iters_wins_over_samples() -> None:
    parser = MegatronParser()
    lines = [
        "  global_batch_size ............................... 8",
        "  train_iters ..................................... 300",
        "  train_samples ................................... 99999",
    ]
    assert [e for line in lines for e in parser.parse(line)] == [Config(total_iterations=300)]


def test_megatron_eval_checkpoint_and_data_time() -> None:
    parser = MegatronParser()
    assert parser.parse(
        " validation loss at iteration 100 | lm loss value: 5.612345E+00 | lm loss PPL: 2.738E+02 |"
    ) == [Eval(iteration=100, loss=5.612345)]
    assert parser.parse("saving checkpoint at iteration     100 to /ckpt/gpt in torch_dist format") == [
        Checkpoint(iteration=100, path="/ckpt/gpt")
    ]
    assert parser.parse("    batch-generator ...............................: (12.34, 56.78)") == []
    [event] = parser.parse(OLD.format(it=110, loss="5.0"))
    assert math.isclose(event.data_seconds, 0.05678)  # the slowest rank
    [after] = parser.parse(OLD.format(it=120, loss="5.0"))
    assert after.data_seconds is None  # used once
    parser.parse("time (ms) | forward-compute: 100.0 | backward-compute: 200.0 | batch-generator: 7.5 | optimizer: 1.0")
    [event] = parser.parse(OLD.format(it=130, loss="5.0"))
    assert math.isclose(event.data_seconds, 0.0075)


def test_deepspeed_lines() -> None:
    parser = DeepSpeedParser()
    assert parser.parse("[2024-04-06 02:59:36,123] [INFO] [config.py:1000:print]   train_batch_size ............. 32") == []
    [step] = parser.parse(
        "[2024-04-06 02:59:36,123] [INFO] [logging.py:96:log_dist] [Rank 0] step=35, skipped=0, lr=[0.00015], mom=[(0.9, 0.95)]"
    )
    assert step.iteration == 35 and step.iteration_seconds is None
    [rate] = parser.parse(
        "[2024-04-06 02:59:37,001] [INFO] [timer.py:260:stop] epoch=0/micro_step=40/global_step=40, "
        "RunningAvgSamplesPerSec=7.86, CurrSamplesPerSec=8.0, MemAllocated=0.5GB, MaxMemAllocated=2.3GB"
    )
    assert rate.iteration == 40 and math.isclose(rate.iteration_seconds, 4.0)
    [pipe] = parser.parse("steps: 50 loss: 7.1234 iter time (s): 1.234 samples/sec: 103.7")
    assert (pipe.iteration, pipe.loss, pipe.iteration_seconds) == (50, 7.1234, 1.234)


def test_deepspeed_rate_without_batch_size_gives_no_seconds() -> None:
    [rate] = DeepSpeedParser().parse(
        "epoch=0/micro_step=40/global_step=40, RunningAvgSamplesPerSec=7.86, CurrSamplesPerSec=8.0, MemAllocated=0.5GB"
    )
    assert rate.iteration_seconds is None


def test_megatron_deepspeed_iteration_lines_parse_in_deepspeed_family() -> None:
    line = (
        " iteration       10/  500000 | consumed samples:           80 | consumed tokens:       163840 |"
        " elapsed time per iteration (ms): 1234.5 | learning rate: 1.000E-05 | global batch size:     8 |"
        " lm loss: 1.045E+01 | loss scale: 4096.0 | actual seqlen:  2048 | number of skipped iterations:   0 |"
        " number of nan iterations:   0 | samples per second: 6.480 | tokens per gpu per second (tgs): 1659.0 |"
    )
    [event] = DeepSpeedParser().parse(line)
    assert (event.iteration, event.total_iterations, event.tokens_per_second) == (10, 500000, 1659.0)


TITAN = (
    "[titan] 2026-05-18 16:08:16,958 - root - INFO - step: 54  loss:  2.77350  grad_norm:  0.5300  "
    "memory:  9.46GiB(64.99%)  tps: 7,084  tflops: 0.51  mfu: 0.16%"
)


def test_torchtitan_step_line_takes_its_own_timestamp() -> None:
    [event] = TorchtitanParser().parse(TITAN)
    assert (event.iteration, event.loss, event.tokens_per_second) == (54, 2.7735, 7084.0)
    assert math.isclose(event.mfu, 0.0016)
    expected = time.mktime((2026, 5, 18, 16, 8, 16, 0, 0, -1)) + 0.958
    assert event.time == pytest.approx(expected)


def test_torchtitan_startup_validation_checkpoint_and_old_wps() -> None:
    parser = TorchtitanParser()
    assert parser.parse(
        "[titan] 2026-05-18 16:07:00,001 - root - INFO - Training starts at step 1, with local batch size 8, "
        "global batch size 8, sequence length 2048, total steps 1000 (warmup 200)"
    )[0] == Config(total_iterations=1000, new_run=True, time=pytest.approx(time.mktime((2026, 5, 18, 16, 7, 0, 0, 0, -1)) + 0.001))
    [old] = parser.parse("root - INFO - step:  2  loss: 11.2000  memory: 30.10GiB(40.00%)  wps: 1,234  mfu: nan%")
    assert old.tokens_per_second == 1234.0 and old.time is None
    [ev] = parser.parse("[titan] 2026-05-18 16:09:00,000 - root - INFO - validate step: 100  loss:  2.5000  memory: 1GiB")
    assert isinstance(ev, Eval) and (ev.iteration, ev.loss) == (100, 2.5)
    [ckpt] = parser.parse("[titan] 2026-05-18 16:09:01,000 - root - INFO - Saving the checkpoint (or staging if async is enabled).")
    assert isinstance(ckpt, Checkpoint) and ckpt.iteration == 2


def test_megatron_deepspeed_counts_megatrons_iterations_not_deepspeeds_steps() -> None:
    """Megatron-DeepSpeed prints DeepSpeed's ``step=N`` engine lines beside Megatron's ``iteration N/M`` lines (the
    engine's step is one ahead): the counter and time come from the trainer's own line, even when DeepSpeed's comes
    first in the file."""
    from exporter.events import Progress
    from exporter.pipeline import Pipeline
    from exporter.sources import Record

    ds = ("[2024-04-06 02:59:36,123] [INFO] [logging.py:96:log_dist] [Rank 0] step={n}, skipped=0, lr=[0.00015], "
          "mom=[(0.9, 0.95)]")
    mg = (" iteration       {n}/   10000 | consumed samples:         1088 | elapsed time per iteration (ms): 4103.1 | "
          "learning rate: 1.500E-04 | global batch size:    32 | lm loss: 7.051849E+00 | loss scale: 1.0 |")
    lines = [line.format(n=n + shift) for n in range(34, 40) for line, shift in ((ds, 1), (mg, 0))]
    pipeline = Pipeline()
    events = [e for i, line in enumerate(lines, 1) for e in pipeline.feed(Record(line, None, i, "md.log"))]
    events += pipeline.finish()
    assert pipeline.format == "megatron"
    progress = [e for e in events if isinstance(e, Progress)]
    assert [e.iteration for e in progress] == list(range(34, 40))
    assert all(e.iteration_seconds == 4.1031 for e in progress)
