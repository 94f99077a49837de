"""Pipeline: prefix stripping, stamping, per-source detection, counters, forced and custom formats."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from exporter.events import Config, Eval, Progress
from exporter.formats.custom import CustomFormatError
from exporter.pipeline import Pipeline, read_events
from exporter.sources.record import Record

DATA = Path(__file__).parent / "data"


def rec(text: str, index: int, *, time: float | None = None, source: str = "a.log") -> Record:
    return Record(text=text, time=time, index=index, source=source)


def test_stamps_time_index_and_family() -> None:
    pipe = Pipeline()
    [event] = pipe.feed(rec("iter 3: loss 2.5, time 10.00ms, mfu 1.00%", 7, time=100.0))
    assert (event.time, event.record, event.format) == (100.0, 7, "nanogpt")
    assert pipe.format == "nanogpt"


def test_tag_timestamp_wins_over_record_time() -> None:
    pipe = Pipeline()
    [event] = pipe.feed(rec("[rank0]: [2024-04-06 02:59:36] iteration 43/ 100 | elapsed time per iteration (ms): 5.0 |", 1, time=1.0))
    assert event.format == "megatron" and event.iteration == 43
    assert event.time == pytest.approx(time.mktime((2024, 4, 6, 2, 59, 36, 0, 0, -1)))


def test_counters_include_released_records() -> None:
    pipe = Pipeline()
    lines = ["Overriding config with config/x.py:", "max_iters = 50", "random noise", "iter 0: loss 5.0, time 1.00ms"]
    out = [pipe.feed(rec(text, i)) for i, text in enumerate(lines, start=1)]
    assert out[:3] == [[], [], []]
    assert [type(e) for e in out[3]] == [Config, Config, Progress]
    assert (pipe.records, pipe.parsed, pipe.unparsed) == (4, 3, 1)


def test_undecided_file_counts_everything_unparsed() -> None:
    pipe = Pipeline()
    for i, text in enumerate(["Overriding config with config/x.py:", "max_iters = 50", "\x00\xff"], start=1):
        pipe.feed(rec(text, i))
    assert (pipe.records, pipe.parsed, pipe.unparsed, pipe.format) == (3, 0, 3, None)


def test_syslog_updates_in_one_record_count_once() -> None:
    pipe = Pipeline()
    events = pipe.feed(rec("iter 1: loss 2.0, time 1.00ms#015iter 2: loss 2.0, time 1.00ms", 1))
    assert [e.iteration for e in events] == [1, 2] and all(e.record == 1 for e in events)
    assert (pipe.records, pipe.parsed) == (1, 1)


def test_detection_is_per_source() -> None:
    pipe = Pipeline()
    a = pipe.feed(rec("iter 1: loss 2.0, time 1.00ms", 1, source="rank0.log"))
    b = pipe.feed(rec("step:10/100 train_time:500ms step_avg:50.00ms", 1, source="rank1.log"))
    assert a[0].format == "nanogpt" and b[0].format == "modded_nanogpt"
    assert pipe.formats == {"rank0.log": "nanogpt", "rank1.log": "modded_nanogpt"}
    assert pipe.parsed == 2


def test_forced_family() -> None:
    pipe = Pipeline(format="modded_nanogpt")
    assert pipe.format is None  # no source seen yet
    assert pipe.feed(rec("iter 1: loss 2.0, time 1.00ms", 1)) == []
    assert pipe.format == "modded_nanogpt"
    [event] = pipe.feed(rec("step:0/100 val_loss:3.0 train_time:0ms step_avg:nanms", 2))
    assert isinstance(event, Eval)


def test_bad_format_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown format 'nanogtp'"):
        Pipeline(format="nanogtp")


def test_custom_yaml_format(tmp_path: Path) -> None:
    spec = tmp_path / "mine.yml"
    spec.write_text("- name: mine\n  regex: 'batch (?P<iteration>\\d+) took (?P<seconds>[\\d.]+)ms'\n  units: {seconds: ms}\n")
    pipe = Pipeline(format=str(spec))
    [event] = pipe.feed(rec("[rank0]: batch 5 took 250ms", 1))
    assert (event.iteration, event.iteration_seconds, event.format) == (5, 0.25, "custom:mine")
    assert pipe.format == "custom"
    bad = tmp_path / "bad.yaml"
    bad.write_text("- regex: '(?P<step>\\d+)'\n")
    with pytest.raises(CustomFormatError, match=r"bad\.yaml:1: .*unknown group 'step'"):
        Pipeline(format=str(bad))


def test_garbage_records_are_counted_unparsed() -> None:
    pipe = Pipeline()
    texts = ["\x00\x01\x02binary\ufffd", "iter 5: loss", "step:", "x" * 10_000_000, "[rank0]:", "#015#015"]
    for i, text in enumerate(texts, start=1):
        assert pipe.feed(rec(text, i)) == []
    assert (pipe.records, pipe.unparsed, pipe.parser_errors) == (6, 6, 0)


def test_read_events_frames_like_the_follower(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(
        b"Overriding: max_iters = 20\r\n"
        b"\x1b[32miter 0: loss 5.0, time 1.00ms\x1b[0m\n"
        b"2024-04-06T02:59:36Z iter 10: loss \xff4.0, time 2.00ms\r"
        b"iter 20: loss nan, time 3.00ms"
    )
    events = read_events(log)
    progress = [e for e in events if isinstance(e, Progress)]
    assert [e.iteration for e in progress] == [0, 10, 20]
    assert progress[1].time == 1712372376.0 and progress[1].loss is None  # invalid byte replaced: no number
    assert progress[0].time is None and progress[2].record == 4
    assert events[1] == Config(total_iterations=20, record=1, format="nanogpt")


def test_read_events_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_events(tmp_path / "missing.log")


@pytest.mark.parametrize(
    ("name", "family", "final", "total"),
    [
        ("formats_megatron_sample.log", "megatron", 100, 100),
        ("formats_megatron_old_sample.log", "megatron", 200, 500000),
        ("formats_deepspeed_sample.log", "deepspeed", 20, None),
        ("formats_llmc_sample.log", "llmc", 18865, 18865),
        ("formats_modded_nanogpt_sample.log", "modded_nanogpt", 1390, 1390),
        ("formats_nanochat_sample.log", "nanochat", 21399, 21400),
        ("formats_torchtitan_sample.log", "torchtitan", 100, 100),
    ],
)
def test_sample_files_detect_their_family(name: str, family: str, final: int, total: int | None) -> None:
    pipe = Pipeline()
    events = list(pipe.read(DATA / name))
    assert pipe.format == family
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].iteration == final
    configured = [e.total_iterations for e in events if isinstance(e, Config) and e.total_iterations]
    assert (progress[-1].total_iterations or (configured[-1] if configured else None)) == total
    # Times come from the log itself (leading timestamps, titan's own after a rank tag) or are unknown.
    timed = name in ("formats_megatron_sample.log", "formats_deepspeed_sample.log", "formats_torchtitan_sample.log")
    assert all((e.time is not None) == timed for e in progress)


def test_megatron_sample_times_intervals_and_data() -> None:
    events = list(Pipeline().read(DATA / "formats_megatron_sample.log"))
    progress = [e for e in events if isinstance(e, Progress)]
    assert [e.averaged_over for e in progress] == [1, 1, 1]  # from the echoed log_interval
    assert progress[0].time == pytest.approx(time.mktime((2024, 4, 6, 2, 55, 51, 0, 0, -1)))
    assert progress[-1].time == pytest.approx(time.mktime((2024, 4, 6, 3, 0, 1, 0, 0, -1)))
    old = [e for e in Pipeline().read(DATA / "formats_megatron_old_sample.log") if isinstance(e, Progress)]
    assert [(e.time, e.averaged_over, e.data_seconds) for e in old] == [(None, None, None), (None, 100, 0.01234)]
