"""Container log files: docker ``json-file`` and CRI (``/var/log/pods``) envelopes around the program's output.

Each envelope line carries a chunk of the program's output and the time the runtime received it. The chunks are
fed, in order, to an inner :class:`Framer`, so the usual record rules apply to the program's own bytes: a tqdm
``\\r`` inside a docker ``log`` field or a CRI message ends a record, a chunk without its final newline (docker
splits lines at 16 KiB, CRI marks such chunks ``P``) joins the next one. Every record gets the time of the
envelope line that completed it. A malformed envelope line is counted in ``stats.read_errors`` and skipped.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod

from exporter.sources.framing import MAX_RECORD_BYTES, Framer
from exporter.sources.record import SourceStats
from exporter.sources.timestamps import parse_rfc3339

__all__ = ["PLAIN", "DOCKER", "CRI", "detect", "DETECT_BYTES", "DockerReader", "CriReader"]

PLAIN = "plain"
DOCKER = "docker"
CRI = "cri"

DETECT_BYTES = 64
"""Bytes of a file's start (or its first line, if shorter) that decide its envelope."""

_DOCKER_START = re.compile(rb'\{\s*"(?:log|stream|time)"\s*:')
_CRI_LINE = re.compile(rb"(\d{4}-\d\d-\d\d[Tt]\S+) (stdout|stderr) ([A-Z](?::[A-Z])*)(?: |$)")


def detect(head: bytes) -> str:
    """The envelope of a file starting with ``head``: :data:`DOCKER`, :data:`CRI` or :data:`PLAIN`."""
    if _DOCKER_START.match(head):
        return DOCKER
    if _CRI_LINE.match(head):
        return CRI
    return PLAIN


class _EnvelopeReader(ABC):
    """Splits a container log into envelope lines and feeds each line's chunk of output to an inner framer."""

    def __init__(self, *, stats: SourceStats, line_bytes: int) -> None:
        self._stats = stats
        self._lines = Framer(stats=stats, decode=False, split_cr=False, max_bytes=line_bytes)
        self._inner = Framer(stats=stats)
        self._time: float | None = None

    def feed(self, data: bytes) -> list[tuple[float | None, str]]:
        """``(container_time, text)`` of the records ``data`` completed."""
        out: list[tuple[float | None, str]] = []
        for line in self._lines.feed(data):
            self._line(line, out)
        return out

    def flush(self) -> list[tuple[float | None, str]]:
        """Records still held: an unterminated last line, then the program's output that no line completed."""
        out: list[tuple[float | None, str]] = []
        line = self._lines.flush()
        if line is not None:
            self._line(line, out)
        text = self._inner.flush()
        if text is not None:
            out.append((self._time, text))
        return out

    def _line(self, line: bytes, out: list[tuple[float | None, str]]) -> None:
        unwrapped = self._unwrap(line)
        if unwrapped is None:
            return
        when, chunk = unwrapped
        if when is not None:
            self._time = when
        for text in self._inner.feed(chunk):
            out.append((when, text))

    @abstractmethod
    def _unwrap(self, line: bytes) -> tuple[float | None, bytes] | None:
        """The envelope time and the output chunk of ``line``; None (counted if malformed) to skip it."""


class DockerReader(_EnvelopeReader):
    """Unwraps docker ``json-file`` lines: ``{"log":"…\\n","stream":"stdout","time":"2026-…Z"}``."""

    def __init__(self, *, stats: SourceStats) -> None:
        super().__init__(stats=stats, line_bytes=4 * MAX_RECORD_BYTES)

    def _unwrap(self, line: bytes) -> tuple[float | None, bytes] | None:
        if not line.strip():
            return None
        try:
            obj = json.loads(line)
            log = obj["log"]
            stamp = obj.get("time")
            if not isinstance(log, str):
                raise TypeError("log is not a string")
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
            self._stats.read_errors += 1
            return None
        when = parse_rfc3339(stamp) if isinstance(stamp, str) else None
        return when, log.encode("utf-8", "surrogatepass")


class CriReader(_EnvelopeReader):
    """Unwraps CRI lines: ``2026-11-28T00:33:00.123456789Z stdout F message`` (``P`` = continued next line)."""

    def __init__(self, *, stats: SourceStats) -> None:
        super().__init__(stats=stats, line_bytes=MAX_RECORD_BYTES + 128)

    def _unwrap(self, line: bytes) -> tuple[float | None, bytes] | None:
        if not line:
            return None
        m = _CRI_LINE.match(line)
        when = parse_rfc3339(m.group(1).decode("ascii")) if m is not None else None
        if m is None or when is None:
            self._stats.read_errors += 1
            return None
        message = line[m.end():]
        if m.group(3)[:1] != b"P":
            message += b"\n"
        return when, message
