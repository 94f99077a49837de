"""PLACEHOLDER: detectron2 parser (being written)."""

from exporter.events import Event
from exporter.formats.base import Parser


class Detectron2Parser(Parser):
    name = "detectron2"

    def parse(self, text: str) -> list[Event]:
        return []


PARSERS: tuple[type[Parser], ...] = (Detectron2Parser,)
