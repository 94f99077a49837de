"""Records in, typed events out: prefix stripping, per-file format detection (or a forced format), stamping.

``Pipeline.feed(record)`` is the one entry point the sidecar, ``parse``, ``report`` and ``replay`` share, so every
command understands a log the same way; ``feed_many(records)`` is the same for many records, with a decided
family's plain progress lines as columns. ``read_events(path)`` runs a whole file through a fresh pipeline.
"""

from __future__ import annotations

import functools
import os
import re
from bisect import bisect_left
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from itertools import compress
from operator import itemgetter
from pathlib import Path

from exporter.events import Event, ProgressColumns, checked, valid_time
from exporter.formats import FAMILIES, AutoParser, family_names, get_parser
from exporter.formats.base import Parser
from exporter.formats.custom import CustomParser, load_custom_formats
from exporter.formats.prefixes import strip_prefixes
from exporter.sources import Record, RecordBlock, SourceStats, read_records
from exporter.sources.record import records_of


def resolve_format(format: str | None) -> Sequence[Callable[[], Parser]]:
    """Parser factories for ``--format``: None = autodetect among all families, a family name, or a YAML path.

    Raises ValueError (CustomFormatError for a bad YAML file) with a one-line message.
    """
    if format is None or format == "auto":
        return FAMILIES
    if format in family_names():
        return (get_parser(format),)
    if format.endswith((".yaml", ".yml")) or os.sep in format or os.path.exists(format):
        formats = load_custom_formats(format)
        return (functools.partial(CustomParser, formats),)
    raise ValueError(
        f"unknown format {format!r}: give one of {', '.join(family_names())}, or a YAML file of custom formats"
    )


COLUMN_LINES = 4096
"""Lines one ``ProgressColumns`` holds at most: what reading a long log keeps in memory at once stays bounded."""

Fed = tuple[Record, list[Event]] | ProgressColumns
"""What ``Pipeline.feed_many`` gives: a record with the events it yielded, or a run of progress lines as columns."""


@functools.lru_cache(maxsize=64)
def _in_block(columns: re.Pattern[str]) -> re.Pattern[str]:
    """``columns`` over a ``RecordBlock``'s text: every record, as (the record if ``columns`` matches it, its
    groups, the record if not). ``\\Z`` (a record's end) becomes the end of a line; a match that runs into the
    next record (``\\s``, a negated class) shows as fewer records found than the text holds."""
    body = columns.pattern.replace(r"\Z", r"(?![^\n])")
    return re.compile(rf"\n(?:((?:{body})[^\n]*)|([^\n]*))", columns.flags)


class Pipeline:
    """Turns records into stamped events, with one detector per source file, and counts what it understood."""

    def __init__(self, *, format: str | None = None, parsers: Sequence[Callable[[], Parser]] | None = None) -> None:
        """``format`` as ``resolve_format`` reads it, or ``parsers`` already resolved (a glob's files share one
        resolution: a custom-format file is read once, not once per file)."""
        self._factories = parsers if parsers is not None else resolve_format(format)
        self._parsers: dict[tuple[str, int | None], AutoParser] = {}
        """One detector per (source, rank): interleaved ranks each have their own multi-line state."""
        self._last_counted: tuple[str, int] | None = None
        self.records = 0
        """Records fed."""
        self.parsed = 0
        """Records that produced at least one event (counted when the event is released)."""
        self.rejected = 0
        """Events dropped because a counter was out of any meaningful range (``events.checked``)."""

    @property
    def unparsed(self) -> int:
        """Records that produced no event (so far: an undecided file's records count here until it decides)."""
        return self.records - self.parsed

    @property
    def format(self) -> str | None:
        """The detected (or forced) family of the first source that has one; None while undecided."""
        for parser in self._parsers.values():
            if parser.name is not None:
                return parser.name
        return None

    @property
    def formats(self) -> dict[str, str | None]:
        """Detected family per source path."""
        formats: dict[str, str | None] = {}
        for (source, _), parser in self._parsers.items():
            if formats.get(source) is None:
                formats[source] = parser.name
        return formats

    @property
    def parser_errors(self) -> int:
        """Records on which a parser raised (each counted as unparsed); should stay 0."""
        return sum(parser.errors for parser in self._parsers.values())

    def feed(self, record: Record) -> list[Event]:
        """The events one record yields, stamped with time (tag timestamp, else record time), index and family."""
        self.records += 1
        source = record.source
        text = record.text
        if "#0" not in text and text.lstrip(" ")[:1] != "[":
            # No launcher tag and no syslog escape can be in it: ``strip_prefixes`` would return it whole.
            parser = self._parser(source, None)
            fast = parser.fast(text, time=valid_time(record.time), record=record.index)
            if fast is not None:
                self._count(source, (fast,))
                return [fast]
            events = parser.parse(text, time=record.time, record=record.index)
        else:
            stripped = strip_prefixes(text)
            time = stripped.time if stripped.time is not None else record.time
            parser = self._parser(source, stripped.rank)
            events = []
            for part in stripped.parts:
                events.extend(parser.parse(part, time=time, record=record.index))
            if stripped.rank is not None:
                for event in events:
                    event.rank = stripped.rank
        if events:
            events = self._checked(events)
            self._count(source, events)
        return events

    def feed_many(self, records: Iterable[Record | RecordBlock]) -> Iterator[Fed]:
        """``feed`` for each record in order, as (record, its events) when it has any, except that the plain
        progress lines that follow a line of the same source read whole come as one ``ProgressColumns`` when its
        family reads them as columns (``Parser.columns``): the same lines, counted the same, without an event
        object each (most of a long log's catch-up is such lines). A ``RecordBlock`` is its records, its column
        lines found with one pattern over its text (``_block``)."""
        batch: list[Record] = []
        iterations: list[str] = []
        seconds: list[str] = []
        columns: re.Pattern[str] | None = None
        source = ""
        for record in records:
            if isinstance(record, RecordBlock):
                if batch:
                    yield from self._batch(batch, iterations, seconds)
                    batch, iterations, seconds = [], [], []
                columns = yield from self._block(record, columns if record.source == source else None)
                source = record.source
                continue
            text = record.text
            if columns is not None:
                found = columns.match(text)
                if found is not None and record.source == source and "#0" not in text:
                    batch.append(record)
                    iterations.append(found[1])
                    seconds.append(found[2])
                    if len(batch) < COLUMN_LINES:
                        continue
                    yield from self._batch(batch, iterations, seconds)
                    batch, iterations, seconds = [], [], []
                    columns = self._columns_after(source)  # the run goes on after its last line, read whole
                    continue
                if batch:
                    yield from self._batch(batch, iterations, seconds)
                    batch, iterations, seconds = [], [], []
            events = self.feed(record)
            if events:
                yield record, events
            source = record.source
            columns = self._columns_after(source)
        if batch:
            yield from self._batch(batch, iterations, seconds)

    def _block(
        self, block: RecordBlock, columns: re.Pattern[str] | None
    ) -> Generator[Fed, None, re.Pattern[str] | None]:
        """``feed_many`` of a block's records, given the column lines that may come first; returns those that may
        come after it. One ``findall`` over the text gives every record, and the groups of those the column
        pattern matches (``_in_block``); runs of column lines become ``ProgressColumns``, the records between them
        are read whole, and a column pattern that changes there is looked for again from that record."""
        source, time, text = block.source, block.time, block.text
        if "#0" in text:  # a launcher tag may open any record: read them one by one
            yield from self.feed_many(block.records())
            return self._columns_after(source)
        pattern: re.Pattern[str] | None = None
        found: list[tuple[str, ...]] = []  # from ``pos`` on, as ``pattern`` finds them; ``k`` of them read
        lines: list[str] = []
        others: list[int] = []
        pos, index, k = 0, block.first, 0
        while (k < len(found)) if found else (pos < len(text)):
            if columns is not None and columns != pattern:
                if found:  # where the records not read yet start
                    pos += sum(map(len, lines[:k])) + sum(map(len, map(itemgetter(-1), found[:k]))) + k
                pattern = columns
                found = _in_block(pattern).findall(text, pos)
                left = block.count - (index - block.first)
                if len(found) != left:  # a match ran past its record's end
                    rest = RecordBlock(text[pos:], time, index, left, source)
                    yield from self.feed_many(rest.records())
                    return self._columns_after(source)
                lines = list(map(itemgetter(0), found))
                others = list(compress(range(len(found)), map(itemgetter(-1), found)))
                k = 0
            if columns is not None and lines[k]:  # a run of column lines, up to the next other record
                after = bisect_left(others, k)
                stop = min(k + COLUMN_LINES, others[after] if after < len(others) else len(found))
                run = found[k:stop]
                yield from self._columns(
                    Record(lines[stop - 1], time, index + stop - k - 1, source),
                    list(map(itemgetter(1), run)),
                    list(map(itemgetter(2), run)),
                    None if time is None else [valid_time(time)] * (stop - k),
                    functools.partial(records_of, lines[k:stop], time, index, source),
                )
                index += stop - k
                k = stop
            else:
                if found:
                    line = lines[k] or found[k][-1]
                    k += 1
                else:  # no column pattern yet: find the record's end
                    end = text.find("\n", pos + 1)
                    line = text[pos + 1 : len(text) if end < 0 else end]
                    pos += len(line) + 1
                record = Record(line, time, index, source)
                events = self.feed(record)
                if events:
                    yield record, events
                index += 1
            columns = self._columns_after(source)
        return columns

    def _columns_after(self, source: str) -> re.Pattern[str] | None:
        """The column lines that may come next in ``source`` (``Parser.columns`` of its plain records' parser)."""
        parser = self._parsers.get((source, None))
        return None if parser is None else parser.columns()

    def _batch(self, batch: list[Record], iterations: list[str], seconds: list[str]) -> Iterator[Fed]:
        """``_columns`` of a run of column records."""
        times = [record.time for record in batch]
        stamped = None if times.count(None) == len(times) else [valid_time(time) for time in times]
        return self._columns(batch[-1], iterations, seconds, stamped, lambda: batch)

    def _columns(
        self,
        last: Record,
        iterations: list[str],
        seconds: list[str],
        times: list[float | None] | None,
        records: Callable[[], list[Record]],
    ) -> Iterator[Fed]:
        """One run of column lines (groups 1 and 2 of their pattern, ``times`` already ``valid_time``) as
        ``ProgressColumns``, its ``last`` line read whole (the parser's state is then as that line sets it)."""
        parser = self._parsers[(last.source, None)]
        values = parser.column_values(iterations, seconds)
        event = None if values is None else parser.fast(last.text, time=valid_time(last.time), record=last.index)
        if values is None or event is None:  # not lines of the family's columns after all: read each whole
            for record in records():
                events = self.feed(record)
                if events:
                    yield record, events
            return
        self.records += len(iterations)
        self.parsed += len(iterations)
        self._last_counted = (last.source, last.index)
        yield ProgressColumns(*values, times, event)

    def _parser(self, source: str, rank: int | None) -> AutoParser:
        parser = self._parsers.get((source, rank))
        if parser is None:
            parser = self._parsers[(source, rank)] = AutoParser(self._factories)
        return parser

    def finish(self) -> list[Event]:
        """End of input: the events of sources still deciding between a generic and a more specific family."""
        events: list[Event] = []
        for (source, rank), parser in self._parsers.items():
            released = self._checked(parser.finish())
            for event in released:
                event.rank = rank
            self._count(source, released)
            events.extend(released)
        return events

    def _checked(self, events: list[Event]) -> list[Event]:
        kept = [e for e in map(checked, events) if e is not None]
        self.rejected += len(events) - len(kept)
        return kept

    def _count(self, source: str, events: Sequence[Event]) -> None:
        # Released events belong to earlier records; each record counts once, when its first event appears.
        last = self._last_counted
        for event in events:
            if last is None or event.record != last[1] or source != last[0]:
                last = (source, event.record)
                self.parsed += 1
        self._last_counted = last

    def read(self, path: str | Path, *, stats: SourceStats | None = None) -> Iterator[Event]:
        """Feed every record of a file (``-``: stdin), from its start to its current end, and yield the events.

        Records are framed exactly as the follower frames them (``exporter.sources.read_records``); reading
        counters go to ``stats`` if given. Raises OSError for a file that cannot be opened or read.
        """
        for record in read_records(str(path), stats=stats):
            yield from self.feed(record)
        yield from self.finish()


def read_events(path: str | Path, *, format: str | None = None) -> list[Event]:
    """All events of a log file read from its start; raises OSError for an unreadable file, ValueError for a bad
    format."""
    return list(Pipeline(format=format).read(path))
