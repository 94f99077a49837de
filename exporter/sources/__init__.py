"""Following logs: files, globs, stdin and container log files become a stream of text records.

Public surface (used by the pipeline, the commands and the sidecar):

- ``Record``: one record's text (ANSI stripped, decoded, container envelope removed) and its time.
- ``open_source(spec, *, clock)``: a ``Source`` for a path, a glob or ``-`` (stdin).
- ``Source.poll() -> list[Record | RecordBlock]``: everything complete that is new since the last call (many
  plain records completed at once as one ``RecordBlock``; ``expand`` makes them records), never blocking;
  ``Source.close()``, ``Source.files`` (files followed now, 0 while the log is missing), ``Source.name``.
- ``Source.stats``: ``SourceStats`` counters the exporter reports about itself.
- ``read_records(path)``: a whole file (or ``-``) read once as history; raises ``OSError`` if it cannot be opened;
  ``read_items(path)`` the same with long runs of plain records as ``RecordBlock`` (for ``Pipeline.feed_many``).
- ``split_timestamp(text)``: a leading timestamp as Unix seconds and the rest of the text.
"""

from exporter.sources.base import Source, modified_time
from exporter.sources.file import FileFollower
from exporter.sources.follow import open_source
from exporter.sources.framing import Framer
from exporter.sources.glob import GlobFollower
from exporter.sources.history import read_items, read_records
from exporter.sources.record import Record, RecordBlock, SourceStats, expand
from exporter.sources.stdin import StdinSource
from exporter.sources.timestamps import split_timestamp

__all__ = [
    "FileFollower",
    "Framer",
    "GlobFollower",
    "Record",
    "RecordBlock",
    "Source",
    "SourceStats",
    "StdinSource",
    "expand",
    "open_source",
    "modified_time",
    "read_items",
    "read_records",
    "split_timestamp",
]
