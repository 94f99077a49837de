"""The fallback for trainers we have never seen: any line that prints a step counter in a common shape.

Shapes understood (case-insensitive), each only on a line that also prints a training metric (a loss, a
learning rate, a throughput or a time), so config dumps and summaries do not read as progress:

- a keyword and a counter: ``step 12``, ``Step 12/1000``, ``iter: 12``, ``iteration=12``, ``global_step=12``,
  ``train step 12``, ``update 12`` (``/total`` optional);
- a bracketed counter with a time: ``[ 22/290 02:50 < 38:04, 0.12 it/s, …]`` (the HF notebook bar).

tqdm bars (``12/290 [00:10<02:00, …]``) are the ``tqdm`` family's, which knows an eval bar from a training bar.
A line that names an evaluation (``val``, ``eval``, ``test``, ``sanity``, ``predict``) is never progress here.

The keyword must stand alone: ``max_steps=1000``, ``warmup_steps``, ``total steps 10`` or ``save every 500
steps`` are not progress. A counter that goes backwards by more than a little is another counter (an eval loop,
a second logger), not a restart, and is ignored; a restart to 0 or 1 is kept. Time per iteration comes from a
``time``/``step_time``/``dt`` field with a unit, or from a rate (``it/s``, ``s/it``); loss from ``loss``.
Precision matters more than recall: this family is generic (it never wins against a known family, see
``formats.GENERIC_FAMILIES``) and on every real log in the repository it yields no progress where a known
family applies (``tests/test_formats_generic.py``).
"""

from __future__ import annotations

import re

from exporter.events import Event, Progress
from exporter.formats._values import SCAN_LIMIT, finite, integer, number, pick_loss, step_seconds
from exporter.formats.base import Parser

_KEYWORD = re.compile(
    r"(?<![\w.\-/])(?P<key>global[ _]step|train(?:ing)?[ _]step|step|iteration|iter|it|update)"
    r"\s*(?:[:=#]\s*|\s+|(?=\[))\[?\s*(?P<n>\d{1,15})(?:\s*/\s*(?P<total>\d{1,15}))?\b(?!\s*(?:steps|%|\.\d))",
    re.IGNORECASE,
)
_NOT_PROGRESS = re.compile(r"(?:total|max|warmup|num|every|save|eval|log|steps?_per|per)[ _]*$", re.IGNORECASE)
_BRACKET = re.compile(r"\[\s*(?P<n>\d{1,15})\s*/\s*(?P<total>\d{1,15})\s+(?:\d+:\d\d|\d+(?:\.\d+)?\s*(?:s|ms)\b)")
_EVALUATION = re.compile(r"\b(?:val|valid|validation|eval|evaluat\w*|test(?:ing)?|sanity|predict\w*)\b", re.IGNORECASE)
_METRIC = re.compile(
    r"\b(?:loss|lr|learning[ _]rate|grad[ _]?norm|ppl|perplexity|acc(?:uracy)?|tok(?:ens)?(?:/s|_per_s\w*)|"
    r"it/s|s/it|samples?/s|time|timing|seconds|dt|elapsed)\b",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"\b(?:step[ _]?time|iter(?:ation)?[ _]?time|time[ _]per[ _](?:step|iter(?:ation)?)|time|dt|elapsed)"
    r"\s*(?:\(\w+\))?\s*[:=]?\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|us)\b",
    re.IGNORECASE,
)
_SECONDS = re.compile(
    r"(?:\bseconds|\bsec|timing in (?P<unit>s|ms))\s*[:=]\s*(?P<value>\d+(?:\.\d+)?)(?!\s*(?:ms|s|us)\b)", re.IGNORECASE
)
"""A time whose unit is in its name: MaxText's ``seconds: 2.1``, NeMo's ``train_step_timing in s: 0.52``."""
_RATE = re.compile(r"(?<![\d.])(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>it/s|s/it)\b")
"""The lookbehind starts a number only at its first digit: without it a 64 KiB run of digits is tried from every
position (quadratic: seconds per record)."""
_LOSS = re.compile(
    r"(?P<key>(?<![\w/])[\w/]*loss)\s*[:=]?\s*(?P<value>[-+]?(?:\d+(?:\.\d+)?(?:e[-+]?\d+)?|nan|inf))\b", re.IGNORECASE
)
BACKWARDS_SLACK = 1
"""A counter may repeat or step back by this much (a repeated bar update) before it reads as another counter."""


class GenericParser(Parser):
    """Step counters in common shapes, for logs of trainers no other family knows."""

    name = "generic"

    def __init__(self) -> None:
        self._last: int | None = None

    def parse(self, text: str) -> list[Event]:
        text = text[:SCAN_LIMIT]
        counter = self._counter(text)
        if counter is None:
            return []
        n, total = counter
        if self._last is not None and n < self._last - BACKWARDS_SLACK and n > 1:
            return []
        self._last = n
        return [Progress(n, total_iterations=total, iteration_seconds=self._seconds(text), loss=self._loss(text))]

    @staticmethod
    def _counter(text: str) -> tuple[int, int | None] | None:
        if _EVALUATION.search(text):
            return None  # an evaluation's counter or summary, not training progress
        m = _BRACKET.search(text)
        if m:
            n, total = integer(m.group("n")), integer(m.group("total"))
            if n is not None and total and n <= total:
                return n, total
        if not _METRIC.search(text):
            return None
        for m in _KEYWORD.finditer(text):
            if _NOT_PROGRESS.search(text[max(0, m.start() - 12) : m.start()]):
                continue
            if m.group("key").lower() == "it" and m.group("total") is None:
                continue  # a bare "it 12" is too ambiguous (it/s, "it" as a word)
            n = integer(m.group("n"))
            total = integer(m.group("total")) if m.group("total") else None
            if n is not None and (total is None or 0 < total and n <= total):
                return n, total
        return None

    @staticmethod
    def _seconds(text: str) -> float | None:
        m = _TIME.search(text)
        if m:
            return step_seconds(m.group("value"), m.group("unit"))
        named = _SECONDS.search(text)
        if named:
            return step_seconds(named.group("value"), named.group("unit") or "s")
        rate = _RATE.search(text)
        if rate:
            value = finite(number(rate.group("value")))
            if value:
                return 1.0 / value if rate.group("unit") == "it/s" else value
        return None

    @staticmethod
    def _loss(text: str) -> float | None:
        return pick_loss((m.group("key"), m.group("value")) for m in _LOSS.finditer(text))


PARSERS: tuple[type[Parser], ...] = (GenericParser,)
