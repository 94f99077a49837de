"""User-defined YAML formats: parsing with units, and every validation error naming file, line and problem."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from exporter.events import Progress
from exporter.formats.custom import CustomFormatError, CustomParser, load_custom_formats

GOOD = """\
formats:
  - name: mine
    contains: "it="
    regex: 'it=(?P<iteration>[\\d,]+)/(?P<total>\\d+) loss=(?P<loss>\\S+) dt=(?P<seconds>[\\d.]+)ms data=(?P<data_seconds>[\\d.]+)ms'
    units: {seconds: ms, data_seconds: ms}
  - name: rate
    regex: 'ep (?P<epoch>\\d+)/(?P<total_epochs>\\d+) b (?P<iteration>\\d+)/(?P<batches_per_epoch>\\d+) (?P<seconds>[\\d.]+)it/s mfu (?P<mfu>[\\d.]+)% (?P<_rest>.*)'
    units:
      seconds: it/s
      mfu: "%"
      epoch: 1-based
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "formats.yaml"
    path.write_text(text)
    return path


def test_good_file_parses_with_units(tmp_path: Path) -> None:
    parser = CustomParser(load_custom_formats(write(tmp_path, GOOD)))
    [event] = parser.parse("12:00 it=1,200/5000 loss=nan dt=250.0ms data=50.0ms")
    assert isinstance(event, Progress) and event.format == "custom:mine"
    assert (event.iteration, event.total_iterations) == (1200, 5000)
    assert math.isnan(event.loss)
    assert math.isclose(event.iteration_seconds, 0.25) and math.isclose(event.data_seconds, 0.05)
    [other] = parser.parse("ep 2/10 b 40/100 4.0it/s mfu 35.5% whatever")
    assert (other.epoch, other.total_epochs, other.iteration, other.batches_per_epoch) == (1, 10, 40, 100)
    assert math.isclose(other.iteration_seconds, 0.25) and math.isclose(other.mfu, 0.355)
    assert parser.parse("nothing here") == []
    assert parser.parse("ep 2/10 b 40/100 0it/s mfu 1% x")[0].iteration_seconds is None  # zero rate


def test_top_level_list_is_accepted(tmp_path: Path) -> None:
    [fmt] = load_custom_formats(write(tmp_path, "- regex: 'x(?P<iteration>\\d+)'\n"))
    assert fmt.name == "format1"
    assert CustomParser([fmt]).parse("x7")[0].iteration == 7


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("formats:\n  - name: a\n    regex: 'step (?P<iteration>\\d+'\n", 3, "bad regex"),
        ("formats:\n  - name: a\n    regex: 'step (?P<iteration>\\d+) (?P<speed>\\d+)'\n", 3, "unknown group 'speed'"),
        ("formats:\n  - name: a\n    regex: 'step (?P<loss>\\S+)'\n", 3, "no 'iteration' group"),
        (
            "formats:\n  - name: a\n    regex: '(?P<iteration>\\d+) (?P<seconds>\\S+)'\n    units:\n      seconds: fortnights\n",
            5,
            "bad unit 'fortnights' for 'seconds'",
        ),
        (
            "formats:\n  - name: a\n    regex: '(?P<iteration>\\d+)'\n    units:\n      seconds: ms\n",
            5,
            "does not capture",
        ),
        ("formats:\n  - name: a\n    regex: '(?P<iteration>\\d+) (?P<loss>\\S+)'\n    units: {loss: ms}\n", 4, "no units for 'loss'"),
        ("formats:\n  - name: a\n    pattern: 'x'\n", 3, "unknown key 'pattern'"),
        ("formats:\n  - name: a\n", 2, "has no 'regex'"),
        ("formats:\n  - name: a\n    regex: [1, 2]\n", 3, "'regex' must be a string"),
        ("formats: []\n", 1, "non-empty list"),
        ("", 1, "non-empty list"),
        ("formats:\n  - name: a\n    regex: 'x\n", 4, "not valid YAML"),
        ("formats:\n  - just a string\n", 2, "must be a mapping"),
    ],
)
def test_validation_errors_name_file_line_and_problem(tmp_path: Path, text: str, line: int, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CustomFormatError) as caught:
        load_custom_formats(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}:"), message
    assert problem in message
    assert "\n" not in message


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(CustomFormatError, match="cannot read"):
        load_custom_formats(tmp_path / "missing.yaml")


def test_custom_parser_never_raises_on_odd_text(tmp_path: Path) -> None:
    parser = CustomParser(load_custom_formats(write(tmp_path, GOOD)))
    for text in ["it=99999999999999999999999/1 loss=x dt=1e999ms data=.ms", "\x00\xff" * 1000, "ep 1/1 b 1/1 .it/s mfu .% "]:
        parser.parse(text)


def test_a_glob_reads_its_custom_format_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file of a glob gets its own pipeline, all from one resolution of ``--format`` (issue: a custom-format
    YAML was read N+1 times for an N-file glob)."""
    import exporter.pipeline as pipeline_mod
    from exporter.runtime import RunConfig, RunWorker

    reads: list[str] = []
    real = pipeline_mod.load_custom_formats

    def counting(path):  # noqa: ANN001, ANN202
        reads.append(str(path))
        return real(path)

    monkeypatch.setattr(pipeline_mod, "load_custom_formats", counting)
    formats = write(tmp_path, GOOD)
    for rank in range(4):
        (tmp_path / f"rank{rank}.log").write_text("".join(f"it={i}/100 loss=1.0 dt=5.0ms data=1.0ms\n"
                                                          for i in range(10)))
    worker = RunWorker(RunConfig("job", str(tmp_path / "rank*.log"), format=str(formats)))
    worker.step()
    assert worker.state().estimate.iteration == 9 and worker.state().format == "custom"
    assert reads == [str(formats)]
