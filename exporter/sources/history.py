"""Reading a whole log once, as history (``parse``, ``report``, ``replay``): the same framing as the followers."""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO, TypeVar

from exporter.sources.base import BLOCK_SIZE
from exporter.sources.decoder import RecordDecoder
from exporter.sources.record import Record, RecordBlock, SourceStats
from exporter.sources.tslog import read_timed


def read_records(path: str, *, stats: SourceStats | None = None, with_times: bool = True) -> Iterator[Record]:
    """All records of a whole file (or stdin for ``-``), read once, as history (for parse/report/replay).

    A ``.tslog`` file (``unix_time<TAB>record`` per line) gives each record its recorded time (``with_times=False``
    drops them: the log as a user would have it).

    Record times come from timestamp prefixes and container envelopes only (else None). The file is opened
    before this returns, so a missing, unreadable or directory path raises ``OSError`` here
    (``FileNotFoundError``, ``PermissionError``, ``IsADirectoryError``; ``str(exc)`` names the path); a read
    error later raises ``OSError`` from the iteration. Counters go to ``stats`` if given.
    """
    stats = stats if stats is not None else SourceStats()
    if path == "-":
        return _read_stream(sys.stdin.buffer, "-", stats, RecordDecoder.feed)
    if path.endswith(".tslog"):
        return read_timed(path, with_times=with_times, stats=stats)
    return _read_stream(_open(path), path, stats, RecordDecoder.feed, close=True)


def read_items(path: str, *, stats: SourceStats | None = None) -> Iterator[Record | RecordBlock]:
    """``read_records``, with long runs of plain records that complete at once as ``RecordBlock`` objects
    (``RecordDecoder.feed_blocks``): what ``Pipeline.feed_many`` reads fastest. Raises as ``read_records``."""
    stats = stats if stats is not None else SourceStats()
    if path == "-":
        return _read_stream(sys.stdin.buffer, "-", stats, RecordDecoder.feed_blocks)
    if path.endswith(".tslog"):
        return read_timed(path, stats=stats)  # each record has a time of its own: no blocks
    return _read_stream(_open(path), path, stats, RecordDecoder.feed_blocks, close=True)


def _open(path: str) -> BinaryIO:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        return os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise


Item = TypeVar("Item", Record, Record | RecordBlock)


def _read_stream(
    stream: BinaryIO,
    name: str,
    stats: SourceStats,
    feed: Callable[[RecordDecoder, bytes, float | None], Sequence[Item]],
    *,
    close: bool = False,
) -> Iterator[Item]:
    decoder = RecordDecoder(source=name, stats=stats)
    try:
        while True:
            data = stream.read(BLOCK_SIZE)
            if not data:
                break
            stats.bytes += len(data)
            yield from feed(decoder, data, None)
        yield from decoder.flush(None)
    finally:
        if close:
            stream.close()
