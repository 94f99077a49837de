"""spaCy's training table, written from ``console_logger`` in spacy/training/loggers.py at commit f69c32f7a."""

from __future__ import annotations

import pytest

from exporter.events import Progress
from exporter.formats.spacy import SpacyParser

TABLE = [
    "ℹ Pipeline: ['tok2vec', 'ner']",
    "E    #       LOSS TOK2VEC  LOSS NER  ENTS_F  ENTS_P  ENTS_R  SCORE ",
    "---  ------  ------------  --------  ------  ------  ------  ------",
    "  0       0          0.00     49.67    0.00    0.00    0.00    0.00",
    "  0     200         34.21   2034.56   45.67   50.12   41.98    0.46",
    "  3    1200         60.12   1200.33   60.11   61.00   59.20    0.60",
    "✔ Saved pipeline to output directory",
]


def test_rows_after_the_header_are_steps_of_an_epoch() -> None:
    parser = SpacyParser()
    events = [e for line in TABLE for e in parser.parse(line)]
    assert all(isinstance(e, Progress) for e in events)
    assert [(e.iteration, e.epoch) for e in events] == [(0, 0), (200, 0), (1200, 3)]
    assert events[1].loss == pytest.approx(34.21)


def test_numbers_without_the_header_are_not_progress() -> None:
    parser = SpacyParser()
    assert parser.parse("  0     200         34.21   2034.56   45.67   50.12   41.98    0.46") == []
