"""The unit the follower hands to parsers, and the counters it keeps about itself."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import count, repeat


@dataclass(slots=True)
class Record:
    """One complete log record: a line, or one ``\\r``-separated tqdm update."""

    text: str
    """Decoded text without its terminator, ANSI escapes and container envelope (docker json-file / CRI)."""
    time: float | None
    """Unix seconds: timestamp prefix or container time if present, else arrival time when following live,
    else None (history read at start-up)."""
    index: int
    """1-based index of the record within its source (all files of a glob share one sequence per file)."""
    source: str = ""
    """The path the record came from (``-`` for stdin)."""


@dataclass(slots=True)
class RecordBlock:
    """Consecutive plain records of one source that share a time, as one text: what a reader hands on instead of
    a ``Record`` each when a long history arrives at once (``Pipeline.feed_many`` finds a decided family's progress
    lines in it with one pattern, without an object per record).

    Exactly the records ``Record`` objects would be: none is empty, none starts with a timestamp prefix, none holds
    a terminator (``\\n``, ``\\r``).
    """

    text: str
    """Every record preceded by ``\\n`` (``"\\nfirst\\nsecond"``): a pattern starting with ``\\n`` finds record
    starts."""
    time: float | None
    """Every record's time (``Record.time``)."""
    first: int
    """``Record.index`` of the first record."""
    count: int
    source: str = ""

    def records(self) -> list[Record]:
        """The block as ``Record`` objects."""
        return records_of(self.text[1:].split("\n"), self.time, self.first, self.source)


def records_of(texts: list[str], time: float | None, first: int, source: str) -> list[Record]:
    """Consecutive records of ``source`` that share ``time``, numbered from ``first``."""
    return list(map(Record, texts, repeat(time), count(first), repeat(source)))


def expand(items: Iterable[Record | RecordBlock]) -> list[Record]:
    """A poll's records with each block as the records it holds (for readers that want one object per record)."""
    return [r for item in items for r in (item.records() if isinstance(item, RecordBlock) else (item,))]


@dataclass(slots=True)
class SourceStats:
    """Counters about reading, exported as the exporter's self metrics."""

    records: int = 0
    bytes: int = 0
    rotations: int = 0
    truncations: int = 0
    read_errors: int = 0
    oversized_records: int = 0
