"""Following every file a glob matches, one ``FileFollower`` each, each file read once."""

from __future__ import annotations

import glob as globlib
import os
import time

from exporter.sources.base import MAX_BYTES_PER_POLL, Checkpoint, Clock
from exporter.sources.file import FileFollower, _Claims
from exporter.sources.record import Record, RecordBlock, SourceStats


def is_glob(spec: str) -> bool:
    """Whether ``spec`` is a glob pattern (holds ``*``, ``?`` or ``[``)."""
    return globlib.has_magic(spec)


class GlobFollower:
    """Follows every file matching a glob (``**`` recursive); files that match later are picked up then.

    One :class:`FileFollower` per matched path; ``Record.source`` is the path and ``Record.index`` counts per
    path. A file reachable under two matched paths (symlink, a rotated name the glob also matches) is read once.
    Files matched at the first poll are history; later ones are live. A follower whose path stopped matching is
    finished (drained, partial record flushed) and dropped at the first poll that finds nothing new in it.
    """

    def __init__(
        self,
        pattern: str,
        *,
        clock: Clock = time.time,
        max_bytes_per_poll: int = MAX_BYTES_PER_POLL,
    ) -> None:
        self.pattern = pattern
        self.name = pattern
        self.stats = SourceStats()
        self._clock = clock
        self._max_bytes = max_bytes_per_poll
        self._claims = _Claims()
        self._followers: dict[str, FileFollower] = {}
        self._polled = False
        self._resumed = False
        """Set by ``resume``: files that match at the next poll were written while the sidecar was down (history)."""

    @property
    def behind(self) -> bool:
        """Whether some file's last poll stopped at its byte budget with more to read."""
        return any(f.behind for f in self._followers.values())

    @property
    def files(self) -> int:
        """Number of matched files being read."""
        return sum(f.files for f in self._followers.values())

    @property
    def paths(self) -> list[str]:
        """Paths followed now, sorted."""
        return sorted(self._followers)

    @property
    def last_error(self) -> str | None:
        """The first matched file's read error (a glob whose files are all readable has none)."""
        return next((f.last_error for _, f in sorted(self._followers.items()) if f.last_error), None)

    def checkpoint(self) -> Checkpoint | None:
        if not self._polled:
            return None
        positions = tuple(p for p in (f.position() for _, f in sorted(self._followers.items())) if p is not None)
        return Checkpoint.copied(positions, self.stats)  # every follower's decoder counts into the glob's stats

    def resume(self, checkpoint: Checkpoint) -> bool:
        """Every saved file that still exists must be the same file at its offset; else nothing is resumed and
        the glob is read again from its start (a file gone since is simply not followed)."""
        if self._polled:
            return False
        followers: dict[str, FileFollower] = {}
        for position in checkpoint.positions:
            if not os.path.exists(position.path):
                continue
            follower = self._follower(position.path, checkpoint.stats, history=True)
            if not follower.resume_at(position):
                for opened in [*followers.values(), follower]:
                    opened.close()
                self._claims = _Claims()
                return False
            followers[position.path] = follower
        self._followers, self.stats, self._polled, self._resumed = followers, checkpoint.stats, True, True
        return True

    def poll(self) -> list[Record | RecordBlock]:
        """Records completed since the last poll, file by file in path order."""
        first = not self._polled or self._resumed
        self._polled, self._resumed = True, False
        matched = set(globlib.glob(self.pattern, recursive=True))
        for path in sorted(matched - self._followers.keys()):
            if os.path.isdir(path):
                continue
            self._followers[path] = self._follower(path, self.stats, history=first)
        out: list[Record | RecordBlock] = []
        for path in sorted(self._followers):
            follower = self._followers[path]
            records = follower.poll()
            out += records
            if path not in matched and not records and follower.last_error is None:
                out += follower.finish()
                del self._followers[path]
        return out

    def _follower(self, path: str, stats: SourceStats, *, history: bool) -> FileFollower:
        return FileFollower(path, clock=self._clock, stats=stats, history=history,
                            max_bytes_per_poll=self._max_bytes, _claims=self._claims)

    def close(self) -> None:
        """Close every followed file."""
        for follower in self._followers.values():
            follower.close()
        self._followers.clear()
