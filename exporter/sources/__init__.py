"""Following logs: files, globs, stdin and container log files become a stream of text records.

Public surface (used by the pipeline, the commands and the sidecar):

- ``Record``: one record's text (ANSI stripped, decoded, container envelope removed) and its time.
- ``open_source(spec, *, clock, live)``: a ``Source`` for a path, a glob or ``-`` (stdin).
- ``Source.poll() -> list[Record]``: everything complete that is new since the last call, never blocking.
- ``Source.stats``: ``SourceStats`` counters the exporter reports about itself.
"""

from exporter.sources.record import Record, SourceStats

__all__ = ["Record", "SourceStats"]
