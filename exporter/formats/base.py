"""What every format family implements."""

from __future__ import annotations

import re
from typing import ClassVar

from exporter.events import Event, Progress


class Parser:
    """Turns one record's text (prefixes already stripped) into events.

    One instance per input file, so a parser may keep state across records (an echoed config block, the
    current epoch of a Keras run, a dict line glued to a bar). ``parse`` must never raise on any input:
    it returns ``[]`` for text it does not understand.
    """

    name: ClassVar[str] = ""

    def parse(self, text: str) -> list[Event]:
        raise NotImplementedError

    def fast_progress(self, text: str) -> Progress | None:
        """The family's plain progress line, read at C speed: exactly the event ``parse`` would return for
        ``text`` with every number already in ``events.checked``'s range (the pattern bounds its digits), and
        ``parse``'s state updated as it would be; None for any other text (``parse`` then reads it).

        The long logs a sidecar catches up on are millions of such lines; families without one return None.
        """
        return None

    def columns(self) -> re.Pattern[str] | None:
        """The plainest of ``fast_progress``'s lines that may come next, given the state now, read as columns
        (``Pipeline.feed_many``); None when none may. For text it matches, ``fast_progress`` would return a
        ``Progress`` whose only fields the estimator reads per line are the iteration (``column_iterations`` of
        group 1), the seconds (``column_seconds`` of group 2) and the total of the line before, its loss finite
        or None, and would leave the parser's state as that line alone sets it: only the last line of a run need
        be read whole. The pattern is also run over many records at once (``RecordBlock``): it ends a record with
        ``\\Z``, never ``$``, and holds no inline flags.
        """
        return None

    def column_iterations(self, texts: list[str]) -> list[int] | None:
        """The iterations counted from the run's start (``Progress.global_iteration``) of the lines whose group 1
        of ``columns()`` is ``texts``, read before the last of them; None when such lines would change the parser's
        state in between (they are then read one by one)."""
        return list(map(int, texts))

    def column_seconds(self, texts: list[str]) -> list[float]:
        """``iteration_seconds`` of the lines whose group 2 of ``columns()`` is ``texts``, as ``fast_progress``
        computes them."""
        raise NotImplementedError
