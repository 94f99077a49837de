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
    columns: ClassVar[re.Pattern[str] | None] = None
    """The plainest of ``fast_progress``'s lines, read as columns (``Pipeline.feed_many``): for text it matches,
    ``fast_progress`` returns a ``Progress`` whose only fields the estimator reads per line are the iteration
    (``int(group 1)``) and ``iteration_seconds`` (``float(group 2) / columns_divisor``), its loss finite, and leaves
    the parser's state as that line alone sets it (so only a run's last line need be read whole)."""
    columns_divisor: ClassVar[float] = 1.0

    def parse(self, text: str) -> list[Event]:
        raise NotImplementedError

    def fast_progress(self, text: str) -> Progress | None:
        """The family's plain progress line, read at C speed: exactly the event ``parse`` would return for
        ``text`` with every number already in ``events.checked``'s range (the pattern bounds its digits), and
        ``parse``'s state updated as it would be; None for any other text (``parse`` then reads it).

        The long logs a sidecar catches up on are millions of such lines; families without one return None.
        """
        return None
