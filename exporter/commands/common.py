"""What the one-log commands (``report``, ``replay``, ``watch``) share: their options, the check that the log can
be read, and the events of one stream of the log."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from pathlib import Path

from exporter.events import Config, Event, Progress, ProgressColumns, for_rank
from exporter.pipeline import Fed, Pipeline
from exporter.sources import Record, RecordBlock


def add_log_options(parser: argparse.ArgumentParser) -> None:
    """The log and how to read it."""
    parser.add_argument("log", metavar="LOG", help="training log file ('.tslog': unix_time<TAB>record per line)")
    parser.add_argument(
        "--total-iterations",
        type=positive_int,
        metavar="N",
        default=None,
        help="total iterations of the run (wins over what the log says)",
    )
    parser.add_argument(
        "--total-epochs",
        type=positive_int,
        metavar="N",
        default=None,
        help="total epochs of the run, for logs that count iterations per epoch without printing the epochs",
    )
    parser.add_argument(
        "--format",
        metavar="F",
        default=None,
        help="force a format family (default: detect) or give a YAML file of custom formats",
    )


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def open_error(command: str, path: str) -> str | None:
    """A one-line reason the log cannot be read, or None."""
    if path == "-":
        return None
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        return f"training-eta-exporter {command}: cannot read {path}: {error.strerror or error}"
    if Path(path).is_dir():
        return f"training-eta-exporter {command}: cannot read {path}: is a directory"
    return None


class FirstRank:
    """Keeps one stream of a log whose launcher tags ranks (``[rank3]:``): untagged events, every rank's Config
    (the ranks of a job share it, whichever prints it) and the other events of the first rank that makes progress.
    The commands show one run; ``serve`` follows every rank (``RunState.ranks``)."""

    def __init__(self) -> None:
        self.rank: int | None = None

    def admitted(self, event: Event) -> Event | None:
        """The event as the followed rank sees it, or None when it is another rank's."""
        if event.rank is None:
            return event
        if isinstance(event, Config):
            return for_rank(event, self.rank)
        if self.rank is None and isinstance(event, Progress):
            self.rank = event.rank
        return event if event.rank == self.rank else None

    def items(self, fed: Iterable[Fed]) -> Iterator[Event | ProgressColumns]:
        """What ``Pipeline.feed_many`` gave, as the followed rank sees it (columns have no rank: kept)."""
        for item in fed:
            if isinstance(item, ProgressColumns):
                yield item
            else:
                yield from self.kept(item[1])

    def kept(self, events: Iterable[Event]) -> Iterator[Event]:
        """``events`` as the followed rank sees them, the other ranks' left out."""
        for event in events:
            admitted = self.admitted(event)
            if admitted is not None:
                yield admitted


def log_events(records: Iterable[Record], pipeline: Pipeline) -> Iterator[Event]:
    """The events of ``records`` in order, then those the pipeline still holds at the end of input; one rank."""
    ranks = FirstRank()
    for record in records:
        yield from ranks.kept(pipeline.feed(record))
    yield from ranks.kept(pipeline.finish())


def log_items(records: Iterable[Record | RecordBlock], pipeline: Pipeline) -> Iterator[Event | ProgressColumns]:
    """``log_events`` for a reader that needs no event per line (an estimator): plain progress lines come as
    columns (``Pipeline.feed_many``; they have no rank, so the followed rank keeps them)."""
    ranks = FirstRank()
    yield from ranks.items(pipeline.feed_many(records))
    yield from ranks.kept(pipeline.finish())
