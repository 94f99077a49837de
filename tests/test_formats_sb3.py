"""Stable-Baselines3's console tables, on real runs (``benchmarks/corpus/sb3_train.py``: PPO on CartPole, 12,288
steps, a table per 2,048-step rollout, ``EvalCallback`` every 4,096 with its own table; SAC on Pendulum, 2,000
steps, a table every 4 episodes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.events import Eval, Event, Progress
from exporter.formats.sb3 import Sb3Parser
from exporter.pipeline import Pipeline
from exporter.sources import read_records

DATA = Path(__file__).parent / "data"
ROOT = DATA.parent.parent


def read(name: str) -> list[Event]:
    pipeline = Pipeline()
    events = list(pipeline.read(DATA / name))
    assert pipeline.format == "sb3" and pipeline.parser_errors == 0
    return events


def test_ppo_tables_are_progress_in_environment_steps_and_evaluations_are_evals() -> None:
    events = read("real_sb3_ppo.log")
    progress = [e for e in events if isinstance(e, Progress)]
    # One per rollout; the evaluation's own table at the same step is no second progress.
    assert [e.iteration for e in progress] == [2048, 4096, 6144, 8192, 10240, 12288]
    assert [e.iteration for e in events if isinstance(e, Eval)] == [4096, 8192, 12288]
    assert progress[0].iteration_seconds == 3 / 2048  # time_elapsed 3 s over the first 2,048 steps
    assert progress[1].iteration_seconds == (8 - 3) / 2048
    assert progress[0].loss is None and progress[1].loss == 9.42  # PPO's first train/loss, in the evaluation's table


def test_sac_tables_count_steps_and_take_the_first_loss() -> None:
    events = read("real_sb3_sac.log")
    progress = [e for e in events if isinstance(e, Progress)]
    assert [e.iteration for e in progress] == [800, 1600]
    assert progress[0].loss == 22.4  # actor_loss: SAC logs no train/loss


def test_a_table_without_time_or_a_broken_row_gives_nothing() -> None:
    parser = Sb3Parser()
    rule = "-" * 20
    lines = [rule, "| time/   |      |", "|    total_timesteps | 100 |", rule,  # no time_elapsed
             rule, "| time/   |      |", "| a broken row", "|    time_elapsed | 3 |", "|    total_timesteps | 200 |", rule]
    assert [e for line in lines for e in parser.parse(line)] == []
    # A first table at step 0 (a resumed run's, say) has no time per step to give.
    table = [rule, "| time/   |      |", "|    time_elapsed | 0 |", "|    total_timesteps | 0 |", rule]
    fresh = Sb3Parser()
    (start,) = [e for line in table for e in fresh.parse(line)]
    assert isinstance(start, Progress) and (start.iteration, start.iteration_seconds) == (0, None)


@pytest.mark.parametrize(
    "path",
    sorted(p for p in [*DATA.glob("*.log"), *ROOT.glob("benchmarks/data/*.tslog")] if not p.stem.startswith("real_sb3")),
    ids=lambda p: p.name,
)
def test_no_progress_on_the_other_real_logs(path: Path) -> None:
    parser = Sb3Parser()
    assert [r.index for r in read_records(str(path)) if parser.parse(r.text)] == []
