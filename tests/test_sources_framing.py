"""Framing, timestamp prefixes and container envelopes: the byte-level rules under the followers."""

from __future__ import annotations

import calendar
import json
import random
import time
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.sources import decoder as decoder_module
from exporter.sources import expand, timestamps
from exporter.sources.container import CRI, DOCKER, PLAIN, detect
from exporter.sources.decoder import RecordDecoder
from exporter.sources.framing import MAX_RECORD_BYTES, Framer
from exporter.sources.record import Record, RecordBlock, SourceStats
from exporter.sources.timestamps import parse_rfc3339, split_timestamp


def frame(*chunks: bytes, **options: object) -> tuple[list[str], SourceStats]:
    stats = SourceStats()
    framer = Framer(stats=stats, **options)  # type: ignore[arg-type]
    out: list[str] = []
    for chunk in chunks:
        out += framer.feed(chunk)
    last = framer.flush()
    if last is not None:
        out.append(last)
    return out, stats


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ((b"a\nb\n",), ["a", "b"]),
        ((b"a\r\nb\r\n",), ["a", "b"]),
        ((b"x\r 10%\r 20%\n",), ["x", " 10%", " 20%"]),
        ((b"a\r", b"\nb\n"), ["a", "b"]),  # \r\n split across reads: no empty record
        ((b"a\r", b"\r", b"b\n"), ["a", "", "b"]),  # two lone \r: a real empty record between them
        ((b"ab", b"c", b"\n"), ["abc"]),
        ((b"no terminator",), ["no terminator"]),  # flush returns the held record
        ((b"\x1b[2K\x1b[32mgreen\x1b[0m\x1b[A\n",), ["green"]),
        ((b"ab\x1b[3", b"2mcd\n"), ["abcd"]),  # an escape split across reads
        ((b"\x1b]0;title\x07t\n",), ["t"]),  # OSC window title
        ((b"caf\xe9 ok\n\xff\xfe\n",), ["caf\ufffd ok", "\ufffd\ufffd"]),
        ((b"x\xc3", b"\xa9\n"), ["x\u00e9"]),  # a UTF-8 character split across reads
        ((b"a\x0bb\x0cc\xc2\x85d\n",), ["a\x0bb\x0cc\x85d"]),  # only \n, \r, \r\n end records
    ],
)
def test_framing_rules(chunks: tuple[bytes, ...], expected: list[str]) -> None:
    assert frame(*chunks)[0] == expected


def test_flush_forgets_cr_state() -> None:
    framer = Framer()
    assert framer.feed(b"a\r") == ["a"]
    assert framer.flush() is None
    assert framer.feed(b"\nb\n") == ["", "b"]  # a new file: its leading \n is its own (empty) record


@pytest.mark.parametrize("split", [1, 1000, 40_000, 65_536, 65_537, 69_999])
def test_oversized_record_is_capped_counted_and_the_next_is_intact(split: int) -> None:
    big = b"A" * 70_000 + b"\n" + b"next\n"
    records, stats = frame(big[:split], big[split:])
    assert records == ["A" * MAX_RECORD_BYTES, "next"]
    assert stats.oversized_records == 1


def test_oversized_record_ended_by_split_crlf() -> None:
    records, stats = frame(b"B" * 70_000 + b"\r", b"\nafter\n")
    assert records == ["B" * MAX_RECORD_BYTES, "after"]
    assert stats.oversized_records == 1


def test_oversized_held_record_flushed() -> None:
    records, stats = frame(b"C" * 100_000)
    assert records == ["C" * MAX_RECORD_BYTES]
    assert stats.oversized_records == 1


def test_oversized_in_the_middle_of_a_block() -> None:
    records, stats = frame(b"a\n" + b"D" * 80_000 + b"\nb\n" + b"\xc3\xa9" * 40_000 + b"\nc\n")
    assert records[0] == "a" and records[2] == "b" and records[4] == "c"
    assert records[1] == "D" * MAX_RECORD_BYTES
    assert records[3] == "\u00e9" * (MAX_RECORD_BYTES // 2)
    assert stats.oversized_records == 2


def test_garbage_never_raises() -> None:
    rng = random.Random(7)
    stats = SourceStats()
    decoder = RecordDecoder(source="x", stats=stats)
    blob = bytes(rng.getrandbits(8) for _ in range(300_000))
    for start in range(0, len(blob), 4099):
        decoder.feed(blob[start : start + 4099], None)
    decoder.feed(b"\xff" * 10_000_000 + b"\n", None)
    decoder.flush(None)
    assert stats.oversized_records >= 1


# --- timestamps -------------------------------------------------------------------------------------------------


def local(y: int, mo: int, d: int, h: int, mi: int, s: int) -> float:
    return time.mktime((y, mo, d, h, mi, s, 0, 0, -1))


UTC = calendar.timegm((2026, 11, 28, 0, 33, 0, 0, 0, 0))


@pytest.mark.parametrize(
    ("text", "when", "rest"),
    [
        ("2026-11-28T00:33:00.123456789Z step 1", UTC + 0.123456789, "step 1"),
        ("2026-11-28T00:33:00Z  30%|###", UTC, " 30%|###"),  # one separator removed, the bar's blank kept
        ("2026-11-28T02:33:00+02:00 x", UTC, "x"),
        ("2026-11-27T23:33:00.5-0100 x", UTC + 0.5, "x"),
        ("2026-11-28 00:33:00,250 - root - INFO - hi", local(2026, 11, 28, 0, 33, 0) + 0.25, "- root - INFO - hi"),
        ("2026-11-28 00:33:00.250 | INFO | hi", local(2026, 11, 28, 0, 33, 0) + 0.25, "| INFO | hi"),
        # print(f"{datetime.now()}: …"), as nnU-Net's print_to_log_file writes it
        ("2026-11-28 00:33:00.250000: Epoch 5", local(2026, 11, 28, 0, 33, 0) + 0.25, "Epoch 5"),
        ("[2024-04-06 02:59:36] iteration 43/100", local(2024, 4, 6, 2, 59, 36), "iteration 43/100"),
        (" [2024-04-06 02:59:36] iteration 43/100", local(2024, 4, 6, 2, 59, 36), "iteration 43/100"),
        ("2026-11-28T00:33:00Z", UTC, ""),
        # transformers' and accelerate's example scripts: datefmt="%m/%d/%Y %H:%M:%S"
        ("11/28/2026 00:33:00 - INFO - __main__ - step 1", local(2026, 11, 28, 0, 33, 0), "- INFO - __main__ - step 1"),
        # absl (JAX, Flax, TensorFlow) and glog: severity, [year,] month and day, time, thread, source line.
        ("I20261128 00:33:00.250000 139872 train.py:95] step 1", local(2026, 11, 28, 0, 33, 0) + 0.25, "step 1"),
        ("W20261128 00:33:00.000000  1234 trainer.cc:12] slow", local(2026, 11, 28, 0, 33, 0), "slow"),
    ],
)
def test_split_timestamp_shapes(text: str, when: float, rest: str) -> None:
    got_when, got_rest = split_timestamp(text)
    assert got_when == pytest.approx(when, abs=1e-6)
    assert got_rest == rest


def test_a_glog_date_without_a_year_is_this_year_or_the_last() -> None:
    today = time.localtime()
    when, rest = split_timestamp(f"I{today.tm_mon:02d}{today.tm_mday:02d} 00:00:01.000000 7 train.py:1] step 1")
    assert (when, rest) == (local(today.tm_year, today.tm_mon, today.tm_mday, 0, 0, 1), "step 1")
    # A date more than a day ahead is from last year (a log from December read in January).
    assert [timestamps._year_of(mo, d, (2027, 1, 2)) for mo, d in [(1, 2), (1, 3), (1, 4), (12, 31)]] == [
        2027, 2027, 2026, 2026]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "step 1: loss 2.0",
        "12/100 [====>] - loss: 1.0",
        "2026-13-28 00:33:00 month 13",
        "2026-11-28 00:33:00abc",  # not followed by a blank
        "2026-11-28 00:33:00:abc",
        "[2026-11-28 00:33:00 unclosed",
        "2026-11-28",
        "28/11/2026 00:33:00 day first",  # month 28
        "11/28/2026 00:33:00x",
        "I1128 00:33:00.000000 no thread or source line",
        "Iter 1128 00:33:00",
    ],
)
def test_split_timestamp_rejects(text: str) -> None:
    assert split_timestamp(text) == (None, text)


def test_parse_rfc3339() -> None:
    assert parse_rfc3339("2026-11-28T00:33:00.123456789Z") == pytest.approx(UTC + 0.123456789)
    assert parse_rfc3339("not a time") is None
    assert parse_rfc3339("2026-11-28T00:33:00Z trailing") is None


# --- container envelopes ----------------------------------------------------------------------------------------


def docker(log: str, t: str = "2026-11-28T00:33:00.5Z", stream: str = "stdout") -> bytes:
    return (json.dumps({"log": log, "stream": stream, "time": t}) + "\n").encode()


def decode_all(*chunks: bytes) -> tuple[list[tuple[str, float | None]], SourceStats, RecordDecoder]:
    stats = SourceStats()
    decoder = RecordDecoder(source="c", stats=stats)
    records = []
    for chunk in chunks:
        records += decoder.feed(chunk, 77.0)
    records += decoder.flush(77.0)
    return [(r.text, r.time) for r in records], stats, decoder


def test_detect() -> None:
    assert detect(docker("x\n")) == DOCKER
    assert detect(b"2026-11-28T00:33:00.123456789Z stdout F msg\n") == CRI
    assert detect(b"step 1\n") == PLAIN
    assert detect(b"2026-11-28T00:33:00Z step 1\n") == PLAIN  # docker logs -t output is a plain timestamp prefix


def test_docker_partial_lines_and_cr_updates() -> None:
    data = (
        docker("step 1\n", "2026-11-28T00:33:00Z")
        + docker("ste", "2026-11-28T00:33:01Z")
        + docker("p 2\r 10%\r 20%\n", "2026-11-28T00:33:02Z")
        + docker("\x1b[32mcolour\x1b[0m\n", "2026-11-28T00:33:03Z", "stderr")
    )
    for split in (1, 17, len(data) // 2):
        records, stats, decoder = decode_all(data[:split], data[split:])
        assert decoder.envelope == DOCKER
        assert records == [
            ("step 1", UTC),
            ("step 2", UTC + 2),
            (" 10%", UTC + 2),
            (" 20%", UTC + 2),
            ("colour", UTC + 3),
        ]
        assert stats.read_errors == 0


def test_docker_malformed_line_counted_and_skipped() -> None:
    records, stats, _ = decode_all(docker("a\n") + b'{"log": broken\n' + b'{"stream":"x"}\n' + docker("b\n"))
    assert [text for text, _ in records] == ["a", "b"]
    assert stats.read_errors == 2


def test_docker_unterminated_log_flushed_at_end() -> None:
    records, _, _ = decode_all(docker("step 9"))
    assert records == [("step 9", UTC + 0.5)]


def test_docker_container_time_wins_over_prefix_but_prefix_is_stripped() -> None:
    records, _, _ = decode_all(docker("[2024-04-06 02:59:36] iteration 1/10\n"))
    assert records == [("iteration 1/10", UTC + 0.5)]


def test_cri_joins_partial_chunks() -> None:
    data = (
        b"2026-11-28T00:33:00.000000000Z stdout P hello \n"
        b"2026-11-28T00:33:01.000000000Z stdout F world\n"
        b"2026-11-28T00:33:02.000000000Z stderr F x\ry\n"
        b"2026-11-28T00:33:03.000000000Z stdout F \n"
        b"2026-11-28T00:33:04.000000000Z stdout F   indented\n"
    )
    for split in (5, 60, len(data) - 3):
        records, stats, decoder = decode_all(data[:split], data[split:])
        assert decoder.envelope == CRI
        assert records == [("hello world", UTC + 1), ("x", UTC + 2), ("y", UTC + 2), ("  indented", UTC + 4)]
        assert stats.read_errors == 0


def test_cri_malformed_line_counted_and_skipped() -> None:
    records, stats, _ = decode_all(
        b"2026-11-28T00:33:00Z stdout F a\nnot a cri line\n2026-99-99T00:00:00Z stdout F bad\n"
        b"2026-11-28T00:33:00Z stdout F b\n"
    )
    assert [text for text, _ in records] == ["a", "b"]
    assert stats.read_errors == 2


def test_cri_partial_without_final_chunk_flushed() -> None:
    records, _, _ = decode_all(b"2026-11-28T00:33:00Z stdout P tail\n")
    assert records == [("tail", UTC)]


def test_glog_prefixes_are_record_times_among_words_that_start_with_the_same_letters() -> None:
    when = local(2026, 11, 28, 0, 33, 0)
    records, _, _ = decode_all(b"Epoch 1 starts\nI20261128 00:33:00.250000 7 train.py:95] step 1\nEval done\n")
    assert records == [("Epoch 1 starts", 77.0), ("step 1", when + 0.25), ("Eval done", 77.0)]


def test_short_file_waits_for_detection_then_plain_prefix_time() -> None:
    records, _, decoder = decode_all(b"2026-11-28T00:3", b"3:00Z step 1\nstep 2\n")
    assert decoder.envelope == PLAIN
    assert records == [("step 1", UTC), ("step 2", 77.0)]


_PIECES = [b"a", b"iter 1", b"\xc3\xa9", b"\xff", b"\n", b"\r", b"\r\n", b"\x1b[1m", b"\x00", b" ", b"\t",
           b"2026-11-28T00:33:00Z ", b"[2024-04-06 02:59:36] ", b"11/28/2026 00:33:00 ",
           b"I1128 00:33:00.000000 7 t.py:1] ", b"12"]
_streams = st.lists(st.sampled_from(_PIECES), max_size=200).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(data=_streams, cuts=st.lists(st.integers(1, 50), min_size=1, max_size=6), cap=st.integers(2, 40))
def test_feed_text_is_the_records_feed_gives(data: bytes, cuts: list[int], cap: int) -> None:
    """``Framer.feed_text`` (one text, or the list where a record was capped) holds the records ``feed`` gives,
    whatever the chunks, terminators, escapes, characters cut in two and records over the cap."""
    chunks, at = [], 0
    while at < len(data):
        size = cuts[len(chunks) % len(cuts)]
        chunks.append(data[at : at + size])
        at += size
    by_list, by_text = Framer(max_bytes=cap), Framer(max_bytes=cap)
    for chunk in chunks:
        got = by_text.feed_text(chunk)
        assert (got if isinstance(got, list) else got.split("\n")[:-1]) == by_list.feed(chunk)
    assert by_text.flush() == by_list.flush()
    assert by_text._stats == by_list._stats


def test_feed_text_gives_a_text_unless_a_record_may_be_over_the_cap() -> None:
    framer = Framer(max_bytes=8)
    assert framer.feed_text(b"abc\r\ndef\rghi\n") == "abc\ndef\nghi\n"
    assert framer.feed_text(b"abc\nde\nfgh\n") == "abc\nde\nfgh\n"  # a terminator in every half cap
    assert framer.feed_text(b"abcdefgh\nij\n") == ["abcdefgh", "ij"]  # may be over it: checked record by record
    assert framer.feed_text(b"abcdefghijk\nl\n") == ["abcdefgh", "l"]
    assert framer._stats.oversized_records == 1


@settings(max_examples=300, deadline=None)
@given(data=_streams, cuts=st.lists(st.integers(1, 80), min_size=1, max_size=6), at_least=st.integers(1, 3))
def test_blocks_hold_the_records_feed_gives(data: bytes, cuts: list[int], at_least: int) -> None:
    """``RecordDecoder.feed_blocks`` gives the records ``feed`` gives, numbered and timed the same, a run of them as
    a ``RecordBlock`` only where none is empty or starts with a timestamp; the counters agree."""
    chunks, at = [], 0
    while at < len(data):
        size = cuts[len(chunks) % len(cuts)]
        chunks.append(data[at : at + size])
        at += size
    one, many = RecordDecoder(source="x", stats=SourceStats()), RecordDecoder(source="x", stats=SourceStats())
    blocks = 0
    with mock.patch.object(decoder_module, "BLOCK_RECORDS", at_least):
        for i, chunk in enumerate(chunks):
            items = many.feed_blocks(chunk, 5.0 + i)
            blocks += sum(isinstance(item, RecordBlock) for item in items)
            for item in items:
                if isinstance(item, RecordBlock):
                    assert item.count == len(item.records()) >= at_least
            assert expand(items) == one.feed(chunk, 5.0 + i)
    assert many.flush(9.0) == one.flush(9.0)
    assert (many.index, many.stats) == (one.index, one.stats)


def test_a_block_is_made_of_plain_records_only() -> None:
    decoder = RecordDecoder(source="x", stats=SourceStats())
    with mock.patch.object(decoder_module, "BLOCK_RECORDS", 2):
        assert decoder.feed_blocks(b"first line decides the envelope\n", None)[0] == Record(
            "first line decides the envelope", None, 1, "x")
        assert decoder.feed_blocks(b"a\n\nb\r\n\rc\n", 4.0) == [RecordBlock("\na\nb\nc", 4.0, 2, 3, "x")]
        stamped = decoder.feed_blocks(b"d\n2026-11-28T00:33:00Z e\n", 5.0)
    assert stamped == [Record("d", 5.0, 5, "x"), Record("e", UTC, 6, "x")]
