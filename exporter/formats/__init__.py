"""Trainer log formats: the family registry and per-file autodetection.

``FAMILIES`` lists every built-in parser class, specific shapes before generic ones (a plain tqdm bar also
appears inside Lightning and HF Trainer logs, so ``tqdm`` comes last). ``AutoParser`` feeds each record to every
candidate family, each with its own state, until one produces a Progress event; it then locks to that family
and releases the events that family produced while undecided, so a config echoed before the first progress line
(nanoGPT's ``max_iters``) is not lost.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from exporter.events import Event, Progress
from exporter.formats import (
    deepspeed,
    detectron2,
    hf_trainer,
    keras,
    lightning,
    llmc,
    megatron,
    metriclogger,
    mmengine,
    modded_nanogpt,
    nanochat,
    nanogpt,
    timm,
    torchtitan,
    tqdm_bars,
)
from exporter.formats.base import Parser

_MODULES = (
    nanogpt,
    llmc,
    modded_nanogpt,
    nanochat,
    megatron,
    deepspeed,
    torchtitan,
    mmengine,
    detectron2,
    metriclogger,
    timm,
    keras,
    lightning,
    hf_trainer,
    tqdm_bars,
)

FAMILIES: tuple[type[Parser], ...] = tuple(cls for module in _MODULES for cls in module.PARSERS)
"""Every built-in family in autodetection order."""

BUFFER_LIMIT = 1000
"""Events kept per candidate family while undecided; the oldest are dropped beyond it."""


def family_names() -> list[str]:
    """The built-in family names, in autodetection order."""
    return [cls.name for cls in FAMILIES]


def get_parser(name: str) -> type[Parser]:
    """The parser class of a family by name; KeyError with the known names otherwise."""
    for cls in FAMILIES:
        if cls.name == name:
            return cls
    raise KeyError(f"unknown format {name!r} (known: {', '.join(family_names())})")


class AutoParser:
    """Per-file family detection: every candidate parses until one yields a Progress event, then only it does.

    Events are stamped here (record time, record index, family name) so that those released on locking keep
    the time and index of the record they came from. A parser may set ``time`` (a timestamp inside its line) or
    ``format`` itself; only unset values are filled in.
    """

    def __init__(
        self,
        factories: Sequence[Callable[[], Parser]] = FAMILIES,
        *,
        buffer_limit: int = BUFFER_LIMIT,
    ) -> None:
        self._candidates = [factory() for factory in factories]
        self._buffers: list[deque[Event]] = [deque(maxlen=buffer_limit) for _ in self._candidates]
        self._chosen: Parser | None = self._candidates[0] if len(self._candidates) == 1 else None
        self.errors = 0
        """Records on which a parser raised (a bug: parsers must return [] for text they do not understand)."""

    @property
    def name(self) -> str | None:
        """The family this input was recognised as (or the forced one); None while undecided."""
        return None if self._chosen is None else self._chosen.name

    def parse(self, text: str, *, time: float | None = None, record: int = 0) -> list[Event]:
        """Events for one record's text, stamped; on the record that decides the family, the buffered ones first."""
        if self._chosen is not None:
            return self._run(self._chosen, text, time, record)
        for index, candidate in enumerate(self._candidates):
            events = self._run(candidate, text, time, record)
            if any(isinstance(event, Progress) for event in events):
                released = list(self._buffers[index])
                self._chosen = candidate
                self._candidates = [candidate]
                self._buffers = []
                return released + events
            self._buffers[index].extend(events)
        return []

    def _run(self, parser: Parser, text: str, time: float | None, record: int) -> list[Event]:
        try:
            events = parser.parse(text)
        except Exception:  # a parser bug on odd input must cost one record, never the follower
            self.errors += 1
            return []
        for event in events:
            if event.time is None:
                event.time = time
            if not event.format:
                event.format = parser.name
            event.record = record
        return events
