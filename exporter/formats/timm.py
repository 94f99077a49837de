"""PLACEHOLDER: timm parser (being written)."""

from exporter.events import Event
from exporter.formats.base import Parser


class TimmParser(Parser):
    name = "timm"

    def parse(self, text: str) -> list[Event]:
        return []


PARSERS: tuple[type[Parser], ...] = (TimmParser,)
