"""``report`` on real logs: the one-screen answer and its JSON form."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from exporter.cli import main
from exporter.commands.common import log_events
from exporter.estimate import Estimator
from exporter.page import render_page
from exporter.pipeline import Pipeline
from exporter.sources import read_records
from exporter.state import RunState

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent


def report(capsys, *args: str) -> str:
    assert main(["report", *args]) == 0
    return capsys.readouterr().out


def test_report_finished_timed_log(capsys):
    text = report(capsys, str(DATA / "real_ng_perturbed.tslog"))
    assert "finished: iteration 3000 of 3000" in text
    assert "excluded: warm-up" in text and "every 250 it" in text
    assert "Cause" in text


def test_report_json_is_one_object_with_the_estimate(capsys):
    out = report(capsys, "--json", str(DATA / "real_ng_perturbed.tslog"))
    data = json.loads(out)
    assert data["state"] == "finished" and data["iteration"] == 3000
    assert data["now_is_log_end"] is True
    assert data["format"] == "nanogpt"
    assert {"cause", "hint", "eta_seconds", "periodic_interval_iterations"} <= data.keys()


def test_report_unfinished_log_as_of_its_end_and_live(capsys):
    path = str(DATA / "real_ng_noisy_partial.tslog")
    at_end = json.loads(report(capsys, "--json", path))
    assert at_end["state"] not in ("finished", "stalled")
    assert at_end["eta_seconds"] is not None and at_end["eta_seconds"] > 0
    # Judged by the wall clock, a run whose last line is long past has stalled.
    live = json.loads(report(capsys, "--json", "--live", path))
    assert live["state"] == "stalled"


def test_report_log_without_times(capsys):
    text = report(capsys, str(DATA / "real_ng_perturbed.log"))
    assert "no record times" in text
    data = json.loads(report(capsys, "--json", str(DATA / "real_ng_perturbed.log")))
    assert data["completion_timestamp_seconds"] is None and data["has_record_times"] is False


def test_report_keras_verbose_2_one_line_per_epoch(capsys):
    """Keras 3 ``fit(verbose=2)`` (real lines): its validation is inside every line, so the run is running at
    its lines' pace, not warming up with an eval of unknown cost; a split of well under a second is not shown."""
    text = report(capsys, str(DATA / "real_keras_verbose2.log"))
    assert "State     running: iteration 600 of 800" in text
    assert "excluded: warm-up 0.2s over 100 it" in text  # the first line is the first epoch
    assert "cost unknown" not in text and "warming up" not in text
    assert "Time " not in text


def test_report_says_when_a_log_arrives_in_blocks(capsys, tmp_path: Path) -> None:
    """The real nanoGPT log as a block-buffered stdout delivers it (every 64 records at one time): said, with what
    to do about it; the log as recorded says nothing of the kind."""
    rows = (DATA / "real_ng_perturbed.tslog").read_text().splitlines()
    blocks = [f"{rows[min(len(rows), i - i % 64 + 64) - 1].split(chr(9))[0]}\t{row.split(chr(9), 1)[1]}"
              for i, row in enumerate(rows)]
    log = tmp_path / "buffered.tslog"
    log.write_text("\n".join(blocks) + "\n")
    note = "Note      the log arrives in blocks (the trainer's stdout is block-buffered): run it with python -u"
    assert note in report(capsys, str(log))
    assert json.loads(report(capsys, "--json", str(log)))["arrives_in_blocks"] is True
    assert "arrives in blocks" not in report(capsys, str(DATA / "real_ng_perturbed.tslog"))
    estimator = Estimator()
    for event in log_events(read_records(str(log)), Pipeline()):
        estimator.observe(event)
    page = render_page([RunState(run="gpt", source=str(log), estimate=estimator.estimate(now=None))], None)
    assert "The log arrives in blocks (the trainer&#x27;s stdout is block-buffered)" in page


def test_report_tqdm_log_with_total_flag(capsys):
    data = json.loads(report(capsys, "--json", "--total-iterations", "2400", str(DATA / "real_hf_trainer.tslog")))
    assert data["total_iterations"] == 2400 and data["remaining_iterations"] == 1200
    assert data["eta_seconds"] > 0


def test_a_per_epoch_counter_takes_its_total_in_epochs(capsys):
    # pytorch/examples' MNIST loop prints samples per epoch, not its epochs: the hint gives the epoch's size.
    path = str(ROOT / "benchmarks" / "data" / "mnist_example.tslog")
    assert "(pass --total-epochs N for an ETA; 20000 per epoch), 8th epoch" in report(capsys, path)
    data = json.loads(report(capsys, "--json", "--total-epochs", "8", path))
    assert data["state"] == "finished" and data["total_iterations"] == 8 * 20000 and data["batches_per_epoch"] == 20000
    # The iterations flag wins; a run's line total (the tutorial prints its epochs) comes after the epochs flag.
    assert json.loads(report(capsys, "--json", "--total-epochs", "8", "--total-iterations", "5", path))[
        "total_iterations"] == 5
    tutorial = str(ROOT / "benchmarks" / "data" / "tutorial_sigstop.tslog")
    assert json.loads(report(capsys, "--json", tutorial))["total_iterations"] == 12 * 600
    assert json.loads(report(capsys, "--json", "--total-epochs", "6", tutorial))["total_iterations"] == 6 * 600


def test_a_loop_that_logs_once_per_epoch_takes_its_total_in_epochs(capsys, tmp_path: Path) -> None:
    # pytorch/examples' GCN prints its epochs (0-based, 10 s apart here) but not how many there are.
    gcn = "2026-11-28 00:{:02d}:{:02d} Epoch: {:04d} (0.1234s) loss_train: 1.2345 acc_train: 0.5 loss_val: 1.1 acc_val: 0.6"
    log = tmp_path / "gcn.log"
    log.write_text("".join(gcn.format(e // 6, 10 * (e % 6), e) + "\n" for e in range(20)))
    assert "(pass --total-epochs N for an ETA), 20th epoch" in report(capsys, str(log))
    data = json.loads(report(capsys, "--json", "--total-epochs", "200", str(log)))
    assert data["total_iterations"] == 200 and data["iteration"] == 20
    assert data["eta_seconds"] == pytest.approx(180 * 10.0, rel=0.02)


def test_report_missing_file_exits_2(capsys, tmp_path):
    assert main(["report", str(tmp_path / "absent.log")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "cannot read" in err


def test_report_directory_exits_2(capsys, tmp_path):
    assert main(["report", str(tmp_path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_report_on_interleaved_ranks_follows_one_rank(capsys, tmp_path: Path) -> None:
    """Two ranks tagged in one file (``torchrun --tee``): one run, not a counter that restarts at every line."""
    lines = ["1000.0\t[rank0]: Overriding: max_iters = 1000"]
    for i in range(0, 500, 10):
        for rank in (1, 0):  # rank 1 prints first; both print every iteration
            lines.append(f"{1000.0 + i * 0.1 + rank * 0.01:.2f}\t[rank{rank}]: iter {i}: loss 2.0, time 100.00ms")
    log = tmp_path / "ranks.tslog"
    log.write_text("\n".join(lines) + "\n")
    assert main(["report", str(log), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["runs"] == 1 and report["iteration"] == 490 and report["total_iterations"] == 1000
    assert report["eta_seconds"] is not None


def in_stall(folder: Path) -> Path:
    """The real ``ng_iostall`` log up to the middle of its data-loader stall (~7x slower for the last ~130
    iterations, 2,130 to go)."""
    lines = (ROOT / "benchmarks/data/ng_iostall.tslog").read_text().splitlines(keepends=True)
    end = next(i for i, line in enumerate(lines) if "\titer 1870:" in line)
    cut = folder / "ng_iostall_in_stall.tslog"
    cut.write_text("".join(lines[: end + 1]))
    return cut


def test_report_says_which_pace_the_eta_uses_and_why(capsys, tmp_path: Path) -> None:
    """In the stall the ETA does not take the stalled pace for the whole rest of the run, and says so in words."""
    cut = in_stall(tmp_path)
    text = report(capsys, str(cut))
    ahead = next(line for line in text.splitlines() if line.startswith("Ahead"))
    assert "recent 29" in ahead and "blended with the pace before it" in ahead
    data = json.loads(report(capsys, "--json", str(cut)))
    assert data["pace_source"] == "slowdown_hedged"
    assert data["eta_seconds_per_iteration"] < 0.5 * data["seconds_per_iteration"]


def test_the_status_page_says_which_pace_the_eta_uses_and_why(tmp_path: Path) -> None:
    """The same words on the status page, after the pace it shows anyway."""
    estimator = Estimator()
    events = list(log_events(read_records(str(in_stall(tmp_path))), Pipeline()))
    for event in events:
        estimator.observe(event)
    estimate = estimator.estimate(now=events[-1].time)
    page = render_page([RunState(run="gpt", source="train.log", estimate=estimate)], None)
    assert "the ETA uses 89" in page and "blended with the pace before it" in page
    assert "recent 29" not in page


def test_the_status_page_says_how_to_give_a_total_in_epochs() -> None:
    estimator = Estimator()
    path = str(ROOT / "benchmarks" / "data" / "mnist_example.tslog")
    events = list(log_events(read_records(path), Pipeline()))
    for event in events[:100]:
        estimator.observe(event)
    page = render_page([RunState(run="mnist", source=path, estimate=estimator.estimate(now=events[99].time))], None)
    assert "ETA total iterations unknown (pass --total-epochs N for an ETA; 20000 per epoch)" in page


def test_report_a_nested_epoch_loop_for_the_whole_run(capsys, tmp_path: Path) -> None:
    """Real tqdm 4.70, ``for epoch in trange(3, desc="Epoch"): for i in tqdm(range(200), …)``, read halfway through
    its second epoch: one run of 600 iterations whose ETA counts the epoch still to come, not this epoch's end."""
    rows = (DATA / "real_tqdm_nested_epochs.tslog").read_text().splitlines()
    log = tmp_path / "half.tslog"
    log.write_text("\n".join(rows[:24]) + "\n")
    text = report(capsys, str(log))
    assert "runs seen: 1" in text and "running: iteration 320 of 600" in text and "2nd epoch" in text
    data = json.loads(report(capsys, "--json", str(log)))
    remaining = float(rows[-1].split("\t")[0]) - float(rows[23].split("\t")[0])  # the run ended with the log
    assert data["eta_seconds"] == pytest.approx(remaining, rel=0.2)


def test_report_total_epochs_on_a_bar_not_known_yet_to_be_an_epochs(capsys, tmp_path: Path) -> None:
    """The first pass of a loop that says which epoch it is only after it (``epoch 0: train loss …``; real tqdm 4.70):
    nothing says yet that the bar is an epoch's; ``--total-epochs`` says so (the log counts per epoch)."""
    data = (DATA / "real_tqdm_epoch_summary.log").read_bytes()
    log = tmp_path / "first_pass.log"
    log.write_bytes(data[: len(data) // 5])
    assert "running: iteration 186 of 300 (62.0%)" in report(capsys, str(log))
    assert "running: iteration 186 of 900 (20.7%)" in report(capsys, "--total-epochs", "3", str(log))
    assert main(["replay", "--every", "10%", "--total-epochs", "3", str(log)]) == 0  # its points: of 900, too
    replayed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["total_iterations"] for row in replayed] == [900] * len(replayed) and len(replayed) == 3


def test_report_the_first_pass_of_a_nested_loop_as_its_first_epoch(capsys, tmp_path: Path) -> None:
    """The first pass of ``for epoch in trange(3): for i in tqdm(range(1000))`` (real tqdm 4.70, no descriptions): the
    bar of 3 drawn at 0 just before the training bar is taken as the loop over epochs at once."""
    data = (DATA / "real_tqdm_nested_plain.log").read_bytes()
    log = tmp_path / "first_pass.log"
    log.write_bytes(data[: len(data) // 5])
    assert "running: iteration 635 of 3000 (21.2%)" in report(capsys, str(log))


def test_hf_dicts_alone_take_their_total_in_epochs(capsys, tmp_path: Path) -> None:
    # Only the dicts of an HF Trainer run (stdout without stderr's bars): an epoch is 1000 units of progress.
    real = ROOT / "tests" / "data" / "real_hf_dicts_stdout.tslog"
    data = json.loads(report(capsys, "--json", str(real)))
    assert data["state"] == "finished" and data["total_iterations"] == 1000 and data["batches_per_epoch"] == 1000
    half = tmp_path / "half.tslog"
    half.write_text("".join(real.read_text().splitlines(keepends=True)[:30]))  # epoch 0.56, evals included
    assert "(pass --total-epochs N for an ETA; 1000 per epoch)" in report(capsys, str(half))
    data = json.loads(report(capsys, "--json", "--total-epochs", "1", str(half)))
    assert data["total_iterations"] == 1000 and data["iteration"] == 560
    pace = data["seconds_per_iteration"]
    assert data["eta_seconds"] == pytest.approx(440 * pace, rel=0.15)


def test_an_early_stopped_keras_run_is_finished_not_stalled(capsys, tmp_path: Path) -> None:
    # The first 4 of 8 epochs of a real Keras verbose=2 log, then EarlyStopping(verbose=1)'s last line.
    real = (DATA / "real_keras_verbose2.log").read_text().splitlines(keepends=True)[:8]
    stopped = tmp_path / "stopped.log"
    stopped.write_text("".join(real) + "Epoch 4: early stopping\n")
    data = json.loads(report(capsys, "--json", str(stopped)))
    assert data["state"] == "finished" and data["iteration"] == data["total_iterations"] == 400
    cut = tmp_path / "cut.log"
    cut.write_text("".join(real))
    assert json.loads(report(capsys, "--json", str(cut)))["state"] != "finished"


def test_an_early_stopped_hf_trainer_run_is_finished_where_its_summary_says(capsys, tmp_path: Path) -> None:
    # The real HF Trainer log cut at its bar's 600/1200, then its own closing summary (EarlyStoppingCallback ends a
    # run so: the bar stops, the Trainer prints train_runtime).
    records = re.split(r"(?<=[\r\n])", (DATA / "real_hf_trainer.log").read_text())
    cut = next(i for i, r in enumerate(records) if "600/1200" in r)
    summary = next(r for r in records if "train_runtime" in r).strip()
    stopped = tmp_path / "stopped.log"
    stopped.write_text("".join(records[: cut + 1]) + "\n" + summary + "\n")
    data = json.loads(report(capsys, "--json", str(stopped)))
    assert data["state"] == "finished" and data["iteration"] == data["total_iterations"] == 600
