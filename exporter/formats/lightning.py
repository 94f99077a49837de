"""PLACEHOLDER: lightning parser (being written)."""

from exporter.events import Event
from exporter.formats.base import Parser


class LightningParser(Parser):
    name = "lightning"

    def parse(self, text: str) -> list[Event]:
        return []


PARSERS: tuple[type[Parser], ...] = (LightningParser,)
