"""Plain progress lines read as columns (``Pipeline.feed_many``, ``estimate/columns.py``) give exactly what reading
them one event at a time gives: the pipeline's counters and events, and the estimator's every figure.

Property: random nanoGPT logs (ordinary lines, spikes, a counter that stands still or goes back, evals and
checkpoints, a configured eval interval, lines the columns leave out, chatter) and HF Trainer bars (redraws, slow
or unknown rates, eval bars, a loss waiting for the next bar, a bar that starts over) and Lightning epoch bars
(redraws, validation bars, a nan loss, the next epoch, slow rates), with or without record times, fed in random
polls, with ``coalesce``'s thresholds made small so that samples fill by line count, by seconds and
across the doubling of the lines per sample many times within one log.
"""

from __future__ import annotations

import math
import random
import tempfile
from collections.abc import Iterator, Sequence
from itertools import groupby
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter import pipeline as pipeline_module
from exporter.commands.common import log_events, log_items
from exporter.estimate import Estimator, coalesce
from exporter.events import Progress, ProgressColumns, to_dict
from exporter.pipeline import Pipeline
from exporter.sources import Record, RecordBlock, read_items, read_records

ROOT = Path(__file__).resolve().parent.parent


def figures(estimator: Estimator, now: float) -> dict[str, object]:
    """Everything an estimate reports, NaN made comparable."""
    estimate = estimator.estimate(now=now)
    out = {k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in estimate.to_dict().items()}
    out["split"] = estimator.time_split(estimate).seconds
    out["history"] = estimator.pace_history()
    return out


def as_blocks(poll: Sequence[Record]) -> list[Record | RecordBlock]:
    """The poll as a reader gives it in blocks: each run of records of one source that share a time as one
    ``RecordBlock`` (of one record, too)."""
    return [RecordBlock("".join("\n" + r.text for r in run), time, run[0].index, len(run), source)
            for (source, time), group in groupby(poll, key=lambda r: (r.source, r.time)) for run in [list(group)]]


def read_both(
    polls: Sequence[Sequence[Record]], now: float, *, format: str | None = None
) -> tuple[dict[str, object], dict[str, object]]:
    """The figures and counters after feeding the polls record by record, and many records at once: as records
    and as blocks (which must agree: the blocks' figures are checked here, the records' returned)."""
    readers = [(Pipeline(format=format), Estimator(clock=lambda: now)) for _ in range(3)]
    columns = 0
    for poll in polls:
        for record in poll:
            for event in readers[0][0].feed(record):
                readers[0][1].observe(event)
        for (pipeline, estimator), items in ((readers[1], poll), (readers[2], as_blocks(poll))):
            for fed in pipeline.feed_many(items):
                if isinstance(fed, ProgressColumns):
                    columns += len(fed.iterations)
                    estimator.observe(fed)
                else:
                    for event in fed[1]:
                        estimator.observe(event)
    results = []
    for pipeline, estimator in readers:
        out = figures(estimator, now)
        out["counters"] = (pipeline.records, pipeline.parsed, pipeline.rejected, pipeline.format)
        results.append(out)
    assert results[2] == results[1], "blocks read otherwise than records"
    results[1]["columns"] = results[0]["columns"] = columns > 0
    return results[0], results[1]


def line(iteration: int, ms: float) -> str:
    return f"iter {iteration}: loss {2 + 1 / (iteration + 1):.4f}, time {ms:.2f}ms, mfu 12.50%"


ordinary = st.tuples(st.just("iter"), st.integers(1, 3), st.sampled_from([80.0, 81.5, 79.25, 85.0]),
                     st.integers(1, 60))
steps = st.one_of(
    ordinary,
    ordinary,
    ordinary,
    st.tuples(st.just("iter"), st.just(1), st.floats(60.0, 100.0), st.integers(1, 20)),
    st.tuples(st.just("iter"), st.just(1), st.sampled_from([400.0, 0.0]), st.just(1)),  # a spike, a zero
    st.tuples(st.just("iter"), st.sampled_from([0, -5, -10_000]), st.just(80.0), st.just(1)),  # still, back
    st.tuples(st.sampled_from(["eval", "ckpt", "nan", "chatter"]), st.just(0), st.just(0.0), st.just(1)),
)
ops = st.lists(steps, min_size=1, max_size=60)


def nanogpt_log(ops: list[tuple[str, int, float, int]], interval: int | None) -> Iterator[str]:
    yield "Overriding: max_iters = 5000"
    if interval is not None:
        yield f"Overriding: eval_interval = {interval}"
    yield line(0, 30_000.0)
    iteration = 0
    for kind, gap, ms, repeat in ops:
        if kind == "iter":
            for _ in range(repeat):
                iteration = max(0, iteration + gap)
                yield line(iteration, ms)
        elif kind == "eval":
            yield f"step {iteration}: train loss 2.1, val loss 2.2"
        elif kind == "ckpt":
            yield "saving checkpoint to out"
        elif kind == "nan":  # a fast-lane line the columns leave out
            iteration += 1
            yield f"iter {iteration}: loss nan, time 80.00ms, mfu 12.50%"
        else:
            yield "number of parameters: 10.65M"


def assert_same_figures(lines: list[str], *, timed: str = "no", cuts: Sequence[int] = (1000,), every: int = 4,
                        seconds: float = 5.0, most: int = 4096) -> bool:
    """The log of ``lines`` (record times on every line, none, or on its first half only), fed in polls of
    ``cuts`` records, with at most ``most`` lines a run of columns, gives the same figures read by event and as
    columns; whether any were columns."""
    start = 1_800_000_000.0
    stamped = {"no": 0, "yes": len(lines), "until": len(lines) // 2}[timed]
    records = [Record(text, start + 0.08 * i if i <= stamped else None, i, "x.log") for i, text in enumerate(lines, 1)]
    polls, at = [], 0
    while at < len(records):
        size = cuts[len(polls) % len(cuts)]
        polls.append(records[at : at + size])
        at += size
    with (mock.patch.object(coalesce, "COALESCE_AFTER", every),
          mock.patch.object(coalesce, "MAX_SAMPLE_SECONDS", seconds),
          mock.patch.object(pipeline_module, "COLUMN_LINES", most)):
        one, many = read_both(polls, start + 0.08 * len(records) + 1)
    assert one == many
    return bool(many["columns"])


READINGS = {  # how a log is read: record times, polls, coalescing thresholds, the longest run of columns
    "timed": st.sampled_from(["no", "yes", "until"]),
    "cuts": st.lists(st.integers(1, 60), min_size=1, max_size=8),
    "every": st.sampled_from([2, 4, 8]),
    "seconds": st.sampled_from([0.3, 1.0, 5.0]),
    "most": st.sampled_from([2, 3, 4096]),
}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops, interval=st.sampled_from([None, 7, 25]), **READINGS)
def test_lines_read_as_columns_give_the_figures_of_one_event_each(
    ops: list[tuple[str, int, float, int]], interval: int | None, timed: str, cuts: list[int], every: int,
    seconds: float, most: int
) -> None:
    assert_same_figures(list(nanogpt_log(ops, interval)), timed=timed, cuts=cuts, every=every, seconds=seconds,
                        most=most)


RUN = ("iter", 1, 80.0, 100)
SCENARIOS = {  # each what one condition of ``columns.take_ordinary`` is about
    "an eval due by the configured interval": ([RUN, RUN, RUN], {"interval": 25}),
    "an eval line": ([RUN, ("eval", 0, 0.0, 1), RUN], {}),
    "a spike": ([RUN, ("iter", 1, 400.0, 1), RUN], {}),
    "the counter standing still": ([RUN, ("iter", 0, 80.0, 1), RUN], {}),
    "the counter going back": ([RUN, ("iter", -50, 80.0, 1), RUN], {}),
    "a sample full by seconds": ([RUN, RUN], {"seconds": 0.3}),
    "the lines per sample doubling": ([RUN, RUN, RUN], {"every": 2}),
    "record times, then none": ([RUN, RUN], {"timed": "until", "cuts": (101,)}),  # a poll of each
    "runs of columns cut short": ([RUN, RUN], {"most": 7}),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_each_reason_a_line_stands_alone_holds_for_columns(name: str) -> None:
    ops, options = SCENARIOS[name]
    interval = options.pop("interval", None)
    assert assert_same_figures(list(nanogpt_log(ops, interval)), **options)  # type: ignore[arg-type]


def bar(n: int, total: int, rate: str, elapsed: str | None = None) -> str:
    pct = n * 100 // total
    return f" {pct:3d}%|{'█' * (pct // 10):<10}| {n}/{total} [{elapsed or f'00:{n % 60:02d}'}<12:34, {rate}]"


bar_steps = st.one_of(
    st.tuples(st.just("bar"), st.integers(1, 2), st.sampled_from(["4.50it/s", "4.61it/s", "12.00it/s"]),
              st.integers(1, 60)),
    st.tuples(st.just("bar"), st.just(1), st.sampled_from(["1.25s/it", "0.50it/s", "?it/s", "0.00it/s"]),
              st.just(1)),  # slow, or no rate: read whole
    st.tuples(st.just("bar"), st.sampled_from([0, -30]), st.just("4.50it/s"), st.just(1)),
    st.tuples(st.sampled_from(["eval", "eval_cut", "eval_dict", "loss", "save", "chatter"]), st.just(0), st.just(""),
              st.just(1)),
    st.tuples(st.just("resume"), st.integers(-60, 60), st.just(""), st.just(1)),
    st.tuples(st.sampled_from(["epoch", "epoch_wrap"]), st.just(0), st.just(""), st.just(1)),
)


def hf_log(ops: list[tuple[str, int, str, int]], total: int) -> Iterator[str]:
    n = 0
    yield bar(0, total, "?it/s")
    for kind, gap, rate, repeat in ops:
        if kind == "bar":
            for _ in range(repeat):
                n = max(0, n + gap) % (total + 1)
                yield bar(n, total, rate)
        elif kind == "eval":  # HF's eval bar: another total, no description
            yield from (bar(k, 20, "9.00it/s") for k in (5, 10, 20))
        elif kind == "eval_cut":  # one the next training bar closes
            yield from (bar(k, 20, "9.00it/s") for k in (5, 10))
        elif kind == "eval_dict":  # HF's eval summary, with how long the eval took
            yield "{'eval_loss': '1.5', 'eval_runtime': '2.25', 'eval_samples_per_second': '40', 'epoch': '0.5'}"
        elif kind == "loss":  # a loss waiting for the next bar
            yield "{'loss': 1.5, 'grad_norm': 2.0, 'learning_rate': 1e-05, 'epoch': 0.5}"
        elif kind == "resume":  # a resumed bar: from 0, the steps done before counted at once in its first second
            n = max(0, n + gap) % (total + 1)
            yield from (bar(0, total, "?it/s", "00:00"), bar(n, total, "9999.00it/s", "00:00"))
        elif kind == "epoch":  # the pass ends, a line names the next epoch and the bar starts over (``_bar_epochs``)
            n = 1
            yield from (bar(total, total, "4.50it/s"), "Epoch 2/3", bar(0, total, "?it/s", "00:00"),
                        bar(1, total, "4.50it/s"))
        elif kind == "epoch_wrap":  # the same without its first redraw, on to the end: a restart among column lines
            n = total
            yield from (bar(total, total, "4.50it/s"), "epoch 1: val loss 0.5",
                        *(bar(k * (total // 10) - 1, total, "4.50it/s") for k in range(1, 11)), bar(total, total, "4.50it/s"))
        elif kind == "save":
            yield f"Saving model checkpoint to out/checkpoint-{n}"
        else:
            yield "***** Running training *****"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(bar_steps, min_size=1, max_size=40), total=st.sampled_from([300, 5000]), **READINGS)
def test_bar_redraws_read_as_columns_give_the_figures_of_one_event_each(
    ops: list[tuple[str, int, str, int]], total: int, timed: str, cuts: list[int], every: int, seconds: float,
    most: int
) -> None:
    assert_same_figures(list(hf_log(ops, total)), timed=timed, cuts=cuts, every=every, seconds=seconds, most=most)


def test_a_pass_that_starts_over_among_column_lines_is_read_line_by_line() -> None:
    # After a line that names an epoch, the bar starts over without its first redraw and reaches its end again within
    # one run of column lines: the restart begins the next epoch (``_bar_epochs``), as line by line.
    lines = list(hf_log([("bar", 1, "4.50it/s", 60)] * 3 + [("epoch_wrap", 0, "", 1)], 5000))
    records = [Record(text, None, i + 1, "train.log") for i, text in enumerate(lines)]
    one, many = read_both([records[:100], records[100:]], 0.0)
    assert many["columns"] and one == many and one["iteration"] == 10_000
    # The first pass taken as the first of 3 epochs (a line before any bar), then the bar starting over without a
    # line within one run of column lines, on to its end: another run of 100, as line by line.
    passes = [bar(n, 100, "4.50it/s", "00:05") for n in (*range(1, 101), *range(1, 101))]
    lines = ["Epoch 1/3", bar(0, 100, "?it/s", "00:00"), *passes]
    records = [Record(text, None, i + 1, "train.log") for i, text in enumerate(lines)]
    one, many = read_both([records[:90], records[90:]], 0.0)  # columns in the first poll, the restart in the second
    assert many["columns"] and one == many and (one["iteration"], one["total_iterations"]) == (100, 100)


def test_bar_redraws_are_columns_around_eval_bars_and_loss_lines() -> None:
    run = [("bar", 1, "4.50it/s", 100)]
    lines = list(hf_log([*run, ("eval", 0, "", 1), *run, ("eval_cut", 0, "", 1), *run, ("loss", 0, "", 1), *run,
                         ("bar", -30, "4.50it/s", 1), *run], 5000))
    assert assert_same_figures(lines)


def untimed(path: Path, tmp: Path) -> Path:
    """The log's records without their record times: a history read after the fact, what columns are for."""
    plain = tmp / (path.stem + ".log")
    plain.write_text("".join(record.text + "\n" for record in read_records(str(path))), encoding="utf-8")
    return plain


@pytest.mark.parametrize("name", ["ng_sigstop", "ng_iostall", "ng_resume", "ng_noisy_stays", "ng_clean_log1",
                                  "hf_resume"])
def test_real_logs_read_as_columns_give_the_same_report(name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = untimed(ROOT / "benchmarks" / "data" / f"{name}.tslog", Path(tmp))
        records = list(read_records(str(path)))
        rng = random.Random(name)
        for fraction in (0.3, 0.7, 1.0):
            part = records[: int(len(records) * fraction)]
            cuts = sorted(rng.sample(range(1, len(part)), 20))
            polls = [part[a:b] for a, b in zip([0, *cuts], [*cuts, len(part)])]
            one, many = read_both(polls, 0.0)
            assert many["columns"], "the columns were never used: the test tests nothing"
            assert one == many
        # report's own reader: the same figures as the per-event reader that replay uses
        ends = []
        for reader, read in ((log_events, read_records), (log_items, read_records), (log_items, read_items)):
            pipeline, estimator = Pipeline(), Estimator(clock=lambda: 0.0)
            for item in reader(read(str(path)), pipeline):
                estimator.observe(item)
            ends.append(figures(estimator, 0.0))
        assert ends[0] == ends[1] == ends[2]


@pytest.mark.parametrize("family", [None, "tqdm_bars"])  # detected (as Hugging Face's bars) and the plain family
def test_a_nested_epoch_loops_bars_read_as_columns_give_the_figures_of_one_event_each(family: str | None) -> None:
    # Real tqdm 4.70, ``for epoch in trange(3): for i in tqdm(range(1000))``: past the first epoch the training
    # bar's redraws count from the epochs before them, in columns as line by line.
    records = list(read_records(str(ROOT / "tests" / "data" / "real_tqdm_nested_plain.log")))
    rng = random.Random(3)
    cuts = sorted(rng.sample(range(1, len(records)), 12))
    polls = [records[a:b] for a, b in zip([0, *cuts], [*cuts, len(records)])]
    one, many = read_both(polls, 0.0, format=family)
    assert many["columns"], "the columns were never used: the test tests nothing"
    assert one == many and one["iteration"] == 3000


def test_columns_hold_the_lines_and_the_last_one_whole() -> None:
    texts = [line(0, 30_000.0), line(1, 80.0), line(2, 81.5), "step 2: train loss 2.1, val loss 2.2", line(3, 80.0)]
    records = [Record(text, None, i, "x.log") for i, text in enumerate(texts, 1)]
    fed = list(Pipeline().feed_many(records))
    # The first line decides the family; the next two are columns; the eval line breaks the run.
    assert [type(item).__name__ for item in fed] == ["tuple", "ProgressColumns", "tuple", "ProgressColumns"]
    columns = fed[1]
    assert isinstance(columns, ProgressColumns)
    assert (columns.iterations, columns.seconds, columns.times) == ([1, 2], [0.08, 0.0815], None)
    expected = Pipeline()
    expected_events = [event for record in records for event in expected.feed(record)]
    assert to_dict(columns.last) == to_dict(expected_events[2])
    assert columns.line(0) == Progress(iteration=1, iteration_seconds=0.08)


def epoch_bar(epoch: int, n: int, total: int, rate: str, postfix: str) -> str:
    pct = n * 100 // total
    return f"Epoch {epoch}: {pct:3d}%|{'█' * (pct // 10):<10}| {n}/{total} [00:{n % 60:02d}<01:00, {rate}{postfix}]"


epoch_steps = st.one_of(
    st.tuples(st.just("bar"), st.integers(1, 2), st.sampled_from(["9.50it/s", "10.25it/s"]),
              st.sampled_from([", v_num=0, train_loss=2.310", ", v_num=0", ""]), st.integers(1, 60)),
    st.tuples(st.just("bar"), st.just(1), st.sampled_from(["1.25s/it", "0.50it/s", "9.50it/s"]),
              st.sampled_from([", v_num=0, train_loss=nan", ", v_num=0, train_loss=1,5", ", v_num=0"]), st.just(1)),
    st.tuples(st.sampled_from(["val", "val_cut", "next", "stopped"]), st.just(0), st.just(""), st.just(""),
              st.just(1)),
)


def lightning_log(ops: list[tuple[str, int, str, str, int]], total: int) -> Iterator[str]:
    epoch, n = 0, 0
    yield epoch_bar(0, 1, total, "?it/s", ", v_num=0")
    for kind, gap, rate, postfix, repeat in ops:
        if kind == "bar":
            for _ in range(repeat):
                n = min(total, n + gap)
                yield epoch_bar(epoch, n, total, rate, postfix)
        elif kind in ("val", "val_cut"):
            for k in (5, 10) if kind == "val_cut" else (5, 10, 20):
                yield f"Validation DataLoader 0: {k * 5:3d}%|█         | {k}/20 [00:01<00:01,  9.00it/s]"
        elif kind == "next":
            yield epoch_bar(epoch, 0, total, "9.50it/s", ", v_num=0")  # the reset redraw, then the next epoch
            epoch, n = epoch + 1, 0
        else:
            yield "`Trainer.fit` stopped: `max_epochs=3` reached."


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(epoch_steps, min_size=1, max_size=40), total=st.sampled_from([150, 2000]), **READINGS)
def test_epoch_bars_read_as_columns_give_the_figures_of_one_event_each(
    ops: list[tuple[str, int, str, str, int]], total: int, timed: str, cuts: list[int], every: int, seconds: float,
    most: int
) -> None:
    assert_same_figures(list(lightning_log(ops, total)), timed=timed, cuts=cuts, every=every, seconds=seconds,
                        most=most)


def test_epoch_bars_are_columns_across_epochs_and_validation() -> None:
    run = ("bar", 1, "9.50it/s", ", v_num=0, train_loss=2.310", 100)
    lines = list(lightning_log([run, ("val", 0, "", "", 1), run, ("next", 0, "", "", 1), run,
                                ("val_cut", 0, "", "", 1), run], 500))
    assert assert_same_figures(lines)


def test_blocks_read_escaped_records_and_matches_past_a_record_as_records() -> None:
    """A block with a syslog-escaped record (two nanoGPT lines joined by ``#015``: the column pattern matches its
    start, ``strip_prefixes`` reads both), and one where the bar pattern's blanks would run from a record ending in
    ``|`` into the next: both read record by record, with the figures of records."""
    lines = list(nanogpt_log([RUN, RUN], None))
    escaped = [*lines[:50], lines[50] + "#015" + lines[51], *lines[52:]]
    bars = list(hf_log([("bar", 1, "4.50it/s", 100)] * 2, 5000))
    cut = bars[80].index("| 80/") + 1  # "  1%|          |" and " 80/5000 [...]": ``\\s*`` would join them
    for changed in (escaped, [*bars[:80], bars[80][:cut], bars[80][cut:], *bars[81:]]):
        with mock.patch.object(RecordBlock, "records", autospec=True, side_effect=RecordBlock.records) as spy:
            assert assert_same_figures(changed)
        assert spy.called


def test_a_block_is_searched_again_where_the_column_pattern_changes() -> None:
    """Within one block the column pattern changes at a new epoch; redraws of the old epoch's bar after it match
    the old pattern only, and must be read whole, not as lines of the new epoch."""
    postfix = ", v_num=0, train_loss=2.310"
    lines = [epoch_bar(0, n, 200, "9.50it/s", postfix) for n in range(1, 201)]
    lines += [epoch_bar(1, n, 200, "9.50it/s", postfix) for n in range(1, 60)]
    lines += [epoch_bar(0, n, 200, "9.50it/s", postfix) for n in (150, 151, 152)]
    lines += [epoch_bar(1, n, 200, "9.50it/s", postfix) for n in range(60, 120)]
    assert assert_same_figures(lines)


def test_a_long_run_of_lines_is_read_in_bounded_columns() -> None:
    """What reading a long log holds at once stays bounded however long its runs of plain lines are."""
    records = [Record(line(i, 80.0), None, i + 1, "x.log") for i in range(3 * pipeline_module.COLUMN_LINES)]
    fed = list(Pipeline().feed_many(records))
    columns = [item for item in fed if isinstance(item, ProgressColumns)]
    assert max(len(c.iterations) for c in columns) == pipeline_module.COLUMN_LINES
    assert sum(len(c.iterations) for c in columns) == len(records) - 1  # the first line decides the family
