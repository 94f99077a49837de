"""The follower scenario matrix: write to files, call poll, assert. No sleeps: the clock is injected."""

from __future__ import annotations

import calendar
import errno
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from exporter.sources import FileFollower, GlobFollower, StdinSource, expand, open_source, read_records
from exporter.sources.framing import MAX_RECORD_BYTES, strip_ansi

UTC = calendar.timegm((2026, 11, 28, 0, 33, 0, 0, 0, 0))


class Harness:
    """A log path in a temp dir, a follower on it and a settable clock."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp
        self.path = tmp / "train.log"
        self.now = 1000.0
        self.follower = FileFollower(str(self.path), clock=lambda: self.now)

    def write(self, data: bytes, path: Path | None = None) -> None:
        with open(path or self.path, "ab") as f:
            f.write(data)

    def poll(self) -> list[str]:
        return [r.text for r in expand(self.follower.poll())]

    @property
    def stats(self):  # noqa: ANN201 - SourceStats
        return self.follower.stats


def plain_append(h: Harness) -> None:
    h.write(b"a\nb\n")
    assert h.poll() == ["a", "b"]
    h.write(b"c\n")
    assert h.poll() == ["c"]
    assert h.poll() == []


def partial_across_polls(h: Harness) -> None:
    h.write(b"ab")
    assert h.poll() == []
    h.write(b"c")
    assert h.poll() == []
    h.write(b"\nd\n")
    assert h.poll() == ["abc", "d"]


def crlf_split_across_polls(h: Harness) -> None:
    h.write(b"a\r")
    assert h.poll() == ["a"]
    h.write(b"\nb\r\n")
    assert h.poll() == ["b"]
    assert [r.index for r in read_records(str(h.path))] == [1, 2]


def lone_cr_tqdm(h: Harness) -> None:
    h.write(b"\r  0%|          | 0/10\r 10%|#         | 1/10")
    assert h.poll() == ["  0%|          | 0/10"]
    h.write(b"\r 20%|##        | 2/10\n")
    assert h.poll() == [" 10%|#         | 1/10", " 20%|##        | 2/10"]


def ansi(h: Harness) -> None:
    h.write(b"\x1b[2K\x1b[32mgreen\x1b[0m\x1b[A\nab\x1b[3")
    assert h.poll() == ["green"]
    h.write(b"1mcd\n")
    assert h.poll() == ["abcd"]


def invalid_utf8(h: Harness) -> None:
    h.write(b"caf\xe9\nx\xc3")
    assert h.poll() == ["caf\ufffd"]
    h.write(b"\xa9\n")
    assert h.poll() == ["x\u00e9"]


def oversized(h: Harness) -> None:
    h.write(b"A" * 50_000)
    assert h.poll() == []
    h.write(b"A" * 50_000)
    assert h.poll() == []
    h.write(b"A\nnext\n")
    assert h.poll() == ["A" * MAX_RECORD_BYTES, "next"]
    assert h.stats.oversized_records == 1


def rename_create_with_unread_tail(h: Harness) -> None:
    h.write(b"a\nb")
    assert h.poll() == ["a"]
    h.write(b"c\nd")  # written to the old file after the last poll, before the rename
    os.rename(h.path, h.dir / "train.log.1")
    h.write(b"e\n")
    assert h.poll() == ["bc", "d", "e"]
    assert h.stats.rotations == 1
    h.write(b"f\n", h.dir / "train.log.1")  # the old file is no longer followed
    h.write(b"g\n")
    assert h.poll() == ["g"]


def rename_then_create_later(h: Harness) -> None:
    h.write(b"a\n")
    assert h.poll() == ["a"]
    os.rename(h.path, h.dir / "train.log.1")
    h.write(b"b\n", h.dir / "train.log.1")  # the writer has not reopened yet
    assert h.poll() == ["b"]
    assert h.follower.files == 0
    h.write(b"c\n")
    assert h.poll() == ["c"]
    assert h.follower.files == 1 and h.stats.rotations == 1


def write_between_eof_and_rotation_check(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h.write(b"a\n")
    assert h.poll() == ["a"]
    os.rename(h.path, h.dir / "train.log.1")
    h.write(b"b\n")
    real_stat = os.stat

    def racing_stat(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        # The writer appends to the old file after the follower read it to its end, then the path is checked.
        monkeypatch.setattr(os, "stat", real_stat)
        h.write(b"late\n", h.dir / "train.log.1")
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", racing_stat)
    assert h.poll() == ["late", "b"]


def copytruncate(h: Harness) -> None:
    h.write(b"a\nb\nc\n")
    assert h.poll() == ["a", "b", "c"]
    shutil.copy(h.path, h.dir / "train.log.1")
    os.truncate(h.path, 0)
    h.write(b"d\n")
    assert h.poll() == ["d"]
    assert h.stats.truncations == 1


def copytruncate_with_partial(h: Harness) -> None:
    h.write(b"a\nhalf")
    assert h.poll() == ["a"]
    os.truncate(h.path, 0)
    h.write(b"x\n")
    assert h.poll() == ["half", "x"]
    assert h.stats.truncations == 1


def truncate_then_regrow(h: Harness) -> None:
    h.write(b"run 1 step 1\n")
    assert h.poll() == ["run 1 step 1"]
    with open(h.path, "wb") as f:  # a restarted trainer with `> train.log`, longer than before
        f.write(b"run 2 step 1\nrun 2 step 2\n")
    assert h.poll() == ["run 2 step 1", "run 2 step 2"]
    assert h.stats.truncations == 1


def truncate_then_regrow_same_header(h: Harness) -> None:
    header = b"".join(b"config line %d = value\n" % i for i in range(100))  # > the 1 KiB fingerprint
    h.write(header + b"iter 1\n")
    assert h.poll()[-1] == "iter 1"
    with open(h.path, "wb") as f:
        f.write(header + b"iter 1 of run two\n")
    records = h.poll()
    assert records[-1] == "iter 1 of run two" and len(records) == 101
    assert h.stats.truncations == 1


def appears_after_start(h: Harness) -> None:
    assert h.poll() == []
    assert h.follower.files == 0
    h.write(b"hello\n")
    h.now = 2000.0
    records = expand(h.follower.poll())
    assert [(r.text, r.time, r.index) for r in records] == [("hello", 2000.0, 1)]
    assert h.follower.files == 1


def delete_and_recreate(h: Harness) -> None:
    h.write(b"a\nx")
    assert h.poll() == ["a"]
    os.remove(h.path)
    assert h.poll() == []
    assert h.follower.files == 0
    h.write(b"b\n")
    assert h.poll() == ["x", "b"]
    assert h.stats.rotations == 1


def docker_json_file(h: Harness) -> None:
    def line(log: str, second: int) -> bytes:
        return (json.dumps({"log": log, "stream": "stdout", "time": f"2026-11-28T00:33:0{second}Z"}) + "\n").encode()

    h.write(line("step 1\n", 0) + line("ste", 1))
    assert [(r.text, r.time) for r in expand(h.follower.poll())] == [("step 1", UTC)]
    h.write(line("p 2\r 50%\n", 2) + b"{broken\n")
    assert [(r.text, r.time) for r in expand(h.follower.poll())] == [("step 2", UTC + 2), (" 50%", UTC + 2)]
    assert h.stats.read_errors == 1


def cri(h: Harness) -> None:
    h.write(b"2026-11-28T00:33:00.000000000Z stdout P hello \n2026-11-28T00:33:01.250000000Z stdout F wor")
    assert h.poll() == []
    h.write(b"ld\n2026-11-28T00:33:02Z stderr F a\rb\n")
    assert [(r.text, r.time) for r in expand(h.follower.poll())] == [
        ("hello world", UTC + 1.25),
        ("a", UTC + 2),
        ("b", UTC + 2),
    ]


def timestamp_prefixes(h: Harness) -> None:
    h.write(
        b"2026-11-28T00:33:00.5Z a\n"
        b"2026-11-28T02:33:01+02:00 b\n"
        b"2026-11-28 00:33:02,250 c\n"
        b"[2026-11-28 00:33:03] d\n"
        b"no prefix\n"
    )
    records = expand(h.follower.poll())
    assert [r.text for r in records] == ["a", "b", "c", "d", "no prefix"]
    local = lambda s: __import__("time").mktime((2026, 11, 28, 0, 33, s, 0, 0, -1))  # noqa: E731
    assert [r.time for r in records] == [UTC + 0.5, UTC + 1, local(2) + 0.25, local(3), None]


def history_then_live(h: Harness) -> None:
    h.write(b"old 1\nold 2\npart")
    records = expand(h.follower.poll())
    assert [(r.text, r.time) for r in records] == [("old 1", None), ("old 2", None)]
    h.now = 2000.0
    h.write(b"ial\nnew\n")
    records = expand(h.follower.poll())
    assert [(r.text, r.time) for r in records] == [("partial", 2000.0), ("new", 2000.0)]
    assert [r.index for r in records] == [3, 4]


def history_over_several_polls(h: Harness) -> None:
    h.follower.close()
    h.follower = FileFollower(str(h.path), clock=lambda: h.now, max_bytes_per_poll=1024)
    h.write(b"".join(b"history record %04d\n" % i for i in range(200)))
    first = expand(h.follower.poll())
    h.write(b"during\n")
    records = list(first)
    while True:
        more = expand(h.follower.poll())
        if not more:
            break
        records += more
    h.write(b"live\n")
    records += expand(h.follower.poll())
    assert len(first) < 200
    assert [r.time for r in records[:200]] == [None] * 200
    # Written while the follower was behind: no arrival time (with the time the catch-up ends, a 10 s catch-up's
    # lines would read as done in no time); once caught up: live.
    assert [(r.text, r.time) for r in records[200:]] == [("during", None), ("live", 1000.0)]
    # A later burst past the budget is live, however many polls it takes.
    h.write(b"".join(b"burst record %04d\n" % i for i in range(200)))
    burst = expand(h.follower.poll())
    assert h.follower.behind
    while h.follower.behind:
        burst += expand(h.follower.poll())
    assert len(burst) == 200 and {r.time for r in burst} == {1000.0}


def permission_error(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h.write(b"a\n")
    real_open = os.open

    def denied(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        if os.fspath(path) == str(h.path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    assert h.poll() == []
    assert h.poll() == []
    assert h.stats.read_errors == 1  # one episode, counted once
    assert "Permission denied" in (h.follower.last_error or "")
    monkeypatch.setattr(os, "open", real_open)
    assert h.poll() == ["a"]
    assert h.follower.last_error is None


def read_error_mid_file(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h.write(b"a\n")
    assert h.poll() == ["a"]
    h.write(b"b\n")
    real_read = os.read

    def failing(fd: int, n: int) -> bytes:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "read", failing)
    assert h.poll() == []
    assert h.stats.read_errors == 1
    monkeypatch.setattr(os, "read", real_read)
    assert h.poll() == ["b"]


def directory_path(h: Harness) -> None:
    h.path.mkdir()
    assert h.poll() == []
    assert h.stats.read_errors == 1


SCENARIOS: list[Callable[..., None]] = [
    plain_append,
    partial_across_polls,
    crlf_split_across_polls,
    lone_cr_tqdm,
    ansi,
    invalid_utf8,
    oversized,
    rename_create_with_unread_tail,
    rename_then_create_later,
    write_between_eof_and_rotation_check,
    copytruncate,
    copytruncate_with_partial,
    truncate_then_regrow,
    truncate_then_regrow_same_header,
    appears_after_start,
    delete_and_recreate,
    docker_json_file,
    cri,
    timestamp_prefixes,
    history_then_live,
    history_over_several_polls,
    permission_error,
    read_error_mid_file,
    directory_path,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_follower(scenario: Callable[..., None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    harness = Harness(tmp_path)
    try:
        if "monkeypatch" in scenario.__code__.co_varnames[: scenario.__code__.co_argcount]:
            scenario(harness, monkeypatch)
        else:
            scenario(harness)
    finally:
        harness.follower.close()


# --- globs ------------------------------------------------------------------------------------------------------


def test_glob_picks_up_new_files(tmp_path: Path) -> None:
    now = [1000.0]
    (tmp_path / "rank0.log").write_bytes(b"r0 a\nr0 b\n")
    (tmp_path / "other.txt").write_bytes(b"ignored\n")
    source = GlobFollower(str(tmp_path / "rank*.log"), clock=lambda: now[0])
    records = expand(source.poll())
    assert [(r.text, r.time, r.index, Path(r.source).name) for r in records] == [
        ("r0 a", None, 1, "rank0.log"),
        ("r0 b", None, 2, "rank0.log"),
    ]
    assert source.files == 1
    (tmp_path / "rank1.log").write_bytes(b"r1 a\n")
    now[0] = 2000.0
    with open(tmp_path / "rank0.log", "ab") as f:
        f.write(b"r0 c\n")
    records = expand(source.poll())
    assert [(r.text, r.time, r.index, Path(r.source).name) for r in records] == [
        ("r0 c", 2000.0, 3, "rank0.log"),
        ("r1 a", 2000.0, 1, "rank1.log"),
    ]
    assert source.files == 2
    assert source.stats.records == 4
    source.close()


def test_glob_reads_a_file_under_two_names_once(tmp_path: Path) -> None:
    (tmp_path / "run3.log").write_bytes(b"a\n")
    os.symlink(tmp_path / "run3.log", tmp_path / "latest.log")
    source = GlobFollower(str(tmp_path / "*.log"))
    assert [r.text for r in expand(source.poll())] == ["a"]
    with open(tmp_path / "run3.log", "ab") as f:
        f.write(b"b\n")
    assert [r.text for r in expand(source.poll())] == ["b"]
    assert source.files == 1


def test_glob_matching_rotated_names_reads_nothing_twice(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(b"a\nb")
    source = GlobFollower(str(tmp_path / "train.log*"))
    assert [r.text for r in expand(source.poll())] == ["a"]
    with open(log, "ab") as f:
        f.write(b"c\n")
    os.rename(log, tmp_path / "train.log.1")
    log.write_bytes(b"d\n")
    texts = [r.text for r in expand(source.poll())]
    texts += [r.text for r in expand(source.poll())]
    with open(tmp_path / "train.log.1", "ab") as f:
        f.write(b"late\n")  # the writer had not reopened yet
    texts += [r.text for r in expand(source.poll())]
    assert sorted(texts) == ["bc", "d", "late"]
    assert source.files == 2


def test_glob_drops_vanished_file_after_draining(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_bytes(b"x\n")
    source = GlobFollower(str(tmp_path / "*.log"))
    assert [r.text for r in expand(source.poll())] == ["x"]
    with open(tmp_path / "a.log", "ab") as f:
        f.write(b"last\npartial")
    os.remove(tmp_path / "a.log")
    assert [r.text for r in expand(source.poll())] == ["last"]
    assert [r.text for r in expand(source.poll())] == ["partial"]
    assert source.paths == [] and source.files == 0


# --- stdin, open_source, read_records -----------------------------------------------------------------------------


def test_stdin_source_flushes_partial_at_eof() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb") as stream:
        source = StdinSource(stream, clock=lambda: 5.0)
        os.write(write_fd, b"a\nb\rc")
        os.close(write_fd)
        assert source.wait(10)
        records = expand(source.poll())
        assert [(r.text, r.time, r.source) for r in records] == [("a", 5.0, "-"), ("b", 5.0, "-"), ("c", 5.0, "-")]
        assert source.files == 0 and source.at_eof
        assert expand(source.poll()) == []
        source.close()


def test_open_source_chooses(tmp_path: Path) -> None:
    assert isinstance(open_source(str(tmp_path / "x.log")), FileFollower)
    assert isinstance(open_source(str(tmp_path / "*.log")), GlobFollower)
    stdin = open_source("-")
    assert isinstance(stdin, StdinSource) and stdin.name == "-"
    stdin.close()


def test_read_records_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "t.log"
    path.write_bytes(b"2026-11-28T00:33:00Z a\nb\r\nc")
    assert [(r.text, r.time, r.index) for r in read_records(str(path))] == [("a", UTC, 1), ("b", None, 2), ("c", None, 3)]


def test_read_records_errors_raise_at_call(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.log"):
        read_records(str(tmp_path / "missing.log"))
    with pytest.raises(IsADirectoryError):
        read_records(str(tmp_path))


def test_one_poll_reads_a_bounded_amount_and_says_it_is_behind(tmp_path: Path) -> None:
    from exporter.sources.base import MAX_BYTES_PER_POLL

    path = tmp_path / "long.log"
    lines = [b"iter %d: loss 2.0000, time 80.00ms, mfu 30.00%%\n" % i for i in range(120_000)]
    path.write_bytes(b"".join(lines))
    assert path.stat().st_size > 4 * MAX_BYTES_PER_POLL
    follower = FileFollower(str(path))
    texts: list[str] = []
    polls = 0
    while True:
        records = expand(follower.poll())
        polls += 1
        # One poll: at most the budget's bytes (plus the partial record carried over from the previous poll).
        assert sum(len(r.text) + 1 for r in records) <= MAX_BYTES_PER_POLL + 100
        texts += [r.text for r in records]
        if not follower.behind:
            break
        assert records
    assert polls > 4
    assert texts == [line[:-1].decode() for line in lines]
    assert expand(follower.poll()) == [] and not follower.behind


def test_a_glob_is_behind_while_one_of_its_files_is(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_bytes(b"x\n" * 100)
    (tmp_path / "b.log").write_bytes(b"y" * 5000 + b"\n")
    follower = GlobFollower(str(tmp_path / "*.log"), max_bytes_per_poll=1024)
    records = expand(follower.poll())
    assert follower.behind and len(records) == 100
    while follower.behind:
        records += expand(follower.poll())
    assert [r.text for r in records] == ["x"] * 100 + ["y" * 5000]


def test_stdin_source_reads_a_bounded_amount_per_poll() -> None:
    import io

    class Chunks(io.BytesIO):
        """A pipe that hands out at most 1000 bytes per read."""

        def read1(self, size: int = -1) -> bytes:
            return super().read1(1000)

    source = StdinSource(Chunks(b"z" * 999 + b"\n" + b"line\n" * 4000), max_bytes_per_poll=1)
    assert source.wait(5)
    first = expand(source.poll())
    assert [r.text for r in first] == ["z" * 999]
    assert source.behind
    records = list(first)
    while source.behind:
        records += expand(source.poll())
    assert [r.text for r in records] == ["z" * 999] + ["line"] * 4000
    assert source.at_eof


def test_follower_survives_garbage(tmp_path: Path) -> None:
    path = tmp_path / "g.log"
    path.write_bytes(os.urandom(200_000) + b"\x00" * 1000 + b"Z" * 10_000_000)
    follower = FileFollower(str(path))
    records = expand(follower.poll())
    while follower.behind:
        records += expand(follower.poll())
    path.write_bytes(b"\n" + os.urandom(5000))
    records += expand(follower.poll())
    assert follower.stats.read_errors == 0
    assert follower.stats.bytes > 10_000_000 and records


DATA = Path(__file__).parent / "data"


def test_real_tqdm_log_frames_like_its_arrival_record(tmp_path: Path) -> None:
    """hf_trainer (tqdm \\r updates, cursor-up escapes, dict lines glued to bars) against its per-record capture."""
    raw = (DATA / "sources_hf_trainer_head.log").read_bytes()
    lines = (DATA / "sources_hf_trainer_head.tslog").read_bytes().split(b"\n")[:-1]
    expected = [strip_ansi(line.split(b"\t", 1)[1]).decode("utf-8", "replace") for line in lines]
    assert [r.text for r in read_records(str(DATA / "sources_hf_trainer_head.log"))] == expected
    path = tmp_path / "hf.log"
    path.write_bytes(b"")
    follower = FileFollower(str(path))
    texts: list[str] = []
    for start in range(0, len(raw), 997):  # arrives in pieces that split records, escapes and characters
        with open(path, "ab") as f:
            f.write(raw[start : start + 997])
        texts += [r.text for r in expand(follower.poll())]
    assert texts == expected


def test_a_glob_reads_a_new_file_that_reuses_a_deleted_files_inode_from_its_start(tmp_path) -> None:
    """A new file with the same config banner in its first KiB, on the inode a deleted one had, must not be
    resumed at the old file's offset (124 of 230 lines were lost that way)."""
    import os

    from exporter.sources import GlobFollower

    banner = "".join(f"config line {i:04d} = value\n" for i in range(60))  # well over 1 KiB
    old = tmp_path / "run-a.log"
    old.write_text(banner + "".join(f"iter {i}\n" for i in range(100)))
    follower = GlobFollower(str(tmp_path / "*.log"))
    first = [r.text for r in expand(follower.poll())]
    assert first[-1] == "iter 99"
    ino = os.stat(old).st_ino
    old.unlink()
    expand(follower.poll())
    new = tmp_path / "run-b.log"
    for _ in range(50):  # get the freed inode back (ext4/tmpfs usually hand it out again at once)
        new.write_text(banner + "".join(f"iter {i}\n" for i in range(130)))
        if os.stat(new).st_ino == ino:
            break
        new.unlink()
    texts = [r.text for r in expand(follower.poll())]
    assert texts.count("iter 0") == 1 and texts[-1] == "iter 129" and len(texts) == 60 + 130


def test_copytruncate_with_a_non_appending_writer_keeps_the_line_after_the_nul_hole(tmp_path) -> None:
    """``python train.py > train.log`` writes at its own offset: after logrotate's copytruncate the file regrows
    with a hole of NULs up to that offset, then the next line (it was lost inside an oversized record)."""
    from exporter.sources import FileFollower

    log = tmp_path / "train.log"
    writer = open(log, "wb", buffering=0)  # not O_APPEND, like a shell redirect
    writer.write(b"".join(b"iter %d: loss 1.0\n" % i for i in range(5000)))
    follower = FileFollower(str(log))
    assert [r.text for r in expand(follower.poll())][-1] == "iter 4999: loss 1.0"
    with open(log, "r+b") as f:  # copytruncate
        f.truncate(0)
    writer.write(b"iter 5000: loss 1.0\niter 5001: loss 1.0\n")  # lands after ~95 KB of NULs
    texts = [r.text for r in expand(follower.poll())]
    assert texts == ["iter 5000: loss 1.0", "iter 5001: loss 1.0"]
    assert follower.stats.oversized_records == 0
    writer.close()
