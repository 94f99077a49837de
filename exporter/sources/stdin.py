"""Following standard input (``--log -``): a reader thread feeds a queue that ``poll`` drains without blocking."""

from __future__ import annotations

import queue
import sys
import threading
import time
from typing import BinaryIO

from exporter.sources.base import BLOCK_SIZE, MAX_BYTES_PER_POLL, Checkpoint, Clock
from exporter.sources.decoder import RecordDecoder
from exporter.sources.record import Record, RecordBlock, SourceStats


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

    def checkpoint(self) -> Checkpoint | None:
        """None: a pipe cannot be read again from an offset; a restart reads what arrives from then on."""
        return None

    def resume(self, checkpoint: Checkpoint) -> bool:
        return False

    def poll(self) -> list[Record | RecordBlock]:
        """Records completed by the input that arrived since the last poll (up to the poll's byte budget)."""
        out: list[Record | RecordBlock] = []
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
                out += self._decoder.feed_blocks(item, now)
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
