"""``training-eta-exporter parse``: JSON events on stdout, summary on stderr, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.cli import main

DATA = Path(__file__).parent / "data"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict], str]:
    code = main(["parse", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_real_nanogpt_log(capsys: pytest.CaptureFixture[str]) -> None:
    code, events, err = run(capsys, str(DATA / "real_ng_perturbed.log"))
    assert code == 0
    # 330 records hold events; the rest (the config file's comments, warnings, blank lines) do not.
    summary = dict(part.split(": ") for part in err.strip().split(", "))
    assert summary["parsed"] == "330" and summary["detected format"] == "nanogpt"
    assert int(summary["records read"]) == 330 + int(summary["unparsed"]) and int(summary["unparsed"]) > 40
    kinds = {e["kind"] for e in events}
    assert kinds == {"config", "progress", "eval", "checkpoint"}
    assert all(e["format"] == "nanogpt" for e in events)
    last = [e for e in events if e["kind"] == "progress"][-1]
    assert last["iteration"] == 3000 and last["time"] is None and last["total_iterations"] is None
    assert last["iteration_seconds"] == pytest.approx(1.12612)
    for key in ("data_seconds", "loss", "epoch", "batches_per_epoch", "mfu", "record"):
        assert key in last
    totals = [e["total_iterations"] for e in events if e["kind"] == "config" and e["total_iterations"]]
    assert totals[-1] == 3000


def test_a_tslog_parses_with_its_record_times(capsys: pytest.CaptureFixture[str]) -> None:
    code, events, err = run(capsys, str(DATA / "real_ng_perturbed.tslog"))
    assert code == 0 and "detected format: nanogpt" in err
    progress = [e for e in events if e["kind"] == "progress"]
    assert progress[-1]["iteration"] == 3000
    assert all(e["time"] is not None and e["time"] > 1.7e9 for e in progress)


def test_nan_loss_is_reported_not_dropped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "t.log"
    log.write_text("iter 1: loss nan, time 5.00ms, mfu -100.00%\ngarbage\n")
    code, events, err = run(capsys, str(log))
    assert code == 0
    assert events[0]["loss"] == "nan" and events[0]["mfu"] is None
    assert "records read: 2, parsed: 1, unparsed: 1, detected format: nanogpt" in err


def test_nothing_understood(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "t.log"
    log.write_bytes(b"\x00\xff\xfe binary\n" + b"y" * 10_000_000 + b"\n")
    code, events, err = run(capsys, str(log))
    assert (code, events) == (0, [])
    assert err.strip() == "records read: 2, parsed: 0, unparsed: 2, detected format: none"


def test_forced_and_custom_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "t.log"
    log.write_text("iter 1: loss 2.0, time 5.00ms\nbatch 7 of 9\n")
    code, events, err = run(capsys, str(log), "--format", "llmc")
    assert (code, events) == (0, [])
    assert "detected format: llmc" in err
    spec = tmp_path / "f.yaml"
    spec.write_text("- name: b\n  regex: 'batch (?P<iteration>\\d+) of (?P<total>\\d+)'\n")
    code, events, err = run(capsys, str(log), "--format", str(spec))
    assert code == 0 and [(e["iteration"], e["total_iterations"], e["format"]) for e in events] == [(7, 9, "custom:b")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/missing.log"], "cannot read {tmp}/missing.log: No such file or directory"),
        (["{tmp}"], "cannot read {tmp}: Is a directory"),
        (["{tmp}/t.log", "--format", "nope"], "unknown format 'nope'"),
        (["{tmp}/t.log", "--format", "{tmp}/bad.yaml"], "{tmp}/bad.yaml:1: format 'format1': the regex has no 'iteration' group"),
    ],
)
def test_errors_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    (tmp_path / "t.log").write_text("iter 1: loss 2.0, time 5.00ms\n")
    (tmp_path / "bad.yaml").write_text("- regex: 'x(?P<loss>\\d+)'\n")
    code = main(["parse", *[a.format(tmp=tmp_path) for a in args]])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert message.format(tmp=tmp_path) in err


def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "secret.log"
    log.write_text("iter 1: loss 2.0, time 5.00ms\n")

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    # Simulated: the suite runs as root, for whom file modes do not deny reading.
    monkeypatch.setattr("exporter.pipeline.read_records", denied)
    code = main(["parse", str(log)])
    assert code == 2 and "Permission denied" in capsys.readouterr().err


def test_stdin_and_console_script(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "parse", "-"],
        input=b"step:1/10 train_time:5ms step_avg:5.00ms\n",
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0
    [event] = [json.loads(line) for line in result.stdout.splitlines()]
    assert event["kind"] == "progress" and event["total_iterations"] == 10 and event["format"] == "modded_nanogpt"
    assert b"detected format: modded_nanogpt" in result.stderr


def test_a_mistyped_flag_gets_one_line_with_the_closest_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--web.listen-adress", ":1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean --web.listen-address?" in err
    assert main(["report", "x.log", "--jsn"]) == 2
    assert "did you mean --json?" in capsys.readouterr().err
    assert main(["--lgo", "x.log"]) == 2  # options without a command go to serve
    assert "did you mean --log?" in capsys.readouterr().err
