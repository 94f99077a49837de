"""PLACEHOLDER: mmengine parser (being written)."""

from exporter.events import Event
from exporter.formats.base import Parser


class MmengineParser(Parser):
    name = "mmengine"

    def parse(self, text: str) -> list[Event]:
        return []


PARSERS: tuple[type[Parser], ...] = (MmengineParser,)
