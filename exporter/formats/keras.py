"""PLACEHOLDER: keras parser (being written)."""

from exporter.events import Event
from exporter.formats.base import Parser


class KerasParser(Parser):
    name = "keras"

    def parse(self, text: str) -> list[Event]:
        return []


PARSERS: tuple[type[Parser], ...] = (KerasParser,)
