"""Trainer log formats: the family registry and per-file autodetection.

``FAMILIES`` lists every built-in parser class, specific shapes before generic ones (a plain tqdm bar also
appears inside Lightning and HF Trainer logs, so ``tqdm`` comes after them, and the ``generic`` fallback for any
step counter comes last). ``AutoParser`` feeds each record to every
candidate family, each with its own state, until one produces a Progress event; it then locks to that family
and releases the events that family produced while undecided, so a config echoed before the first progress line
(nanoGPT's ``max_iters``) is not lost; a generic family that yields progress first is confirmed only after a
short window in which the more specific families had their chance.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence

from exporter.events import Event, Progress
from exporter.formats import (
    boosting,
    composer,
    deepspeed,
    detectron2,
    fairseq,
    fastai,
    generic,
    hf_trainer,
    jsonlines,
    keras,
    lightning,
    litgpt,
    llamafactory,
    llmc,
    maxtext,
    megatron,
    metriclogger,
    mmengine,
    modded_nanogpt,
    nanochat,
    nanogpt,
    nanotron,
    nemo,
    nnunet,
    olmo,
    opennmt,
    paddle,
    sb3,
    skorch,
    spacy,
    timm,
    torchtitan,
    torchtune,
    tqdm_bars,
    ultralytics,
    yolox,
)
from exporter.formats.base import Parser
from exporter.formats.failures import FailureDetector

_MODULES = (
    nanogpt,
    llmc,
    modded_nanogpt,
    nanochat,
    megatron,
    torchtitan,
    litgpt,
    nemo,
    torchtune,
    maxtext,
    opennmt,
    paddle,
    nanotron,
    olmo,
    spacy,
    yolox,
    fastai,
    skorch,
    boosting,
    sb3,
    nnunet,
    fairseq,
    llamafactory,
    composer,
    ultralytics,
    mmengine,
    detectron2,
    metriclogger,
    timm,
    keras,
    lightning,
    hf_trainer,
    tqdm_bars,
    # After the bars: in a Trainer + DeepSpeed log the bar is the trainer's progress and ``step=`` the library's.
    deepspeed,
    # JSON metric records: after the bars, whose updates are finer and state the total.
    jsonlines,
    generic,
)

FAMILIES: tuple[type[Parser], ...] = tuple(cls for module in _MODULES for cls in module.PARSERS)
"""Every built-in family in autodetection order."""

BUFFER_LIMIT = 1000
"""Events kept per candidate family while undecided; the oldest are dropped beyond it."""

DECISION_WINDOW = 64
"""Records during which a more specific family may still take a file over from a generic one."""

DECISION_SECONDS = 10.0
"""Record time after which the window ends anyway (live following of a slow bar: a few records a minute)."""

QUIET_RECORDS = 200
"""Records without progress from the chosen family after which a fresh detection probes the file for another
trainer (a second program started later in the same file)."""

PROBE_RECORDS = 200
"""Records one probe looks at before it gives up; the next one starts after ``10 x QUIET_RECORDS`` more quiet
records, so a long quiet stretch costs about one in ten records parsed by every family, not all of them."""

GENERIC_FAMILIES = frozenset({"deepspeed", "hf_trainer", "tqdm_bars", "jsonl", "generic"})
"""Families whose lines other trainers' logs hold too: plain tqdm bars (sanity checks, downloads), DeepSpeed's engine
lines (Megatron-DeepSpeed prints them beside Megatron's own iteration lines, whose counter is the trainer's), JSON
metric records (a trainer that prints them may print its own lines too), and
the fallback for any step counter: they win only when no more specific family yields progress in the window."""


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

    The first family (in ``FAMILIES`` order) to yield a Progress event wins at once, unless it is one of the
    ``GENERIC_FAMILIES`` whose bars also appear in other trainers' logs (a bare ``Training: 0/?`` bar before
    Lightning's ``Epoch 0:`` bars): then the families before it keep parsing for ``window`` more records (or
    ``window_seconds`` of record time, when records have times), and the first of them to yield progress in that
    time wins instead; else the generic one does. Events are stamped here (record time, record index, family
    name) and buffered while undecided, so those released on deciding keep the time and index of their own
    record. A parser may set ``time`` (a timestamp inside its line) or ``format`` itself; only unset values are
    filled in.
    Call :meth:`finish` at the end of an input to decide on what was seen.
    """

    def __init__(
        self,
        factories: Sequence[Callable[[], Parser]] = FAMILIES,
        *,
        buffer_limit: int = BUFFER_LIMIT,
        window: int = DECISION_WINDOW,
        window_seconds: float = DECISION_SECONDS,
    ) -> None:
        self._factories = factories
        self._candidates = [factory() for factory in factories]
        self._buffers: list[deque[Event]] = [deque(maxlen=buffer_limit) for _ in self._candidates]
        self._chosen: Parser | None = self._candidates[0] if len(self._candidates) == 1 else None
        self._window = window
        self._tentative: int | None = None
        self._window_left = 0
        self._window_seconds = window_seconds
        self._window_start: float | None = None
        self.errors = 0
        """Records on which a parser raised (a bug: parsers must return [] for text they do not understand)."""
        self._quiet = 0
        self._probe: AutoParser | None = None
        self._probed = 0
        self._failures = FailureDetector()

    @property
    def name(self) -> str | None:
        """The family this input was recognised as (or the forced one); None while undecided."""
        return None if self._chosen is None else self._chosen.name

    def parse(self, text: str, *, time: float | None = None, record: int = 0) -> list[Event]:
        """Events for one record's text, stamped; on the record that decides the family, the buffered ones first.
        A traceback's last line is a ``Failure`` whatever the family (none decided yet included)."""
        failure = self._failures.feed(text)
        if failure is not None:
            failure.time, failure.record, failure.format = time, record, self.name or ""
            if self._chosen is None and self._tentative is not None:
                for buffer in self._buffers:  # after the progress still held back, whichever family wins
                    buffer.append(failure)
                return []
            return [failure]
        if self._chosen is not None:
            events = self._run(self._chosen, text, time, record)
            if any(isinstance(event, Progress) for event in events) or len(self._factories) == 1:
                self._quiet = 0
                return events
            return events + self._redetect(text, time, record)
        limit = len(self._candidates) if self._tentative is None else self._tentative + 1
        for index in range(limit):
            candidate = self._candidates[index]
            events = self._run(candidate, text, time, record)
            progress = index != self._tentative and any(isinstance(event, Progress) for event in events)
            if progress and (index == 0 or candidate.name not in GENERIC_FAMILIES):
                return self._decide(index, events)
            self._buffers[index].extend(events)
            if progress:
                # Families after it are more generic still and can no longer win; their work stops here.
                self._tentative, self._window_left, self._window_start = index, self._window, time
                break
        if self._tentative is not None:
            self._window_left -= 1
            started = self._window_start
            late = time is not None and started is not None and time - started >= self._window_seconds
            if self._window_left < 0 or late:
                return self._decide(self._tentative)
        return []

    def columns(self) -> re.Pattern[str] | None:
        """The chosen family's ``Parser.columns`` (None while undecided)."""
        chosen = self._chosen
        return None if chosen is None else chosen.columns()

    def column_values(self, iterations: list[str], seconds: list[str]) -> tuple[list[int], list[float]] | None:
        """The chosen family's ``Parser.column_iterations`` and ``Parser.column_seconds``; None when the lines are
        not columns after all."""
        assert self._chosen is not None, "columns are read only once a family is chosen"
        counts = self._chosen.column_iterations(iterations)
        return None if counts is None else (counts, self._chosen.column_seconds(seconds))

    def fast(self, text: str, *, time: float | None, record: int) -> Progress | None:
        """``parse`` for a plain progress line of the chosen family (``Parser.fast_progress``), stamped; None
        while undecided or for any other text (then ``parse`` reads it)."""
        chosen = self._chosen
        if chosen is None:
            return None
        try:
            event = chosen.fast_progress(text)
        except Exception:  # parse reads it again and counts the error if it is one
            return None
        if event is None:
            return None
        self._quiet = 0
        event.time = time
        event.format = chosen.name
        event.record = record
        return event

    def _redetect(self, text: str, time: float | None, record: int) -> list[Event]:
        """Probe a file whose family went quiet for another, specific trainer; switch to it when it makes progress.

        Only a specific family may take over (a generic one would read the chatter after a run as progress); the
        old family's progress ends where the new one's starts, so nothing is counted twice.
        """
        self._quiet += 1
        if self._quiet < QUIET_RECORDS:
            return []
        if self._probe is None:
            self._probe, self._probed = AutoParser(self._factories), 0
        probe = self._probe
        events = probe.parse(text, time=time, record=record)
        self._probed += 1
        found = probe.name
        if found is not None and found != self.name and found not in GENERIC_FAMILIES and events:
            self._chosen, self._candidates = probe._chosen, probe._candidates
            self._probe, self._quiet = None, 0
            return events
        if found is not None or self._probed >= PROBE_RECORDS:
            self._probe, self._quiet = None, -10 * QUIET_RECORDS
        return []

    def finish(self) -> list[Event]:
        """End of input: decide on a family that yielded progress but was still in its window, release its events."""
        if self._chosen is None and self._tentative is not None:
            return self._decide(self._tentative)
        return []

    def _decide(self, index: int, current: Sequence[Event] = ()) -> list[Event]:
        released = [*self._buffers[index], *current]
        self._chosen = self._candidates[index]
        self._candidates = [self._chosen]
        self._buffers = []
        self._tentative = None
        return released

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
