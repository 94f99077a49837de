"""Following a log: a path, a glob or stdin, polled step by step (mtail-style, no inotify).

``poll()`` never blocks or sleeps: it reads what is new (at most ``MAX_BYTES_PER_POLL`` per file), returns the
records completed so far, and leaves the interval (at most 1 s) to the caller. ``behind`` says the poll stopped at
that budget with more already written: the caller polls again at once instead of sleeping, so a long history is
caught up at full speed while one poll's records (and the events made from them) stay few. Guarantees of :class:`FileFollower` (no complete record lost or read twice):

- the content the file holds at the first poll is read from its start as *history* (records get ``time=None``
  unless a timestamp prefix or container time says otherwise); everything after that is live (arrival time),
  except what is written while that first catch-up goes on: read after a poll that stopped at its budget and
  before the file's end was first reached, it was written at times the follower does not know (a catch-up of
  10 s would stamp 10 s of lines with one arrival time). Later bursts past the budget keep their arrival times;
- rename + create: at EOF the path names another (st_dev, st_ino); the old file is drained to its end, its
  partial record flushed, then the new file is read from its start. The old file stays open while the path is
  missing, so a writer that keeps writing to the renamed or deleted file is still read until a new file appears;
- copytruncate (size < offset) and truncate-then-regrow past the offset (the file's first bytes or the bytes
  just before the offset changed): the partial record is flushed and the file is read again from its start.
  A rewrite that keeps both the first 1 KiB and the 64 bytes before the offset is indistinguishable from the same
  file and is not detected;
- a file that appears after start is read from its start (live); permission or I/O errors are counted in
  ``stats.read_errors`` (once per episode: an error that repeats at every poll counts once) and never raised.

Bytes written to an old file after it was rotated away *and* after the follower switched to the new file are not
read (the follower never goes back); bytes overwritten by an in-place truncation before a poll saw them are
lost (nothing can read them).
"""

from __future__ import annotations

import errno
import os
import stat
import time

from exporter.sources.base import (
    BLOCK_SIZE,
    FINGERPRINT_BYTES,
    MAX_BYTES_PER_POLL,
    TAIL_BYTES,
    Checkpoint,
    Clock,
    Position,
)
from exporter.sources.decoder import RecordDecoder
from exporter.sources.record import Record, RecordBlock, SourceStats

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


def _holds(fd: int, offset: int, fingerprint: bytes, tail: bytes) -> bool:
    """Whether the open file still has ``offset`` bytes, begins with ``fingerprint`` and has ``tail`` just before
    ``offset``: the file that was read to there (a truncation, an in-place rewrite or a reused inode differ)."""
    return (
        os.fstat(fd).st_size >= offset
        and os.pread(fd, len(fingerprint), 0) == fingerprint
        and os.pread(fd, len(tail), offset - len(tail)) == tail
    )


class _Claims:
    """Which follower reads which file (st_dev, st_ino), shared by the followers of one glob.

    Two matched paths can name one file (a symlink ``latest.log``, or a rotated ``train.log.1`` the glob also
    matches): only one follower reads it, and a file another follower drained to offset N is continued at N.
    """

    def __init__(self) -> None:
        self._owners: dict[tuple[int, int], object] = {}
        self._released: dict[tuple[int, int], tuple[int, bytes, bytes]] = {}

    def claim(self, ident: tuple[int, int], owner: object, fd: int) -> int | None:
        """Offset to start ``fd`` at, or None if another follower reads this file."""
        holder = self._owners.get(ident)
        if holder is not None and holder is not owner:
            return None
        self._owners[ident] = owner
        released = self._released.pop(ident, None)
        if released is None:
            return 0
        offset, fingerprint, tail = released
        # The inode number may have been reused by a new file (the same config banner in its first KiB): continue
        # only if its start and the bytes just before the offset are the same.
        return offset if _holds(fd, offset, fingerprint, tail) else 0

    def take(self, ident: tuple[int, int], owner: object) -> bool:
        """``owner`` reads this file from a saved position (a restart); False if another follower reads it."""
        holder = self._owners.get(ident)
        if holder is not None and holder is not owner:
            return False
        self._owners[ident] = owner
        self._released.pop(ident, None)
        return True

    def release(self, ident: tuple[int, int], owner: object, offset: int, fingerprint: bytes, tail: bytes,
                *, deleted: bool = False) -> None:
        """``owner`` stops reading the file at ``offset``; another follower may continue there, unless the file
        was deleted (its inode number is free for a new file, which must be read from its start)."""
        if self._owners.get(ident) is owner:
            del self._owners[ident]
            if deleted:
                self._released.pop(ident, None)
                return
            if len(self._released) >= 4096:
                self._released.clear()
            self._released[ident] = (offset, fingerprint, tail)


class FileFollower:
    """Follows one path through rotations and truncations (see the module docstring for the guarantees).

    ``history=False`` treats the content found at the first poll as live too (records get arrival times).
    Record indexes count records from this path and continue across rotations.
    """

    def __init__(
        self,
        path: str,
        *,
        clock: Clock = time.time,
        stats: SourceStats | None = None,
        history: bool = True,
        max_bytes_per_poll: int = MAX_BYTES_PER_POLL,
        _claims: _Claims | None = None,
    ) -> None:
        self.path = path
        self.name = path
        self.stats = stats if stats is not None else SourceStats()
        self.last_error: str | None = None
        """Message of the failure being counted, None when the last poll succeeded."""
        self._clock = clock
        self._history = history
        self._max_bytes = max_bytes_per_poll
        self._claims = _claims
        self._decoder = RecordDecoder(source=path, stats=self.stats)
        self._polled = False
        self._fd: int | None = None
        self._ident: tuple[int, int] = (0, 0)
        self._offset = 0
        self._history_end: int | None = None
        self._fingerprint = b""
        self._tail = b""
        self._present = False
        self._error_key: tuple[type, int | None] | None = None
        self._behind = False
        self._catching_up = False
        """The poll before this one stopped at its budget."""
        self._reached_end = False
        """The current file was read to its end at least once since it was opened (or resumed)."""

    @property
    def behind(self) -> bool:
        """Whether the last poll stopped at its byte budget with more of the file left to read."""
        return self._behind

    @property
    def files(self) -> int:
        """1 while the path names a file this follower reads, else 0."""
        return 1 if self._present and self._fd is not None else 0

    @property
    def offset(self) -> int:
        """Bytes of the current file read so far."""
        return self._offset

    @property
    def paths(self) -> list[str]:
        return [self.path]

    def poll(self) -> list[Record | RecordBlock]:
        """Records completed since the last poll (history first, then live records)."""
        out: list[Record | RecordBlock] = []
        first = not self._polled
        self._polled = True
        self._catching_up = self._behind
        self._behind = False
        now = self._clock()
        try:
            self._poll(out, first, now)
        except OSError as exc:
            self._fail(exc)
        else:
            self._error_key = None
            self.last_error = None
        return out

    def close(self) -> None:
        """Stop following: close the file (a held partial record is dropped)."""
        self._close_fd()

    def checkpoint(self) -> Checkpoint | None:
        position = self.position()
        if position is None:
            return None
        return Checkpoint.copied((position,), self.stats)

    def resume(self, checkpoint: Checkpoint) -> bool:
        if len(checkpoint.positions) != 1 or not self.resume_at(checkpoint.positions[0]):
            return False
        self.stats = checkpoint.stats
        return True

    def position(self) -> Position | None:
        """Where this follower stands (its decoder itself, not a copy), or None with no file open."""
        if self._fd is None:
            return None
        device, inode = self._ident
        return Position(self.path, device, inode, self._offset, self._fingerprint, self._tail, self._decoder)

    def resume_at(self, checkpoint: Position) -> bool:
        """Continue at ``checkpoint`` (before the first poll) when the file is still the same; False otherwise."""
        if self._polled or checkpoint.path != self.path or not isinstance(checkpoint.decoder, RecordDecoder):
            return False
        try:
            fd = os.open(self.path, _OPEN_FLAGS)
        except OSError:
            return False
        try:
            st = os.fstat(fd)
            offset, fingerprint, tail = checkpoint.offset, checkpoint.fingerprint, checkpoint.tail
            same = (
                (st.st_dev, st.st_ino) == (checkpoint.device, checkpoint.inode)
                and stat.S_ISREG(st.st_mode)
                and len(fingerprint) == min(FINGERPRINT_BYTES, offset)
                and _holds(fd, offset, fingerprint, tail)
            )
            if same and self._claims is not None:
                same = self._claims.take((st.st_dev, st.st_ino), self)
            if same:
                os.lseek(fd, offset, os.SEEK_SET)
        except OSError:
            same = False
        if not same:
            os.close(fd)
            return False
        self._fd, self._ident, self._offset = fd, (st.st_dev, st.st_ino), offset
        self._fingerprint, self._tail, self._present = fingerprint, tail, True
        self._decoder = checkpoint.decoder
        self.stats = checkpoint.decoder.stats
        # What was written while the sidecar was down has no arrival time: read it as history.
        self._history_end = st.st_size if self._history else None
        self._reached_end = False
        self._polled = True
        return True

    def finish(self) -> list[Record | RecordBlock]:
        """Drain the current file to its end, flush its partial record, and close it."""
        out: list[Record | RecordBlock] = []
        if self._fd is not None:
            now = self._clock()
            try:
                while not self._read(out, now):
                    pass
            except OSError as exc:
                self._fail(exc)
            out += self._decoder.flush(self._default_time(now))
            self._close_fd()
        return out

    def _poll(self, out: list[Record | RecordBlock], first: bool, now: float) -> None:
        if self._fd is None:
            if not self._open(first):
                return
        else:
            self._check_truncation(out, now)
        if not self._read(out, now):
            return
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._present = False
            return
        self._present = True
        if (st.st_dev, st.st_ino) == self._ident:
            return
        # The path names another file: finish the old one first, so nothing written to it is lost.
        if not self._read(out, now):
            return
        out += self._decoder.flush(self._default_time(now))
        self._close_fd()
        self.stats.rotations += 1
        if self._open(False):
            self._read(out, now)

    def _open(self, first: bool) -> bool:
        """Open the path from its start (or where another follower left it); False if there is nothing to read."""
        try:
            fd = os.open(self.path, _OPEN_FLAGS)
        except FileNotFoundError:
            self._present = False
            return False
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), self.path)
            ident = (st.st_dev, st.st_ino)
            start = 0 if self._claims is None else self._claims.claim(ident, self, fd)
            if start is None:
                os.close(fd)
                self._present = False
                return False
            if start:
                os.lseek(fd, start, os.SEEK_SET)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._ident = ident
        self._offset = start
        self._fingerprint = b""
        self._tail = b""
        self._present = True
        self._history_end = st.st_size if first and self._history else None
        self._reached_end = False
        self._decoder.restart()
        return True

    def _close_fd(self) -> None:
        if self._fd is None:
            return
        if self._claims is not None:
            try:
                deleted = os.fstat(self._fd).st_nlink == 0
            except OSError:
                deleted = True
            self._claims.release(self._ident, self, self._offset, self._fingerprint, self._tail, deleted=deleted)
        try:
            os.close(self._fd)
        finally:
            self._fd = None

    def _check_truncation(self, out: list[Record | RecordBlock], now: float) -> None:
        """Notice an in-place truncation (copytruncate, ``>`` redirect) before reading past it."""
        assert self._fd is not None
        fd = self._fd
        # Two small preads per poll; a size/mtime shortcut would miss a same-size rewrite within one tick.
        if _holds(fd, self._offset, self._fingerprint, self._tail):
            return
        out += self._decoder.flush(self._default_time(now))
        self._decoder.restart()
        os.lseek(fd, 0, os.SEEK_SET)
        self._offset = 0
        self._fingerprint = b""
        self._tail = b""
        self._history_end = None
        self.stats.truncations += 1

    def _read(self, out: list[Record | RecordBlock], now: float) -> bool:
        """Read up to the poll's byte budget; True if the end of the file was reached."""
        assert self._fd is not None
        fd = self._fd
        budget = self._max_bytes
        decoder = self._decoder
        while budget > 0:
            size = min(BLOCK_SIZE, budget)
            history_end = self._history_end
            if history_end is not None:
                if self._offset >= history_end:
                    self._history_end = history_end = None
                else:
                    size = min(size, history_end - self._offset)
            try:
                data = os.read(fd, size)
            except BlockingIOError:  # a FIFO with a writer but no data yet
                data = b""
            if not data:
                self._remember(b"")
                self._behind = False
                self._reached_end = True
                return True
            self._offset += len(data)
            self.stats.bytes += len(data)
            budget -= len(data)
            self._remember(data)
            out += decoder.feed_blocks(data, self._default_time(now))
        self._behind = True
        return False

    def _remember(self, data: bytes) -> None:
        """Keep the file's first bytes and the bytes just before the offset (truncation detection)."""
        if data:
            self._tail = data[-TAIL_BYTES:] if len(data) >= TAIL_BYTES else (self._tail + data)[-TAIL_BYTES:]
        want = min(FINGERPRINT_BYTES, self._offset)
        if len(self._fingerprint) < want and self._fd is not None:
            self._fingerprint = os.pread(self._fd, want, 0)

    def _default_time(self, now: float) -> float | None:
        """Arrival time ``now`` for what is read now, or None for history and for what was written while the
        first catch-up went on."""
        if self._history_end is not None and self._offset <= self._history_end:
            return None
        return None if self._catching_up and not self._reached_end else now

    def _fail(self, exc: OSError) -> None:
        key = (type(exc), exc.errno)
        if key != self._error_key:
            self.stats.read_errors += 1
            self._error_key = key
        self.last_error = f"{self.path}: {exc.strerror or exc}"
