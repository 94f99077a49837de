"""Hugging Face ``Trainer``: its tqdm bars plus the metric dict lines and INFO lines it prints.

- Bars: the training bar counts optimizer steps of the whole run; evaluation bars are nested inside it and
  checkpoint shard bars (``Writing model shards``, transformers 5.x) appear at each save (see ``tqdm_bars``).
- Dict lines carry no step number, so they are paired with the training bar's latest iteration:
  ``{'loss': 2.119, 'grad_norm': 37.6, 'learning_rate': 4.58e-05, 'epoch': 0.25}`` (4.x numbers, ``nan``
  unquoted) or ``{'loss': '1.178', …}`` (5.x quoted strings), possibly glued after a bar in the same record.
  ``{'eval_loss': …}`` ends an evaluation; ``{'train_runtime': …}`` is the final summary. ms-swift's dicts add
  ``'global_step/max_steps': '110/1000'`` and ``'train_speed(iter/s)'``: then the dict gives the step itself.
- Dicts alone (``python train.py > train.log``: tqdm draws on stderr, its ``write`` of the dicts goes to stdout;
  or ``disable_tqdm=True``): the dict's ``'epoch'`` (``self.state.epoch``, a float, ``.4g`` in 5.x) is the only
  position printed, so progress is counted in thousandths of an epoch (``EPOCH_PARTS`` per epoch: the run's total
  is ``--total-epochs``); the closing summary's epoch is the run's end. A dict that prints its ``'step'`` is no
  Trainer's (a hand-written loop's ``print(metrics)``): it is at that step.
- INFO lines (only at INFO verbosity): ``Total optimization steps = 1,200`` and
  ``Saving model checkpoint to out/checkpoint-400``.
"""

from __future__ import annotations

import re

from exporter.events import Config, Eval, Event, Progress
from exporter.formats._values import SCAN_LIMIT, integer, number
from exporter.formats.base import Parser
from exporter.formats.tqdm_bars import BarTracker, match_bar, rate_seconds

_SWIFT_STEP = re.compile(r"'(\d+)/(\d+)'$")
_DICT_PAIR = re.compile(r"'([^'\\]{1,200})':\s*('[^']*'|[^,}]+)")
_TOTAL_STEPS = re.compile(r"Total optimization steps = ([\d,]+)")
_SAVING = re.compile(r"Saving model checkpoint to (\S+)\s*$")
_CHECKPOINT_STEP = re.compile(r"checkpoint-(\d+)")
EPOCH_PARTS = 1000
"""Progress units per epoch when only the dicts are in the log: finer than the epoch the dicts print (4 digits)."""


def _is_eval(pairs: dict[str, str]) -> bool:
    """An evaluation's dict: its metrics are ``eval_``-prefixed (``eval_loss``, ``eval_runtime``, …)."""
    return any(key.startswith("eval_") for key in pairs)


class HfTrainerParser(Parser):
    """Hugging Face Trainer logs (transformers 4.x and 5.x), including axolotl and TRL which use it."""

    name = "hf_trainer"

    def __init__(self) -> None:
        self.bars = BarTracker()

    def parse(self, text: str) -> list[Event]:
        out: list[Event] = []
        rest = text
        bar = match_bar(text) if "|" in text else None
        if bar is not None:
            out.extend(self.bars.events(bar))
            rest = text[bar.end :]
        brace = rest.find("{'")
        if brace >= 0:
            out.extend(self._dict(rest[brace:], out))
        elif "Total optimization steps" in rest:
            m = _TOTAL_STEPS.search(rest)
            total = integer(m.group(1)) if m else None
            if total is not None:
                self.bars.expected_total = total
                out.append(Config(total_iterations=total))
        elif "Saving model checkpoint to" in rest:
            m = _SAVING.search(rest)
            if m:
                self.bars.checkpoints_announced = True
                path = m.group(1)
                step = _CHECKPOINT_STEP.search(path)
                out.extend(self.bars.checkpoint(int(step.group(1)) if step else None, path))
        elif "***** Running Evaluation *****" in rest:
            out.append(Eval(iteration=self.bars.position, done=False))
        elif bar is None:
            self.bars.epoch_line(rest)
        return out

    def fast_progress(self, text: str) -> Progress | None:
        return self.bars.fast_main(text)

    def columns(self) -> re.Pattern[str] | None:
        return self.bars.columns()

    def column_iterations(self, texts: list[str]) -> list[int] | None:
        return self.bars.column_iterations(texts)

    def column_seconds(self, texts: list[str]) -> list[float]:
        return rate_seconds(texts)

    def _dict(self, text: str, so_far: list[Event]) -> list[Event]:
        pairs = dict(_DICT_PAIR.findall(text, 0, SCAN_LIMIT))
        at = self._dict_position(pairs)
        if at is not None:
            return self._dict_alone(pairs, at)
        if _is_eval(pairs):
            return self.bars.eval_result(number(pairs.get("eval_loss")), number(pairs.get("eval_runtime")))
        if "loss" in pairs:
            loss = number(pairs["loss"])
            if loss is None:
                return []
            position = _SWIFT_STEP.match(pairs.get("global_step/max_steps", ""))
            if position is not None:
                # ms-swift's dict carries the step itself: it is the trainer's own count, newer than the bar's.
                step, total = int(position.group(1)), int(position.group(2))
                seconds = number(pairs.get("train_speed(iter/s)"))
                return [Progress(iteration=step, total_iterations=total, loss=loss,
                                 iteration_seconds=1.0 / seconds if seconds and seconds > 0 else None)]
            # Glued to a bar in the same record: put the loss on that bar's Progress instead of a second event.
            if so_far and isinstance(so_far[-1], Progress) and so_far[-1].iteration == self.bars.main_n:
                so_far[-1].loss = loss
                return []
            return self.bars.take_loss(loss)
        if "train_runtime" in pairs and self.bars.main_n is not None:
            # The closing summary: the run ends at its last step (the bar's final redraw may be missing), before the
            # bar's total when it stopped early (``EarlyStoppingCallback``, a ``should_training_stop``).
            end = self.bars.at_main()
            if end.batches_per_epoch is None:
                end.total_iterations = end.iteration
            return [end]
        return []

    def _dict_position(self, pairs: dict[str, str]) -> Progress | None:
        """Where a dict puts the run when no training bar is in the log: at its step if it prints one, else at its
        epoch, in ``EPOCH_PARTS``."""
        if self.bars.main_n is not None or "global_step/max_steps" in pairs:
            return None
        step = integer(pairs.get("step", pairs.get("global_step")))
        if step is not None and step >= 0:
            # Not the Trainer's own dict (it prints no step): a loop printing its metrics as a dict, step included.
            return Progress(iteration=step, total_iterations=integer(pairs.get("max_steps", pairs.get("total_steps"))))
        epoch = number(pairs.get("epoch"))
        if epoch is None or not 0 <= epoch < 1e9:
            return None
        whole, part = divmod(round(epoch * EPOCH_PARTS), EPOCH_PARTS)
        if whole and not part:
            whole, part = whole - 1, EPOCH_PARTS  # epoch 1.0 is the first epoch's end, not the second's start
        return Progress(iteration=part, epoch=whole, batches_per_epoch=EPOCH_PARTS)

    @staticmethod
    def _dict_alone(pairs: dict[str, str], at: Progress) -> list[Event]:
        if _is_eval(pairs):
            return [Eval(iteration=at.global_iteration, loss=number(pairs.get("eval_loss")), done=True,
                         seconds=number(pairs.get("eval_runtime")))]
        if "loss" in pairs:
            at.loss = number(pairs["loss"])
            return [at]
        if "train_runtime" in pairs:
            # The closing summary: the run ends at its epoch, whatever the total assumed until now.
            return [Config(total_iterations=at.global_iteration), at]
        return []


PARSERS: tuple[type[Parser], ...] = (HfTrainerParser,)
