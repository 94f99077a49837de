"""PLACEHOLDER: metriclogger parser (being written)."""

from exporter.events import Event
from exporter.formats.base import Parser


class MetricloggerParser(Parser):
    name = "metriclogger"

    def parse(self, text: str) -> list[Event]:
        return []


PARSERS: tuple[type[Parser], ...] = (MetricloggerParser,)
