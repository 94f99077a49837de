"""The README's command and flag tables against the real parsers: every flag of every command is documented, and
every ``--format`` family name is listed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exporter.cli import COMMANDS, _build
from exporter.formats import family_names

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_flag_is_in_the_readme(command: str) -> None:
    _, commands = _build()
    flags = {option for action in commands[command]._actions for option in action.option_strings
             if option.startswith("--") and option != "--help"}
    missing = sorted(flag for flag in flags if not re.search(re.escape(flag) + r"(?![\w.-])", README))
    assert missing == [], f"{command}: {missing}"


def test_every_format_family_is_listed_by_its_name() -> None:
    section = README[README.index("## Supported log formats"):README.index("## Metrics")]
    assert [name for name in family_names() if f"`{name}`" not in section] == []


def test_every_format_family_is_named_in_the_readme() -> None:
    section = README[README.index("## Supported log formats"):README.index("## Metrics")]
    words = {"nanogpt": "nanoGPT", "llmc": "llm.c", "modded_nanogpt": "modded-nanogpt", "tqdm_bars": "tqdm bars",
             "hf_trainer": "HF Trainer", "metriclogger": "MetricLogger", "llamafactory": "LLaMA-Factory",
             "mmengine": "mmengine", "ultralytics": "Ultralytics", "composer": "Composer"}
    missing = [name for name in family_names() if words.get(name, name).lower() not in section.lower()]
    assert missing == []
