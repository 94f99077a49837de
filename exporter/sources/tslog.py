"""``.tslog`` files: ``unix_time<TAB>record`` per line, a recorded log with the arrival time of every record (as in
``benchmarks/data``). Read as history with those times, so ``parse``, ``report`` and ``replay`` see the run as it
happened."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from exporter.sources.decoder import RecordDecoder
from exporter.sources.record import Record, SourceStats


def timed_records(
    lines: Iterable[str], *, source: str, with_times: bool = True, stats: SourceStats | None = None
) -> Iterator[Record]:
    """Records of ``unix_time<TAB>record`` lines, framed like a followed file.

    ``with_times=False`` drops the times (the same log as a user would have it, printed times only). A line
    without a valid time keeps its whole text and no time.
    """
    decoder = RecordDecoder(source=source, stats=stats if stats is not None else SourceStats())
    for line in lines:
        line = line.rstrip("\n")
        stamp, tab, text = line.partition("\t")
        time: float | None = None
        if tab:
            try:
                time = float(stamp)
            except ValueError:
                text = line
            else:
                if not math.isfinite(time):
                    time = None
        else:
            text = line
        yield from decoder.feed((text + "\n").encode("utf-8", "surrogateescape"), time if with_times else None)
    yield from decoder.flush(None)


def read_timed(path: str, *, with_times: bool = True, stats: SourceStats | None = None) -> Iterator[Record]:
    """The records of a ``.tslog`` file; the file is opened before this returns (``OSError`` if it cannot be)."""
    handle = open(path, encoding="utf-8", errors="surrogateescape", newline="\n")
    return _closing(handle, timed_records(handle, source=path, with_times=with_times, stats=stats))


def _closing(handle: Iterable[str], records: Iterator[Record]) -> Iterator[Record]:
    with handle:  # type: ignore[attr-defined]
        yield from records
