"""The unit the follower hands to parsers, and the counters it keeps about itself."""

from __future__ import annotations

from dataclasses import dataclass


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
class SourceStats:
    """Counters about reading, exported as the exporter's self metrics."""

    records: int = 0
    bytes: int = 0
    rotations: int = 0
    truncations: int = 0
    read_errors: int = 0
    oversized_records: int = 0
