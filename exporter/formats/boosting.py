"""Gradient boosting libraries' evaluation logs, one line per ``verbose`` rounds (and the last):

- XGBoost (``xgb.train(..., evals=..., verbose_eval=10)``; ``XGBClassifier.fit(..., eval_set=..., verbose=10)``):
  ``[10]\\ttrain-logloss:0.28545\\teval-logloss:0.33978`` (``validation_0-…`` from the sklearn API): the round's
  0-based index, so a line is progress to index + 1 rounds;
- LightGBM (``callbacks=[lgb.log_evaluation(10)]``): ``[10]\\ttraining's binary_logloss: 0.195\\tvalid_1's
  binary_logloss: 0.32``: rounds done, 1-based;
- CatBoost (``verbose=10``): ``10:\\tlearn: 0.4153791\\ttest: 0.4148312\\tbest: 0.4148312 (10)\\ttotal: 164ms\\t
  remaining: 4.32s``: 0-based, and the time since the start (``total``), so the pace between two lines is theirs.

The loss is the line's first metric (the first evaluation set's, CatBoost's ``learn``). None of them prints the
number of rounds (``num_boost_round``, ``n_estimators``, ``iterations``): pass ``--total-iterations N``.
Lines seen on real runs of xgboost 3, lightgbm 4 and catboost 1.2 (``benchmarks/corpus/boost_train.py``).
"""

from __future__ import annotations

import re

from exporter.events import Event, Progress
from exporter.formats._values import number, seconds_between
from exporter.formats.base import Parser

_XGBOOST = re.compile(r"\[(\d{1,12})\]\t[\w.\-]+-[^\s:]+:(\S+)(?:\t|$)")
_LIGHTGBM = re.compile(r"\[(\d{1,12})\]\t[\w.\-]+'s [^\s:]+: (\S+)(?:\t|$)")
_CATBOOST = re.compile(r"(\d{1,12}):\tlearn: (\S+)\t.*\btotal: ([^\t]+)\tremaining: [^\t]+$")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(d|h|ms|us|m|s)\b")
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6}


class BoostingParser(Parser):
    """XGBoost, LightGBM and CatBoost lines; keeps CatBoost's last (rounds, seconds since the start)."""

    name = "boosting"

    def __init__(self) -> None:
        self._clock: tuple[int, float] | None = None

    def parse(self, text: str) -> list[Event]:
        if text.startswith("["):
            match = _XGBOOST.match(text)
            if match is not None:
                return [Progress(int(match.group(1)) + 1, loss=number(match.group(2)))]
            match = _LIGHTGBM.match(text)
            return [] if match is None else [Progress(int(match.group(1)), loss=number(match.group(2)))]
        match = _CATBOOST.match(text) if ":\tlearn: " in text else None
        if match is None:
            return []
        rounds, elapsed = int(match.group(1)) + 1, _seconds(match.group(3))
        seconds = None
        if elapsed is not None:
            seconds, self._clock = seconds_between(self._clock, rounds, elapsed), (rounds, elapsed)
        return [Progress(rounds, loss=number(match.group(2)), iteration_seconds=seconds)]


def _seconds(text: str) -> float | None:
    """CatBoost's duration (``61.6ms``, ``3.12s``, ``1m 5s``, ``2h 3m 4s``) in seconds; None for any other text."""
    parts = _DURATION.findall(text)
    if not parts or "".join(value + unit for value, unit in parts) != text.replace(" ", ""):
        return None
    return sum(float(value) * _UNITS[unit] for value, unit in parts)


PARSERS: tuple[type[Parser], ...] = (BoostingParser,)
