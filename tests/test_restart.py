"""Restart without catch-up (``--state.directory``): a restarted worker continues from its state file on the same
file, with the same counters and estimates, and reads the log from its start when the file changed or the state
file cannot be trusted: a warning, never a crash."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from conftest import DATA, Clock

from exporter.runtime import RunConfig, RunWorker
from exporter.sources import FileFollower, Record
from exporter.state import RunState
from exporter.statefile import StateFile

LOG = (DATA / "real_ng_perturbed.log").read_bytes()
HALF = LOG.index(b"iter 1500:")
END = LOG.index(b"iter 2500:")


class CountingFollower(FileFollower):
    """Counts the records its polls return (a restart that resumes reads none of the old ones again)."""

    polled = 0

    def poll(self) -> list[Record]:
        out = super().poll()
        CountingFollower.polled += len(out)
        return out


def worker(log: Path, clock: Clock, state_dir: Path | None) -> RunWorker:
    run = RunConfig("gpt", str(log))
    state = StateFile(str(state_dir), run.run, run.log) if state_dir is not None else None
    return RunWorker(run, clock=clock, state_file=state,
                     open_source=lambda spec, clock: CountingFollower(spec, clock=clock))


def drain(w: RunWorker, clock: Clock, polls: int = 40) -> RunState:
    for _ in range(polls):
        w.step()
        clock.tick(0.25)
    return w.state()


def figures(state: RunState) -> dict[str, object]:
    e = state.estimate
    return {"iteration": e.iteration, "records": state.records_read, "parsed": state.records_parsed,
            "runs": e.runs, "state": e.state, "eta": e.eta_seconds, "pace": e.seconds_per_iteration}


def same(a: dict[str, object], b: dict[str, object]) -> bool:
    for key, value in a.items():
        other = b[key]
        if isinstance(value, float) and isinstance(other, float):
            if abs(value - other) > 0.01 * max(abs(value), abs(other)):
                return False
        elif value != other:
            return False
    return True


def saved_once(tmp_path: Path) -> tuple[Path, Path, Clock]:
    """The first half of the real log, read by a worker that saved its state file and stopped."""
    log, states = tmp_path / "train.log", tmp_path / "state"
    log.write_bytes(LOG[:HALF])
    clock = Clock(1_800_000_000.0)
    first = worker(log, clock, states)
    drain(first, clock)
    first.close()
    return log, states, clock


def fresh_read(log: Path) -> int:
    """Records a worker without a state file reads from ``log``."""
    clock = Clock(1_800_000_000.0)
    return drain(worker(log, clock, None), clock).records_read


def never_restarted(tmp_path: Path) -> dict[str, object]:
    """The figures of one worker that read the first half, then the rest, without a restart."""
    log = tmp_path / "reference" / "train.log"
    log.parent.mkdir()
    log.write_bytes(LOG[:HALF])
    clock = Clock(1_800_000_000.0)
    w = worker(log, clock, None)
    drain(w, clock)
    with log.open("ab") as f:
        f.write(LOG[HALF:END])
    return figures(drain(w, clock))


def test_a_restart_on_the_same_file_continues_with_the_same_counters_and_estimates(tmp_path: Path) -> None:
    log, states = tmp_path / "train.log", tmp_path / "state"
    log.write_bytes(LOG[:HALF])
    clock = Clock(1_800_000_000.0)
    first = worker(log, clock, states)
    before = figures(drain(first, clock))
    first.close()  # saves (a SIGKILL loses at most SAVE_SECONDS of reading, which is read again)
    second = worker(log, clock, states)
    CountingFollower.polled = 0
    second.step()
    assert CountingFollower.polled == 0  # nothing read twice
    assert same(figures(second.state()), before)  # at the first poll: the same counters and figures
    with log.open("ab") as f:
        f.write(LOG[HALF:END])
    after = figures(drain(second, clock))
    assert after["iteration"] == 2490
    assert same(after, never_restarted(tmp_path)), after


@pytest.mark.parametrize("change", ["rotated", "truncated", "rewritten"])
def test_a_changed_file_is_read_from_its_start(tmp_path: Path, change: str, caplog: pytest.LogCaptureFixture) -> None:
    log, states, clock = saved_once(tmp_path)
    if change == "rotated":
        log.rename(tmp_path / "train.log.1")
        log.write_bytes(LOG[:END])
    elif change == "truncated":
        log.write_bytes(LOG[: HALF // 2])
    else:  # same size, other bytes before the offset
        log.write_bytes(LOG[:HALF - 200] + b"x" * 199 + b"\n")
    with caplog.at_level(logging.WARNING):
        second = worker(log, clock, states)
        state = drain(second, clock)
    assert "reading it from its start" in caplog.text
    expected = {"rotated": 2490, "truncated": None, "rewritten": None}[change]
    if expected is not None:
        assert state.estimate.iteration == expected
    assert state.records_read == fresh_read(log)  # every record of the new file, once


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "empty", "world-writable", "another log"])
def test_a_state_file_that_cannot_be_trusted_means_a_full_read(tmp_path: Path, damage: str,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    log, states, clock = saved_once(tmp_path)
    [path] = list(states.iterdir())
    data = path.read_bytes()
    if damage == "corrupt":
        path.write_bytes(b"\x80\x05garbage" + data[40:])
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "world-writable":
        os.chmod(path, 0o666)
    else:  # another log's state file under this log's name
        other = tmp_path / "other.log"
        other.write_bytes(LOG[:HALF])
        os.replace(path, StateFile(str(states), "gpt", str(other)).path)
        log = other
    with caplog.at_level(logging.WARNING):
        second = worker(log, clock, states)
        state = drain(second, clock)
    assert "reading the log from its start" in caplog.text
    assert state.records_read == fresh_read(log) and state.estimate.iteration == 1490


def test_no_state_file_yet_is_a_quiet_full_read(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(LOG[:HALF])
    clock = Clock(1_800_000_000.0)
    with caplog.at_level(logging.WARNING):
        state = drain(worker(log, clock, tmp_path / "state"), clock)
    assert state.estimate.iteration == 1490 and caplog.text == ""
    [path] = list((tmp_path / "state").iterdir())
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_glob_resumes_each_of_its_files(tmp_path: Path) -> None:
    """Per-rank files of one job (a glob): every file continues at its own offset, a file that appeared while the
    sidecar was down is read from its start, and every record is counted once."""
    states = tmp_path / "state"
    for rank in range(2):
        (tmp_path / f"rank{rank}.log").write_bytes(LOG[:HALF])
    clock = Clock(1_800_000_000.0)
    run = RunConfig("job", str(tmp_path / "rank*.log"))

    def glob_worker() -> RunWorker:
        return RunWorker(run, clock=clock, state_file=StateFile(str(states), run.run, run.log))

    first = glob_worker()
    drain(first, clock)
    first.close()
    for rank in range(2):
        with (tmp_path / f"rank{rank}.log").open("ab") as f:
            f.write(LOG[HALF:END])
    (tmp_path / "rank2.log").write_bytes(LOG[:END])
    second = glob_worker()
    state = drain(second, clock)
    reference = drain(RunWorker(run, clock=clock), clock)  # one fresh read of the same three files
    assert state.records_read == reference.records_read and state.estimate.iteration == 2490
    assert [r.iteration for r in state.ranks] == [2490, 2490, 2490]


def test_a_glob_with_a_replaced_file_is_read_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    states = tmp_path / "state"
    for rank in range(2):
        (tmp_path / f"rank{rank}.log").write_bytes(LOG[:HALF])
    clock = Clock(1_800_000_000.0)
    run = RunConfig("job", str(tmp_path / "rank*.log"))
    first = RunWorker(run, clock=clock, state_file=StateFile(str(states), run.run, run.log))
    drain(first, clock)
    first.close()
    (tmp_path / "rank1.log").unlink()
    (tmp_path / "rank1.log").write_bytes(b"# another run\n" + LOG[:END])  # a new file under the old name
    with caplog.at_level(logging.WARNING):
        state = drain(RunWorker(run, clock=clock, state_file=StateFile(str(states), run.run, run.log)), clock)
    assert "reading it from its start" in caplog.text
    assert state.records_read == drain(RunWorker(run, clock=clock), clock).records_read


def test_an_idle_run_does_not_rewrite_its_state_file(tmp_path: Path) -> None:
    log, states = tmp_path / "train.log", tmp_path / "state"
    log.write_bytes(LOG[:HALF])
    clock = Clock(1_800_000_000.0)
    w = worker(log, clock, states)
    drain(w, clock)
    [path] = list(states.iterdir())
    written = path.stat().st_mtime_ns
    os.utime(path, ns=(written - 10**9, written - 10**9))
    for _ in range(10):
        clock.tick(6.0)  # past SAVE_SECONDS each time, nothing new in the log
        w.step()
    assert path.stat().st_mtime_ns == written - 10**9
    with log.open("ab") as f:
        f.write(LOG[HALF:END])
    clock.tick(6.0)
    w.step()
    assert path.stat().st_mtime_ns != written - 10**9  # new records: saved again


def test_a_state_file_of_another_build_is_not_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """It pickles the code's own objects: after an upgrade (even under the same version number) the log is read
    again instead of restoring objects whose classes changed."""
    import exporter.statefile as statefile

    log, states, clock = saved_once(tmp_path)
    monkeypatch.setattr(statefile, "_version", lambda: "0.1.0/1/another-build")
    with caplog.at_level(logging.WARNING):
        state = drain(worker(log, clock, states), clock)
    assert "from another version or log" in caplog.text
    assert state.records_read == fresh_read(log) and state.estimate.iteration == 1490
