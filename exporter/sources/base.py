"""What every source shares: the ``Source`` protocol the runtime polls, read budgets and the file clock."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from exporter.sources.record import Record, RecordBlock, SourceStats

BLOCK_SIZE = 256 * 1024
"""Bytes per read call."""
MAX_BYTES_PER_POLL = 1024 * 1024
"""Bytes one poll reads from one file at most: one poll's records, and the caller's work on them, stay small
(a few MB of objects) however long the history is; ``behind`` tells the caller to poll again at once."""
FINGERPRINT_BYTES = 1024
"""First bytes of a file compared at each change to notice a truncate-then-regrow."""
TAIL_BYTES = 64
"""Bytes just before the read offset compared with what was read there, for the same purpose."""

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Position:
    """Where a file follower stands in one file: its identity, the offset of what was read, its decoder (the
    partial record and framing state)."""

    path: str
    device: int
    inode: int
    offset: int
    fingerprint: bytes
    """The file's first bytes (up to ``FINGERPRINT_BYTES``): a file reusing the inode number differs here."""
    tail: bytes
    """The bytes just before ``offset``: a file rewritten in place differs here."""
    decoder: object


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where a source stands, to continue there after a restart (like Promtail's positions file): a position per
    file it reads and its read counters (copied together: the decoders count into these very stats)."""

    positions: tuple[Position, ...]
    stats: SourceStats

    @classmethod
    def copied(cls, positions: tuple[Position, ...], stats: SourceStats) -> Checkpoint:
        """A checkpoint of live followers: their decoders and stats copied together, so that the copied decoders
        count into the copied stats as the live ones count into the live stats."""
        positions, stats = copy.deepcopy((positions, stats))
        return cls(positions, stats)



class Source(Protocol):
    """What every source offers the pipeline."""

    name: str
    stats: SourceStats

    def poll(self) -> list[Record | RecordBlock]:
        """Records completed since the last call; never blocks."""
        ...

    @property
    def behind(self) -> bool:
        """Whether the last poll stopped at its byte budget with more to read (poll again without waiting)."""
        ...

    def close(self) -> None:
        """Release files and threads."""
        ...

    def checkpoint(self) -> Checkpoint | None:
        """Where this source stands, or None when it cannot resume (stdin, no file open yet)."""
        ...

    def resume(self, checkpoint: Checkpoint) -> bool:
        """Continue from ``checkpoint`` before the first poll; False (nothing changed) when the file is not the
        same one any more (rotated, truncated, rewritten, another inode) and must be read from its start."""
        ...

    @property
    def files(self) -> int:
        """Number of files currently followed (0 while the log is missing)."""
        ...

    @property
    def paths(self) -> list[str]:
        """The paths followed now (their records carry them as ``Record.source``)."""
        ...

    @property
    def last_error(self) -> str | None:
        """Why the latest poll could not read (``path: reason``), or None when it could."""
        ...


def modified_time(path: str) -> float | None:
    """The file's modification time (when its last byte was written), or None if it cannot be stat'ed."""
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None
