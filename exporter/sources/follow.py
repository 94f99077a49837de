"""The source for a log spec: a path, a glob or ``-`` (stdin); see ``file``, ``glob`` and ``stdin`` for each."""

from __future__ import annotations

import time

from exporter.sources.base import Clock
from exporter.sources.file import FileFollower
from exporter.sources.glob import GlobFollower, is_glob
from exporter.sources.stdin import StdinSource


def open_source(spec: str, *, clock: Clock = time.time) -> FileFollower | GlobFollower | StdinSource:
    """The source for ``spec``: ``-`` is stdin, a spec with ``*?[`` a glob, anything else a path.

    A missing path or unmatched glob is not an error: it is polled until it appears (``files`` is 0 meanwhile).
    """
    if spec == "-":
        return StdinSource(clock=clock)
    if is_glob(spec):
        return GlobFollower(spec, clock=clock)
    return FileFollower(spec, clock=clock)
