"""Bytes of one input become Records: envelope detection, framing, timestamp prefixes, numbering.

One :class:`RecordDecoder` serves one source (a path or stdin) for its whole life; :meth:`RecordDecoder.restart`
is called when a new file starts under it (rotation, truncation), which re-detects the envelope and forgets the
held partial record (after :meth:`RecordDecoder.flush` made it a record) while the record numbering continues.
"""

from __future__ import annotations

import re
from itertools import repeat
from operator import getitem

from exporter.sources.container import CRI, DETECT_BYTES, DOCKER, CriReader, DockerReader, detect
from exporter.sources.framing import Framer
from exporter.sources.record import Record, RecordBlock, SourceStats, records_of
from exporter.sources.timestamps import FIRST_CHARS, GLOG_STARTS, split_timestamp

__all__ = ["RecordDecoder"]

_FIRST_CHAR = slice(0, 1)
_FIRST_TWO = slice(0, 2)
_MAY_STAMP = re.compile(r"\n[ \t]*(?:\[?\d{4}-\d\d-\d\d[T ]|\d\d/\d\d/\d{4} |[IWEF]\d{4}(?:\d{4})? \d\d:)")
"""A record start where ``split_timestamp`` may find a timestamp (a superset of its shapes): such blocks are read
as records."""
_BLANKS = re.compile(r"\n\n+")
BLOCK_RECORDS = 64
"""Fewer plain records than this that complete at once come as ``Record`` objects (a block would save nothing)."""


class RecordDecoder:
    """Turns the successive chunks of one file into numbered :class:`Record` objects.

    The first :data:`~exporter.sources.container.DETECT_BYTES` bytes (or the first line) of each file decide its
    envelope: docker json-file, CRI, or plain output. A leading timestamp on a record becomes its time (a
    container time, being exact and zoned, wins over it) and is removed from its text; other records get the
    ``default_time`` passed to :meth:`feed`. Empty records (blank lines, the gap between a ``\\n`` and the
    ``\\r`` tqdm starts each bar with) carry nothing and are skipped.
    """

    def __init__(self, *, source: str, stats: SourceStats) -> None:
        self.source = source
        self.stats = stats
        self.index = 0
        """Number of records produced so far (the last record's 1-based index)."""
        self._head = b""
        self._plain: Framer | None = None
        self._envelope: DockerReader | CriReader | None = None

    @property
    def envelope(self) -> str | None:
        """``"plain"``, ``"docker"``, ``"cri"``, or None while the current file is too short to tell."""
        if self._envelope is not None:
            return DOCKER if isinstance(self._envelope, DockerReader) else CRI
        return "plain" if self._plain is not None else None

    def restart(self) -> None:
        """A new file starts: detect its envelope again. Call :meth:`flush` first to keep the held record."""
        self._head = b""
        self._plain = None
        self._envelope = None

    def feed(self, data: bytes, default_time: float | None) -> list[Record]:
        """Records completed by ``data``, the next chunk of the current file."""
        if b"\x00" in data:
            # A writer that does not append (``python train.py > train.log``) keeps its offset through a
            # copytruncate: the file regrows with a hole of NULs before its next line. NULs are never log text;
            # left in, they would make one oversized record that swallows that line.
            data = data.replace(b"\x00", b"")
        plain = self._plain
        if plain is not None:
            return self._records(plain.feed(data), default_time)
        if self._envelope is not None:
            return self._stamped(self._envelope.feed(data), default_time)
        head = self._head + data
        if len(head) < DETECT_BYTES and b"\n" not in head and b"\r" not in head:
            self._head = head
            return []
        self._choose(head)
        return self.feed(head, default_time)

    def feed_blocks(self, data: bytes, default_time: float | None) -> list[Record | RecordBlock]:
        """``feed``, with many plain records completed at once as one ``RecordBlock`` (the same records)."""
        plain = self._plain
        if plain is None or b"\x00" in data:
            return [*self.feed(data, default_time)]
        got = plain.feed_text(data)
        if isinstance(got, list):
            return [*self._records(got, default_time)]
        if "\n\n" in got or got[:1] == "\n":
            got = _BLANKS.sub("\n", got).lstrip("\n")  # empty records carry nothing (``_records``)
        count = got.count("\n")
        text = "\n" + got[:-1]
        if count < BLOCK_RECORDS or _MAY_STAMP.search(text) is not None:
            return [*self._records(got.split("\n")[:-1], default_time)] if count else []
        first = self.index + 1
        self.index += count
        self.stats.records += count
        return [RecordBlock(text, default_time, first, count, self.source)]

    def flush(self, default_time: float | None) -> list[Record]:
        """The held unterminated record(s) of the current file, as records (end of file or input)."""
        out: list[Record] = []
        if self._plain is None and self._envelope is None:
            if not self._head:
                return out
            head = self._head
            self._choose(head)
            out = self.feed(head, default_time)
        if self._plain is not None:
            text = self._plain.flush()
            if text is not None:
                out += self._records([text], default_time)
        elif self._envelope is not None:
            out += self._stamped(self._envelope.flush(), default_time)
        return out

    def _choose(self, head: bytes) -> None:
        self._head = b""
        kind = detect(head)
        if kind == DOCKER:
            self._envelope = DockerReader(stats=self.stats)
        elif kind == CRI:
            self._envelope = CriReader(stats=self.stats)
        else:
            self._plain = Framer(stats=self.stats)

    def _records(self, texts: list[str], default_time: float | None) -> list[Record]:
        """Hot path: plain records. Blocks where no record can start with a timestamp skip the per-record loop."""
        if "" in texts:
            texts = list(filter(None, texts))
        index = self.index
        source = self.source
        self.index = index + len(texts)
        self.stats.records += len(texts)
        if FIRST_CHARS.isdisjoint(map(getitem, texts, repeat(_FIRST_CHAR))) and GLOG_STARTS.isdisjoint(
            map(getitem, texts, repeat(_FIRST_TWO))
        ):
            return records_of(texts, default_time, index + 1, source)
        out: list[Record] = []
        append = out.append
        for text in texts:
            index += 1
            if text[:1] in FIRST_CHARS or text[:2] in GLOG_STARTS:
                when, rest = split_timestamp(text)
                if when is not None:
                    append(Record(rest, when, index, source))
                    continue
            append(Record(text, default_time, index, source))
        return out

    def _stamped(self, pairs: list[tuple[float | None, str]], default_time: float | None) -> list[Record]:
        index = self.index
        source = self.source
        out = []
        for when, text in pairs:
            if not text:
                continue
            index += 1
            prefix_time, rest = split_timestamp(text)
            if prefix_time is not None:
                text = rest
                if when is None:
                    when = prefix_time
            out.append(Record(text, default_time if when is None else when, index, source))
        self.index = index
        self.stats.records += len(out)
        return out
