"""Following a log: a path, a glob or stdin, polled step by step (mtail-style, no inotify).

``poll()`` never blocks or sleeps: it reads what is new (at most ``MAX_BYTES_PER_POLL`` per file), returns the
records completed so far, and leaves the interval (at most 1 s) to the caller. ``behind`` says the poll stopped at
that budget with more already written: the caller polls again at once instead of sleeping, so a long history is
caught up at full speed while one poll's records (and the events made from them) stay few. Guarantees of :class:`FileFollower` (no complete record lost or read twice):

- the content the file holds at the first poll is read from its start as *history* (records get ``time=None``
  unless a timestamp prefix or container time says otherwise); everything after that is live (arrival time);
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
import glob as globlib
import os
import queue
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO, Protocol

from exporter.sources.decoder import RecordDecoder
from exporter.sources.record import Record, SourceStats
from exporter.sources.tslog import read_timed

__all__ = [
    "BLOCK_SIZE",
    "Source",
    "FileFollower",
    "GlobFollower",
    "StdinSource",
    "open_source",
    "read_records",
    "is_glob",
]

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


class Source(Protocol):
    """What every source offers the pipeline."""

    name: str
    stats: SourceStats

    def poll(self) -> list[Record]:
        """Records completed since the last call; never blocks."""
        ...

    @property
    def behind(self) -> bool:
        """Whether the last poll stopped at its byte budget with more to read (poll again without waiting)."""
        ...

    def close(self) -> None:
        """Release files and threads."""
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
        if (
            os.fstat(fd).st_size < offset
            or os.pread(fd, len(fingerprint), 0) != fingerprint
            or os.pread(fd, len(tail), offset - len(tail)) != tail
        ):
            return 0
        return offset

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

    def poll(self) -> list[Record]:
        """Records completed since the last poll (history first, then live records)."""
        out: list[Record] = []
        first = not self._polled
        self._polled = True
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

    def finish(self) -> list[Record]:
        """Drain the current file to its end, flush its partial record, and close it."""
        out: list[Record] = []
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

    def _poll(self, out: list[Record], first: bool, now: float) -> None:
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
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0))
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

    def _check_truncation(self, out: list[Record], now: float) -> None:
        """Notice an in-place truncation (copytruncate, ``>`` redirect) before reading past it."""
        assert self._fd is not None
        fd = self._fd
        truncated = os.fstat(fd).st_size < self._offset
        if not truncated and self._offset:
            # Two small preads per poll; a size/mtime shortcut would miss a same-size rewrite within one tick.
            truncated = os.pread(fd, len(self._fingerprint), 0) != self._fingerprint or (
                os.pread(fd, len(self._tail), self._offset - len(self._tail)) != self._tail
            )
        if not truncated:
            return
        out += self._decoder.flush(self._default_time(now))
        self._decoder.restart()
        os.lseek(fd, 0, os.SEEK_SET)
        self._offset = 0
        self._fingerprint = b""
        self._tail = b""
        self._history_end = None
        self.stats.truncations += 1

    def _read(self, out: list[Record], now: float) -> bool:
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
                return True
            self._offset += len(data)
            self.stats.bytes += len(data)
            budget -= len(data)
            self._remember(data)
            out += decoder.feed(data, None if history_end is not None else now)
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
        return None if self._history_end is not None and self._offset <= self._history_end else now

    def _fail(self, exc: OSError) -> None:
        key = (type(exc), exc.errno)
        if key != self._error_key:
            self.stats.read_errors += 1
            self._error_key = key
        self.last_error = f"{self.path}: {exc.strerror or exc}"


def modified_time(path: str) -> float | None:
    """The file's modification time (when its last byte was written), or None if it cannot be stat'ed."""
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


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

    def poll(self) -> list[Record]:
        """Records completed since the last poll, file by file in path order."""
        first = not self._polled
        self._polled = True
        matched = set(globlib.glob(self.pattern, recursive=True))
        for path in sorted(matched - self._followers.keys()):
            if os.path.isdir(path):
                continue
            self._followers[path] = FileFollower(
                path,
                clock=self._clock,
                stats=self.stats,
                history=first,
                max_bytes_per_poll=self._max_bytes,
                _claims=self._claims,
            )
        out: list[Record] = []
        for path in sorted(self._followers):
            follower = self._followers[path]
            records = follower.poll()
            out += records
            if path not in matched and not records and follower.last_error is None:
                out += follower.finish()
                del self._followers[path]
        return out

    def close(self) -> None:
        """Close every followed file."""
        for follower in self._followers.values():
            follower.close()
        self._followers.clear()


class StdinSource:
    """Reads a binary stream (stdin by default) on a daemon thread; ``poll`` takes what arrived, never blocks.

    Records get their arrival time (or a timestamp prefix / container time); at end of input the partial
    record is flushed and ``files`` drops to 0. The bounded queue makes a fast writer wait for the caller.
    """

    def __init__(
        self,
        stream: BinaryIO | None = None,
        *,
        clock: Clock = time.time,
        name: str = "-",
        max_bytes_per_poll: int = MAX_BYTES_PER_POLL,
    ) -> None:
        self.name = name
        self.stats = SourceStats()
        self._clock = clock
        self._max_bytes = max_bytes_per_poll
        self._stream = stream if stream is not None else sys.stdin.buffer
        self._decoder = RecordDecoder(source=name, stats=self.stats)
        self._queue: queue.Queue[bytes | OSError | None] = queue.Queue(maxsize=64)
        self._done = False
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="stdin-reader", daemon=True)
        self._thread.start()

    @property
    def files(self) -> int:
        """1 until the end of input, then 0."""
        return 0 if self._done else 1

    @property
    def at_eof(self) -> bool:
        """Whether the end of input was reached and everything was returned."""
        return self._done

    @property
    def paths(self) -> list[str]:
        return [self.name]

    last_error: str | None = None
    """Read errors are counted in ``stats`` and end the input; nothing stays unreadable."""

    @property
    def behind(self) -> bool:
        """Whether input that already arrived waits for the next poll (this one reached its byte budget)."""
        return not self._done and not self._queue.empty()

    def poll(self) -> list[Record]:
        """Records completed by the input that arrived since the last poll (up to the poll's byte budget)."""
        out: list[Record] = []
        if self._done:
            return out
        now = self._clock()
        budget = self._max_bytes
        while budget > 0:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return out
            if isinstance(item, bytes):
                self.stats.bytes += len(item)
                budget -= len(item)
                out += self._decoder.feed(item, now)
                continue
            if isinstance(item, OSError):
                self.stats.read_errors += 1
            out += self._decoder.flush(now)
            self._done = True
            return out
        return out

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the reader thread reached the end of input (for tests and shutdown); True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def close(self) -> None:
        """Stop handing out input; the reader thread ends at the next chunk or the end of input."""
        self._closed.set()
        self._done = True

    def _pump(self) -> None:
        read = getattr(self._stream, "read1", self._stream.read)
        try:
            while not self._closed.is_set():
                data = read(BLOCK_SIZE)
                if not data:
                    break
                self._queue.put(bytes(data))
        except OSError as exc:
            self._queue.put(exc)
            return
        except ValueError:  # the stream was closed under us
            pass
        self._queue.put(None)


def open_source(spec: str, *, clock: Clock = time.time) -> FileFollower | GlobFollower | StdinSource:
    """The source for ``spec``: ``-`` is stdin, a spec with ``*?[`` a glob, anything else a path.

    A missing path or unmatched glob is not an error: it is polled until it appears (``files`` is 0 meanwhile).
    """
    if spec == "-":
        return StdinSource(clock=clock)
    if is_glob(spec):
        return GlobFollower(spec, clock=clock)
    return FileFollower(spec, clock=clock)


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
        return _read_stream(sys.stdin.buffer, "-", stats)
    if path.endswith(".tslog"):
        return read_timed(path, with_times=with_times, stats=stats)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        stream = os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise
    return _read_stream(stream, path, stats, close=True)


def _read_stream(stream: BinaryIO, name: str, stats: SourceStats, *, close: bool = False) -> Iterator[Record]:
    decoder = RecordDecoder(source=name, stats=stats)
    try:
        while True:
            data = stream.read(BLOCK_SIZE)
            if not data:
                break
            stats.bytes += len(data)
            yield from decoder.feed(data, None)
        yield from decoder.flush(None)
    finally:
        if close:
            stream.close()
