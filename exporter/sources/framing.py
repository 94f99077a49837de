"""Incremental framing: a stream of byte chunks becomes records.

Records end at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (tqdm redraws its bar after a ``\\r`` and writes ``\\n`` only
when the bar closes). The hot path works per block, never per character: one ``rfind`` pair finds the last
terminator, ``bytes.splitlines`` (which knows exactly these three terminators) splits the complete part, the
ANSI regex runs only on blocks that contain an ESC byte, and the partial tail waits for the next chunk.
"""

from __future__ import annotations

import re
from typing import Any

from exporter.sources.record import SourceStats

__all__ = ["Framer", "MAX_RECORD_BYTES", "strip_ansi"]

MAX_RECORD_BYTES = 64 * 1024
"""Longest record kept, in bytes; the rest of a longer record is dropped and counted as oversized."""

# CSI (colours, cursor moves such as ESC[A / ESC[2K), OSC (titles, hyperlinks; ended by BEL or ESC\), and the
# short two- or three-byte escapes (ESC 7, ESC(B, ...). A lone trailing ESC goes too.
_ANSI = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b\r\n]*(?:\x07|\x1b\\)|[ -/]*[0-~]?)")


def strip_ansi(data: bytes) -> bytes:
    """Remove ANSI escape sequences from ``data`` (cheap when it holds no ESC byte)."""
    return _ANSI.sub(b"", data) if b"\x1b" in data else data


def _text(head: bytes) -> str:
    """ANSI-free complete records, decoded, each followed by ``\\n`` whatever its terminator (UTF-8 never hides
    ``\\n`` or ``\\r`` inside a multi-byte character, so normalizing after decoding is exact)."""
    text = head.decode("utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n") if b"\r" in head else text


class Framer:
    """Splits byte chunks into records; keeps the unterminated tail until a later chunk ends it.

    ``feed`` returns the records the chunk completed, decoded as UTF-8 (invalid bytes replaced) with ANSI
    escapes removed. With ``decode=False`` it returns raw ``bytes`` records (container envelopes are decoded by
    their own reader); with ``split_cr=False`` only ``\\n`` ends a record (CRI lines, whose messages may hold
    raw ``\\r``). A record longer than ``max_bytes`` keeps its first ``max_bytes`` bytes, the rest is dropped and
    ``stats.oversized_records`` counts it once.
    """

    __slots__ = ("_stats", "_max", "_decode", "_split_cr", "_pending", "_overflow", "_skip_lf")

    def __init__(
        self,
        *,
        stats: SourceStats | None = None,
        max_bytes: int = MAX_RECORD_BYTES,
        decode: bool = True,
        split_cr: bool = True,
    ) -> None:
        self._stats = stats if stats is not None else SourceStats()
        self._max = max_bytes
        self._decode = decode
        self._split_cr = split_cr
        self._pending = b""
        self._overflow = False
        # A chunk ended with \r: it ended a record, and a \n starting the next chunk belongs to it (\r\n).
        self._skip_lf = False

    @property
    def pending(self) -> bool:
        """Whether an unterminated record is being held."""
        return bool(self._pending) or self._overflow

    def reset(self) -> None:
        """Forget the held tail and terminator state (a new file starts)."""
        self._pending = b""
        self._overflow = False
        self._skip_lf = False

    def feed(self, data: bytes) -> list[Any]:
        """Records completed by ``data`` (``str``, or ``bytes`` with ``decode=False``), in order."""
        return self._records(*self._complete(data))

    def feed_text(self, data: bytes) -> str | list[str]:
        """``feed`` for a decoding framer, as one text where it can: the records completed by ``data``, each
        followed by ``\\n`` (``""`` for none); the list ``feed`` gives where a record was capped or an oversized one
        ended (rare)."""
        head, first = self._complete(data)
        if first is None and head:
            head = strip_ansi(head)
            if not self._may_cap(head):
                return _text(head)
        return self._records(head, first)

    def _records(self, head: bytes, first: bytes | None) -> list[Any]:
        """The records of ``head`` (complete ones), after the oversized held record ``first`` ended, if any."""
        records = self._split(head) if head else []
        if first is not None:
            records.insert(0, self._finish(first))
        return records

    def _may_cap(self, head: bytes) -> bool:
        """Whether a record of ``head`` may be over the cap: a record longer than ``max_bytes`` covers a whole
        aligned window of half that without a terminator (checked per window, never per record)."""
        limit = self._max
        if len(head) <= limit:
            return False
        window = max(1, limit // 2)
        for start in range(0, len(head) - window + 1, window):
            if head.find(b"\n", start, start + window) < 0 and head.find(b"\r", start, start + window) < 0:
                return True
        return False

    def _complete(self, data: bytes) -> tuple[bytes, bytes | None]:
        """The complete records ``data`` ends (with their terminators), and the held oversized record it ended
        (already at the cap), if any; the unterminated tail is held."""
        if self._skip_lf:
            self._skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
        if not data:
            return b"", None
        first = None
        if self._overflow:
            # The held record is already at the cap: drop everything up to its terminator.
            rest = self._skip_overflow(data)
            if rest is None:
                return b"", None
            data = rest
            first = self._pending
            self._stats.oversized_records += 1
            self._pending = b""
            self._overflow = False
        elif self._pending:
            data = self._pending + data
            self._pending = b""
        if self._split_cr:
            cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
        else:
            cut = data.rfind(b"\n") + 1
        if cut == 0:
            self._hold(data)
            head = b""
        elif cut == len(data):
            head = data
            self._skip_lf = self._split_cr and data[-1] == 13
        else:
            head = data[:cut]
            self._hold(data[cut:])
        return head, first

    def flush(self) -> Any:
        """The held unterminated record (``None`` if there is none); the framer is then empty."""
        if not self._pending and not self._overflow:
            self._skip_lf = False
            return None
        record = self._pending
        if self._overflow:
            self._stats.oversized_records += 1
        self.reset()
        return self._finish(record)

    def _finish(self, record: bytes) -> Any:
        return strip_ansi(record).decode("utf-8", "replace") if self._decode else record

    def _skip_overflow(self, data: bytes) -> bytes | None:
        """``data`` after the terminator of the oversized held record, or None if the record goes on."""
        lf = data.find(b"\n")
        cr = data.find(b"\r") if self._split_cr else -1
        if lf < 0 and cr < 0:
            return None
        end = lf if cr < 0 or 0 <= lf < cr else cr
        after = end + 1
        if end == cr:
            if after == len(data):
                self._skip_lf = True
            elif data[after] == 10:
                after += 1
        return data[after:]

    def _split(self, head: bytes) -> list[Any]:
        """Records of ``head``, which ends with a terminator: capped, ANSI-free, decoded."""
        limit = self._max
        if not self._decode:
            raw = head.splitlines() if self._split_cr else head[:-1].split(b"\n")
            if len(head) > limit and max(map(len, raw)) > limit:
                raw = self._cap(raw)
            return raw
        head = strip_ansi(head)
        # One decode per block, then str.split: far fewer objects than splitting bytes and decoding each line.
        lines = _text(head).split("\n")
        lines.pop()
        # A character is at most 4 bytes, so only a line over limit/4 characters can be over the byte limit.
        if len(head) > limit and max(map(len, lines)) > limit // 4:
            blines = self._cap(head.splitlines())
            lines = [line.decode("utf-8", "replace") for line in blines]
        return lines

    def _cap(self, lines: list[bytes]) -> list[bytes]:
        limit = self._max
        for i, line in enumerate(lines):
            if len(line) > limit:
                lines[i] = line[:limit]
                self._stats.oversized_records += 1
        return lines

    def _hold(self, data: bytes) -> None:
        """Append an unterminated piece to the held record, capping it."""
        if self._overflow:
            return
        held = self._pending + data if self._pending else data
        if len(held) > self._max:
            held = held[: self._max]
            self._overflow = True
        self._pending = held
