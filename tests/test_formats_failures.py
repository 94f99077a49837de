"""A trainer's uncaught exception (a Python traceback's last line): read whatever the family, forgotten once progress
follows, and the diagnosis ``crashed`` while it stands."""

from __future__ import annotations

import json
from pathlib import Path

from exporter.cli import main
from exporter.diagnosis import diagnose
from exporter.estimate import Estimator
from exporter.estimate.model import Estimate
from exporter.events import Failure, Progress
from exporter.formats import AutoParser
from exporter.formats.failures import FRAME_LINES, FailureDetector
from exporter.sources import read_records

DATA = Path(__file__).parent / "data"
OOM = [
    "Traceback (most recent call last):",
    '  File "/work/nanoGPT/train.py", line 300, in <module>',
    "    scaler.scale(loss).backward()",
    "    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
    "",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.64 GiB",
]


def failures(lines: list[str]) -> list[str]:
    detector = FailureDetector()
    return [f.message for f in map(detector.feed, lines) if f is not None]


def test_a_tracebacks_last_line_is_the_failure_and_each_chained_block_has_one() -> None:
    assert failures(["iter 10: loss 2.0, time 90.1ms, mfu 0.4%", *OOM]) == [OOM[-1]]
    chained = ["Traceback (most recent call last):", '  File "x.py", line 1, in <module>', "KeyError: 'lr'", "",
               "During handling of the above exception, another exception occurred:", "", *OOM[:2], "KeyboardInterrupt"]
    assert failures(chained) == ["KeyError: 'lr'", "KeyboardInterrupt"]
    # An HF Trainer's bar is left open by the exception: Python's traceback joins its last redraw's record.
    glued = ["  4%|▍         | 50/1200 [00:01<00:24, 47.2it/s]Traceback (most recent call last):", *OOM[1:]]
    assert failures(glued) == [OOM[-1]]
    assert failures(["Fatal Python error: Segmentation fault", "", "Current thread 0x00007f (most recent call first):",
                     '  File "train.py", line 9 in <module>']) == ["Fatal Python error: Segmentation fault"]
    assert failures(["Epoch 1:  45%|████▌     | 450/1000 [00:05<00:06, 89.0it/s]", "",
                     "Detected KeyboardInterrupt, attempting graceful shutdown ..."]) == [
        "Detected KeyboardInterrupt, attempting graceful shutdown ..."]
    ends = ["bash: line 1: 12345 Killed                  python train.py",
            "slurmstepd: error: *** JOB 4242 ON node17 CANCELLED AT 2026-12-01T10:00:00 DUE TO TIME LIMIT ***",
            "slurmstepd: error: Detected 1 oom_kill event in StepId=4242.batch. Some of the step tasks have been OOM "
            "Killed.",
            "srun: error: node17: task 0: Out Of Memory"]
    assert failures(ends) == ends
    assert failures(["Killed 3 zombie workers", "the job was CANCELLED by the user", "oom_score_adj set"]) == []


def test_no_failure_without_an_exception_line() -> None:
    assert failures(["Traceback (most recent call last):", *["  frame"] * (FRAME_LINES + 1), "ValueError: late"]) == []
    assert failures(["Traceback (most recent call last):", "iter 10: loss 2.0"]) == []  # no exception's name
    assert failures(["ValueError: no traceback before it"]) == []


def test_a_failure_is_read_before_any_family_is_known_and_after_a_launcher_tag() -> None:
    parser = AutoParser()
    events = [e for line in ["loading model", *[f"[rank0]:{line}" if line else line for line in OOM]]
              for e in parser.parse(line.removeprefix("[rank0]:"))]
    assert [type(e) for e in events] == [Failure] and isinstance(events[0], Failure)
    assert events[0].message.startswith("torch.OutOfMemoryError: CUDA out of memory.")


def test_progress_after_a_failure_forgets_it() -> None:
    estimator = Estimator(total_iterations=100)
    estimator.observe(Progress(10, iteration_seconds=1.0, time=10.0))
    estimator.observe(Failure(message="ValueError: caught and logged", time=11.0))
    assert estimator.estimate(now=12.0).failure == "ValueError: caught and logged"
    estimator.observe(Progress(11, iteration_seconds=1.0, time=12.0))
    assert estimator.estimate(now=13.0).failure is None


def test_the_diagnosis_is_crashed_while_the_failure_stands_and_the_run_is_not_finished() -> None:
    message = "RuntimeError: NCCL error"
    assert diagnose(Estimate(state="stalled", iteration=10, failure=message)).cause == "crashed"
    assert diagnose(Estimate(state="running", iteration=10, failure=message)).cause == "crashed"  # before the stall
    assert diagnose(Estimate(state="unknown_total", failure=message)).cause == "crashed"  # died before training
    assert diagnose(Estimate(state="finished", iteration=10, failure=message)).cause == "healthy"  # after its end
    assert diagnose(Estimate(state="stalled", iteration=10)).cause == "stalled"


def test_report_names_the_crash_of_a_dead_run(capsys, tmp_path: Path) -> None:
    lines = (DATA / "real_ng_perturbed.tslog").read_text().splitlines(keepends=True)
    head = lines[: next(i for i, line in enumerate(lines) if "\titer 990:" in line) + 1]  # to iteration 990 of 3000
    died = float(head[-1].split("\t", 1)[0]) + 0.5
    log = tmp_path / "train.tslog"
    log.write_text("".join(head) + "".join(f"{died}\t{line}\n" for line in OOM))
    assert main(["report", "--json", str(log)]) == 0
    data = json.loads(capsys.readouterr().out)
    # Judged at the log's end, the moment it printed the traceback: not stalled yet, crashed all the same.
    assert data["state"] == "running" and data["cause"] == "crashed" and data["failure"] == OOM[-1]
    assert "torch.OutOfMemoryError: CUDA out of memory" in data["hint"]


def test_a_real_tqdm_loop_that_crashed_is_crashed_after_its_bar(capsys) -> None:
    """``benchmarks/corpus/crash_loop.py``: the bar's family is still in its decision window when the traceback
    comes, so the failure is held back with the bar's events and follows them (else their progress would clear it)."""
    assert main(["report", "--json", str(DATA / "real_tqdm_crash.tslog")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["iteration"] == 400 and data["cause"] == "crashed"
    assert data["failure"] == "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (simulated at step 400)"


def test_no_failure_in_the_real_logs_of_runs_that_did_not_crash() -> None:
    root = DATA.parent.parent
    logs = [*DATA.glob("*.log"), *DATA.glob("*.tslog"), *root.glob("benchmarks/data/*.tslog")]
    found = {}
    for path in logs:
        detector = FailureDetector()
        messages = [f.message for f in (detector.feed(r.text) for r in read_records(str(path))) if f is not None]
        if messages:
            found[path.name] = messages
    assert set(found) == {"real_tqdm_crash.log", "real_tqdm_crash.tslog"}
