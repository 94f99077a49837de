"""What every format family implements."""

from __future__ import annotations

from typing import ClassVar

from exporter.events import Event


class Parser:
    """Turns one record's text (prefixes already stripped) into events.

    One instance per input file, so a parser may keep state across records (an echoed config block, the
    current epoch of a Keras run, a dict line glued to a bar). ``parse`` must never raise on any input:
    it returns ``[]`` for text it does not understand.
    """

    name: ClassVar[str] = ""

    def parse(self, text: str) -> list[Event]:
        raise NotImplementedError
