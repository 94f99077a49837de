"""PLACEHOLDER: tqdm_bars parser (being written)."""

from exporter.events import Event
from exporter.formats.base import Parser


class Tqdm_barsParser(Parser):
    name = "tqdm_bars"

    def parse(self, text: str) -> list[Event]:
        return []


PARSERS: tuple[type[Parser], ...] = (Tqdm_barsParser,)
