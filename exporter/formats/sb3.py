"""Stable-Baselines3's console log (DLR-RM/stable-baselines3 at e05d2dbe, ``common/logger.py``
``HumanOutputFormat.write``): ``model.learn(...)`` with ``verbose=1`` prints a table of the logged values after each
rollout (PPO, A2C) or every few episodes (SAC, TD3, DQN), keys sorted, each ``tag/`` on a row of its own::

    ------------------------------------------
    | rollout/                |              |
    |    ep_len_mean          | 22.3         |
    | time/                   |              |
    |    fps                  | 1340         |
    |    iterations           | 2            |
    |    time_elapsed         | 3            |
    |    total_timesteps      | 4096         |
    | train/                  |              |
    |    loss                 | 5.23         |
    ------------------------------------------

A table with ``time/time_elapsed`` (the training loop's) is progress to ``time/total_timesteps`` (environment steps)
when it closes; its time per step is the ``time_elapsed`` since the table before over the steps since then (whole
seconds: one table's figure jitters, their sum is exact), its loss the latest ``train/loss`` (SAC's first
``train/*_loss``, ``actor_loss``). ``EvalCallback`` prints ``Eval num_timesteps=10000, episode_reward=…`` (an
evaluation), then a table of its own at the same step. ``learn(total_timesteps=N)`` is not printed: pass
``--total-iterations N``.
"""

from __future__ import annotations

import re

from exporter.events import Eval, Event, Progress
from exporter.formats._values import integer, pick_loss, seconds_between
from exporter.formats.base import Parser

_RULE = re.compile(r"-{10,}\s*$")
_ROW = re.compile(r"\| (?P<indent> {3})?(?P<key>\S[^|]*?)\s* \| (?P<value>[^|]*?)\s*\|\s*$")
_EVAL = re.compile(r"Eval num_timesteps=(\d{1,15}), episode_reward=")


class Sb3Parser(Parser):
    """The open table's values; the last training table's (steps, seconds elapsed)."""

    name = "sb3"

    def __init__(self) -> None:
        self._table: dict[str, str] | None = None
        self._tag = ""
        self._clock: tuple[int, float] | None = None
        self._loss: float | None = None
        """The latest training loss: PPO's comes in the table after the rollout's, or in the evaluation's."""

    def parse(self, text: str) -> list[Event]:
        if text.startswith("|") and self._table is not None:
            row = _ROW.match(text)
            if row is None:
                self._table = None  # not SB3's table after all
            elif row.group("indent") is None and not row.group("value"):
                self._tag = row.group("key")
            else:
                self._table[(self._tag if row.group("indent") else "") + row.group("key")] = row.group("value")
            return []
        if _RULE.match(text):
            table, self._table, self._tag = self._table, {}, ""
            return self._closed(table) if table else []
        if text.startswith("Eval num_timesteps="):
            match = _EVAL.match(text)
            return [] if match is None else [Eval(iteration=int(match.group(1)))]
        return []

    def _closed(self, table: dict[str, str]) -> list[Event]:
        losses = [(key[len("train/"):], value) for key, value in table.items() if key.startswith("train/")]
        self._loss = pick_loss(losses) if losses else self._loss
        steps, elapsed = integer(table.get("time/total_timesteps")), integer(table.get("time/time_elapsed"))
        if steps is None or elapsed is None:
            return []  # ``EvalCallback``'s own table (no time_elapsed): its ``Eval num_timesteps`` line says it
        seconds, self._clock = seconds_between(self._clock, steps, elapsed), (steps, elapsed)
        return [Progress(steps, iteration_seconds=seconds, loss=self._loss)]


PARSERS: tuple[type[Parser], ...] = (Sb3Parser,)
