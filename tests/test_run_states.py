"""Each state a user can meet, in the words of the status page, in /metrics and in ``report``: waiting for the
file, cannot read it, no progress line recognised, running, stalled, finished. Real follower, pipeline and
estimator on files in a temporary folder; the clock is stepped, nothing sleeps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import Clock
from prometheus_client.parser import text_string_to_metric_families

from exporter.config import RunConfig
from exporter.metrics import make_registry
from exporter.page import render_page
from exporter.runtime import RunWorker
from exporter.state import RunState


class View:
    def __init__(self, worker: RunWorker) -> None:
        self._worker = worker

    def runs(self) -> list[RunState]:
        return [self._worker.state()]

    def gpu(self) -> None:
        return None


def worker_for(path: Path, clock: Clock, *, format: str | None = None) -> RunWorker:
    return RunWorker(RunConfig("gpt", str(path), format=format), clock=clock)


def scrape(worker: RunWorker) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = make_registry(View(worker)).render().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


RUN = (("run", "gpt"),)


def nanogpt(start: int, stop: int) -> str:
    return "".join(f"iter {i}: loss 1.5, time 50.00ms, mfu 30.00%\n" for i in range(start, stop, 10))


def test_waiting_for_the_file(tmp_path: Path) -> None:
    clock = Clock(1_800_000_000.0)
    worker = worker_for(tmp_path / "train.log", clock)
    worker.step()
    state = worker.state()
    assert state.status == f"waiting for {tmp_path / 'train.log'} to appear"
    got = scrape(worker)
    assert got[("training_exporter_log_files", RUN)] == 0
    assert got[("training_exporter_log_readable", RUN)] == 1
    assert "waiting for" in render_page([state], None)


def test_cannot_read_it(tmp_path: Path) -> None:
    folder = tmp_path / "train.log"
    folder.mkdir()  # root reads files of any mode, so a directory stands for an unreadable log here
    clock = Clock(1_800_000_000.0)
    worker = worker_for(folder, clock)
    worker.step()
    state = worker.state()
    assert state.status.startswith("cannot read ") and "Is a directory" in state.status
    got = scrape(worker)
    assert got[("training_exporter_log_readable", RUN)] == 0
    assert got[("training_exporter_collector_up", (("collector", "log"),))] == 0
    assert "cannot read" in render_page([state], None)


def test_unreadable_after_rotation_marks_the_collector_down(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text(nanogpt(0, 200))
    clock = Clock(1_800_000_000.0)
    worker = worker_for(log, clock)
    worker.step()
    assert scrape(worker)[("training_exporter_collector_up", (("collector", "log"),))] == 1
    log.rename(tmp_path / "train.log.1")
    log.mkdir()  # the new "file" cannot be read
    for _ in range(3):
        clock.now += 1
        worker.step()
    got = scrape(worker)
    assert got[("training_exporter_collector_up", (("collector", "log"),))] == 0
    assert got[("training_exporter_log_readable", RUN)] == 0
    assert got[("training_iteration", RUN)] == 190  # what was collected stays


def test_no_progress_line_recognised(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text("loading data\nstarting\n")
    clock = Clock(1_800_000_000.0)
    worker = worker_for(log, clock)
    worker.step()
    assert worker.state().status == "no progress line recognised in 2 records (tried: every known format)"
    forced = worker_for(log, clock, format="keras")
    forced.step()
    assert forced.state().status.endswith("(tried: keras)")


def running(tmp_path: Path, upto: int) -> tuple[Path, Clock, RunWorker]:
    """A nanoGPT run of 400 iterations followed to ``upto``, a line every half second, the worker stepped each time."""
    log = tmp_path / "train.log"
    log.write_text("Overriding: max_iters = 400\n")
    clock = Clock(1_800_000_000.0)
    worker = worker_for(log, clock)
    worker.step()
    for i in range(0, upto, 10):
        clock.now += 0.5
        with log.open("a") as f:
            f.write(nanogpt(i, i + 10))
        worker.step()
    return log, clock, worker


def test_running_then_stalled_then_finished(tmp_path: Path) -> None:
    log, clock, worker = running(tmp_path, 200)
    state = worker.state()
    assert state.status == "" and state.estimate.state == "running"
    assert ("training_eta_seconds", RUN) in scrape(worker)
    clock.now += 120
    worker.step()
    stalled = worker.state()
    assert stalled.estimate.state == "stalled"
    got = scrape(worker)
    assert ("training_eta_seconds", RUN) not in got
    assert ("training_estimated_completion_timestamp_seconds", RUN) not in got
    assert "no progress for 2m" in render_page([stalled], None)
    with log.open("a") as f:
        f.write(nanogpt(200, 410))
    clock.now += 1
    worker.step()
    assert worker.state().estimate.state == "finished"


def test_a_traceback_after_the_last_progress_line_is_a_crash_on_the_page_and_in_the_metrics(tmp_path: Path) -> None:
    log, clock, worker = running(tmp_path, 100)
    with log.open("a") as f:
        f.write('Traceback (most recent call last):\n  File "train.py", line 9, in <module>\n'
                "torch.OutOfMemoryError: CUDA out of memory.\n")
    clock.now += 0.5
    worker.step()
    state = worker.state()
    assert state.diagnosis.cause == "crashed" and state.estimate.state == "running"  # at once, before the stall
    assert "torch.OutOfMemoryError: CUDA out of memory." in render_page([state], None)
    assert scrape(worker)[("training_diagnosis", (("cause", "crashed"), *RUN))] == 1.0


def test_a_run_that_cannot_print_its_total_finishes_at_its_last_line(tmp_path: Path) -> None:
    # Lines every 10 iterations from 0 and a total of 395 (pytorch/examples' MNIST loop: batches 0, 10, ... of an
    # epoch that ends between two): 390 is the last line it can print; 380 is not.
    for last, expected in ((380, "stalled"), (390, "finished")):
        log = tmp_path / f"train-{last}.log"
        log.write_text("Overriding: max_iters = 395\n")
        clock = Clock(1_800_000_000.0)
        worker = worker_for(log, clock)
        for i in range(0, last + 10, 10):
            clock.now += 0.5
            with log.open("a") as f:
                f.write(nanogpt(i, i + 10))
            worker.step()
        clock.now += 600
        worker.step()
        assert worker.state().estimate.state == expected
        assert (worker.state().estimate.eta_seconds == 0.0) is (expected == "finished")


def test_the_sidecar_takes_a_total_in_epochs(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text("".join(f"Train Epoch: {e} [{b * 640}/60000 ({b}%)]\tLoss: 2.3\n" for e in (1, 2) for b in range(94)))
    worker = RunWorker(RunConfig("mnist", str(log), total_epochs=14), clock=Clock(1_800_000_000.0))
    worker.step()
    estimate = worker.state().estimate
    assert (estimate.iteration, estimate.total_iterations) == (60000 + 93 * 640, 14 * 60000)


def test_report_words_for_stalled_and_finished(tmp_path: Path) -> None:
    import time

    start = time.time() - 600  # the run stopped printing ten minutes ago
    log = tmp_path / "train.tslog"
    lines = [f"{start + i * 0.05:.3f}\titer {i}: loss 1.5, time 50.00ms, mfu 30.00%" for i in range(0, 400, 10)]
    log.write_text(f"{start:.3f}\tOverriding: max_iters = 1000\n" + "\n".join(lines) + "\n")
    live = subprocess.run([sys.executable, "-m", "exporter", "report", str(log), "--live"], capture_output=True,
                          text=True, check=True).stdout
    assert "State     stalled" in live and "Stalled   no progress for" in live and "(last line at " in live
    assert "ETA       unknown" in live
    done = log.read_text() + "".join(
        f"{start + 20 + i * 0.05:.3f}\titer {i}: loss 1.5, time 50.00ms, mfu 30.00%\n" for i in range(400, 1010, 10))
    log.write_text(done)
    report = subprocess.run([sys.executable, "-m", "exporter", "report", str(log)], capture_output=True, text=True,
                            check=True).stdout
    assert "State     finished" in report and "Time      " in report and "hangs and stops" in report


def test_files_that_vanish_from_a_glob_are_forgotten(tmp_path: Path) -> None:
    """Per-file state (pipeline, kept events) is dropped once the glob no longer follows the file: a glob that
    sees many short-lived files must not keep them all (issue: 40 files took RSS from 31 to 94 MiB)."""
    clock = Clock(1_800_000_000.0)
    worker = RunWorker(RunConfig("job", str(tmp_path / "run-*.log")), clock=clock)
    for k in range(30):
        path = tmp_path / f"run-{k:03d}.log"
        path.write_text(nanogpt(0, 100))
        clock.now += 1
        worker.step()
        if k >= 2:
            (tmp_path / f"run-{k - 2:03d}.log").unlink()
            clock.now += 1
            worker.step()
    assert len(worker._files) <= 3  # the live files (and the leader), not the 30 seen


def test_a_deleted_leader_hands_over_at_once(tmp_path: Path) -> None:
    """A glob's leading file that is deleted stops leading at the next poll when another followed file has
    progress (issue: a deleted glob file kept leading for 30 s)."""
    clock = Clock(1_800_000_000.0)
    worker = RunWorker(RunConfig("job", str(tmp_path / "run-*.log")), clock=clock)
    (tmp_path / "run-0.log").write_text(nanogpt(0, 300))
    (tmp_path / "run-1.log").write_text(nanogpt(0, 100))
    worker.step()
    assert worker.leader == str(tmp_path / "run-0.log")
    (tmp_path / "run-0.log").unlink()
    clock.now += 1
    worker.step()
    assert worker.leader == str(tmp_path / "run-1.log")
    assert worker.state().estimate.iteration == 90


def test_a_vanished_rank_file_leaves_the_ranks_at_once(tmp_path: Path) -> None:
    """Two per-rank files advance together (two ranks); one is deleted: its stream goes with it, the ranks list
    and the straggler ratio with it, and nothing refers to the forgotten stream."""
    clock = Clock(1_800_000_000.0)
    worker = RunWorker(RunConfig("job", str(tmp_path / "rank*.log")), clock=clock)
    (tmp_path / "rank0.log").write_text(nanogpt(0, 300))
    (tmp_path / "rank1.log").write_text(nanogpt(0, 300))
    worker.step()
    assert len(worker.state().ranks) == 2
    (tmp_path / "rank1.log").unlink()
    clock.now += 1
    worker.step()
    assert worker.state().up and worker.state().ranks == () and worker.state().straggler_ratio is None
