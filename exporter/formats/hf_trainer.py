"""PLACEHOLDER: hf_trainer parser (being written)."""

from exporter.events import Event
from exporter.formats.base import Parser


class Hf_trainerParser(Parser):
    name = "hf_trainer"

    def parse(self, text: str) -> list[Event]:
        return []


PARSERS: tuple[type[Parser], ...] = (Hf_trainerParser,)
