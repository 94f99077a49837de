"""JSON lines: one JSON object of metrics per record, as trainers that keep their metrics machine-readable write them.

- a hand-written loop's ``print(json.dumps({"step": 100, "loss": 2.31, "lr": 3e-4, "step_time": 0.25}))``, also
  after a logging prefix (``2026-12-01 14:03:07,123 - INFO - {"step": …}``);
- mmengine's ``vis_data/<timestamp>.json`` (open-mmlab/mmengine at 25434293, ``LocalVisBackend.add_scalars``):
  ``{"lr": 0.01, "data_time": 0.0008, "loss": 0.66, "time": 0.0017, "epoch": 1, "iter": 10, "step": 10}``, and
  after each validation ``{"accuracy": 0.85, "data_time": …, "time": …, "step": 100}`` (``step`` is the epoch there
  in an epoch-based run);
- detectron2's ``metrics.json`` (facebookresearch/detectron2 at 02b5c4e2, ``JSONWriter.write``, keys sorted):
  ``{"data_time": 0.0084, "iteration": 19, "loss_box_reg": 0.05, …, "lr": 0.0072, "time": 0.254, "total_loss":
  1.92}``, and evaluation results at an iteration without a loss (``{"bbox/AP": 3.4, …, "iteration": 4999}``);
- fairseq's ``--log-format json`` (facebookresearch/fairseq at 3d262bb2, ``JsonProgressBar``): ``| INFO |
  train_inner | {"epoch": 1, "update": 0.062, "loss": "12.975", …, "ups": "6.43", …, "num_updates": "100", …}``,
  numbers as strings, ``valid_`` keys for a validation, ``train_`` keys at an epoch's end.

The position is the first of ``num_updates``, ``global_step``, ``iteration``, ``iter``, ``step``, ``_step`` (W&B's)
that the record holds as a whole number; keys are matched by their last part (``train/global_step``; a rate's
last two, ``it/s``) without a ``train_`` prefix. A record is progress when it also holds a training metric (a loss
or a learning rate that is no evaluation's); a record with a position and only other metrics after training began (mmengine's and detectron2's
evaluation results, a ``val_loss`` at a step) is an evaluation at the last training position. A loop that logs
only epochs (``{"epoch": 3, "loss": 0.5, "val_loss": 0.6}``) counts epochs, until a record with a position comes.
The total is ``total_steps``, ``max_steps``, ``max_iters``, ``max_iter``, ``total_iters``, ``num_training_steps`` or
``max_update`` (on a progress record, or alone: a config echoed as JSON), ``eval_interval`` its evaluations' period.
Seconds per iteration: ``step_time``, ``iter_time``, ``time_per_step``, ``batch_time``, ``dt`` or ``time`` (``_ms``
names in milliseconds), or ``1 / ups``; a ``time`` above a day is a clock, not a step's time. ``data_time`` is the
data loader's share. Objects are flattened with ``/`` (``{"train": {"loss": 2.3}}`` holds ``train/loss``).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterator

from exporter.events import Config, Eval, Event, Progress
from exporter.formats._values import EVAL_KEY, SCAN_LIMIT, pick_loss
from exporter.formats.base import Parser

POSITION_KEYS = ("num_updates", "global_step", "iteration", "iter", "step", "_step")
TOTAL_KEYS = ("total_steps", "max_steps", "max_iters", "max_iter", "total_iters", "total_iterations", "num_training_steps",
              "max_update")
EPOCH_TOTAL_KEYS = ("epochs", "num_epochs", "max_epochs", "total_epochs", "num_train_epochs")
TIME_KEYS = ("step_time", "iter_time", "iteration_time", "time_per_step", "time_per_iter", "batch_time", "dt", "time")


def _fields(*keys: str) -> tuple[tuple[str, float], ...]:
    """Each name in seconds, then as ``_ms`` in milliseconds."""
    return tuple(field for key in keys for field in ((key, 1.0), (f"{key}_ms", 1e-3)))


TIME_FIELDS = _fields(*TIME_KEYS)
DATA_TIME_FIELDS = _fields("data_time")
EVAL_TIME_FIELDS = _fields("eval_time", "eval_runtime")
RATE_KEYS = ("ups", "steps_per_second", "it/s")
TOKEN_RATE_KEYS = ("tokens_per_second", "tokens_per_sec", "tok/s", "tokens/s", "wps")
CLOCK_SECONDS = 86400.0
"""A per-step ``time`` larger than a day is a timestamp or an elapsed clock."""
_DECODER = json.JSONDecoder()


class JsonLinesParser(Parser):
    """JSON metric records; keeps the last training position (for evaluations) and whether positions are steps."""

    name = "jsonl"

    def __init__(self) -> None:
        self._last: int | None = None
        self._stepped = False
        """A record with a position was seen: from then on a record of epochs alone is a summary."""
        self._epoch_base: int | None = None
        """1 when the first epoch logged is 0 (epoch e then ends e + 1 epochs), else 0."""

    def parse(self, text: str) -> list[Event]:
        values = _object(text)
        if values is None:
            return []
        train: dict[str, object] = {}
        evaluation: dict[str, object] = {}
        for key, value in values.items():
            name = _name(key)
            if name is None:
                evaluation[key] = value
            else:
                train[name] = value
        position = _first_whole(train, POSITION_KEYS)
        loss = pick_loss(_sorted_losses(train))
        trains = loss is not None or "lr" in train or "learning_rate" in train
        epoch = train.get("epoch")
        if position is None and trains and not self._stepped and isinstance(epoch, int) and not isinstance(epoch, bool):
            # A loop that logs once per epoch (an HF-style fractional ``epoch`` is no count of epochs).
            return [self._epoch(max(0, epoch), _first_whole(train, EPOCH_TOTAL_KEYS), loss)]
        config = Config(total_iterations=_first_whole(train, TOTAL_KEYS) or None,
                        eval_interval=_whole(train.get("eval_interval")) or None)
        if position is None and (config.total_iterations or config.eval_interval or not evaluation):
            return [config] if config.total_iterations or config.eval_interval else []  # a config echoed as JSON
        self._stepped = self._stepped or position is not None
        if position is None or not trains:  # results of an evaluation, at the last training position
            if self._last is None or sum(_number(value) is not None for value in values.values()) < 2:
                return []
            loss = pick_loss((_evaluated(key), str(value)) for key, value in evaluation.items())
            return [Eval(iteration=self._last, loss=loss, seconds=_seconds(evaluation, EVAL_TIME_FIELDS))]
        self._last = position
        return [Progress(position, total_iterations=config.total_iterations,
                         iteration_seconds=_step_seconds(train), data_seconds=_seconds(train, DATA_TIME_FIELDS), loss=loss,
                         tokens_per_second=_rate(train, TOKEN_RATE_KEYS))]

    def _epoch(self, epoch: int, total: int | None, loss: float | None) -> Progress:
        """The epochs done are the progress."""
        if self._epoch_base is None:
            self._epoch_base = 1 if epoch == 0 else 0
        self._last = epoch + self._epoch_base
        return Progress(self._last, total_iterations=total, loss=loss)


def _object(text: str) -> dict[str, object] | None:
    """The JSON object that ends ``text`` (after any prefix), flattened; None for anything else."""
    start = text.find("{")
    if start < 0 or '"' not in text or len(text) > SCAN_LIMIT:
        return None
    try:
        value, end = _DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or text[end:].strip():
        return None
    return dict(_flat(value, "")) if any(type(item) is dict for item in value.values()) else value


def _flat(value: dict[object, object], prefix: str) -> Iterator[tuple[str, object]]:
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            yield from _flat(item, name + "/")
        else:
            yield name, item


def _evaluated(key: str) -> str:
    """An evaluation's key as ``pick_loss`` reads a training one (``valid_loss``: ``loss``)."""
    return EVAL_KEY.sub("", key.lower().rsplit("/", 1)[-1], count=1)


@functools.lru_cache(maxsize=4096)
def _name(key: str) -> str | None:
    """A training key's name to match (its last part, lowercased, without ``train_``); None for an evaluation's."""
    lowered = key.lower()
    if lowered == "eval_interval":  # a setting, not an evaluation's result
        return lowered
    if EVAL_KEY.match(lowered) or any(part in ("val", "valid", "eval", "test") for part in lowered.split("/")):
        return None
    parts = lowered.rsplit("/", 2)
    name = "/".join(parts[-2:]) if parts[-1] == "s" and len(parts) > 1 else parts[-1]  # a rate: ``it/s``, ``tok/s``
    return name.removeprefix("train_")


def _number(value: object) -> float | None:
    """A JSON number or a number written as a string (fairseq); None for anything else (booleans included)."""
    if type(value) is float or type(value) is int:  # not a bool, which is an int too
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _whole(value: object) -> int | None:
    number = _number(value)
    if number is None or not math.isfinite(number) or number < 0 or number != int(number):
        return None
    return int(number)


def _first_whole(values: dict[str, object], keys: tuple[str, ...]) -> int | None:
    return next((whole for key in keys if key in values and (whole := _whole(values[key])) is not None), None)


def _positive(value: object) -> float | None:
    number = _number(value)
    return number if number is not None and math.isfinite(number) and number > 0 else None


def _seconds(values: dict[str, object], fields: tuple[tuple[str, float], ...]) -> float | None:
    """The first of ``fields`` (name, seconds per unit) the record holds, in seconds."""
    for key, unit in fields:
        if key in values and (amount := _positive(values[key])) is not None:
            seconds = amount * unit
            return seconds if seconds < CLOCK_SECONDS else None
    return None


def _step_seconds(values: dict[str, object]) -> float | None:
    seconds = _seconds(values, TIME_FIELDS)
    if seconds is not None:
        return seconds
    rate = _rate(values, RATE_KEYS)
    return None if rate is None else 1.0 / rate


def _rate(values: dict[str, object], keys: tuple[str, ...]) -> float | None:
    return next((rate for key in keys if key in values and (rate := _positive(values[key])) is not None), None)


def _sorted_losses(values: dict[str, object]) -> list[tuple[str, str]]:
    """Loss keys for ``pick_loss``, detectron2's ``total_loss`` first (its parts are ``loss_*`` keys)."""
    pairs = [(key, str(value)) for key, value in values.items() if "loss" in key and _number(value) is not None]
    return sorted(pairs, key=lambda pair: pair[0] != "total_loss")


PARSERS: tuple[type[Parser], ...] = (JsonLinesParser,)
