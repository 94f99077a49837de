"""Run workers and the runtime: real pipeline + estimator on a real log, glob leader rule, faults, golden /metrics."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Clock, Golden, half_real_log_sidecar
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.config import RunConfig
from exporter.estimate import Estimator
from exporter.events import Event, ProgressColumns
from exporter.gpu.fake import FakeDeviceLayer, FakeGpu, nvml_error
from exporter.gpu.sampler import GpuSampler
from exporter.metrics import make_registry
from exporter.runtime import Runtime, RunWorker
from exporter.sources.record import Record, SourceStats

DATA = Path(__file__).parent / "data"
TSLOG = DATA / "real_ng_perturbed.tslog"
GOLDEN = DATA / "sidecar_ng_perturbed.metrics"
CUT = 1795826460.0
"""A moment in the noisy-neighbour phase of the real run (iterations ~30x slower than before)."""


def tslog_records(path: Path, source: str) -> list[tuple[float, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stamp, _, text = line.partition("\t")
        out.append((float(stamp), text))
    return out


class ReplaySource:
    """Hands out the records that had arrived by ``clock()`` (live-like arrival times from a .tslog)."""

    def __init__(self, records: list[tuple[float, str]], *, clock: Callable[[], float], source: str) -> None:
        self._records = records
        self._clock = clock
        self._next = 0
        self.name = source
        self.files = 1
        self.paths = [source]
        self.behind = False
        self.last_error: str | None = None
        self.stats = SourceStats()
        self._source = source
        self.closed = False

    def poll(self) -> list[Record]:
        now = self._clock()
        out = []
        while self._next < len(self._records) and self._records[self._next][0] <= now:
            when, text = self._records[self._next]
            self._next += 1
            out.append(Record(text=text, time=when, index=self._next, source=self._source))
        self.stats.records += len(out)
        return out

    def close(self) -> None:
        self.closed = True


def real_worker(run: RunConfig, clock: Clock, open_source: Callable[..., object], gpus=tuple) -> RunWorker:
    return RunWorker(
        run, clock=clock, open_source=open_source,
        make_estimator=lambda total_iterations=None, total_epochs=None, clock=clock: Estimator(
            total_iterations=total_iterations, total_epochs=total_epochs, clock=clock),
        gpus=gpus,
    )


def fake_sampler(clock: Clock, utilization: float = 35.0) -> tuple[GpuSampler, FakeDeviceLayer]:
    layer = FakeDeviceLayer(
        [FakeGpu(uuid=f"GPU-0000000{i}-0000-0000-0000-000000000000", utilization_percent=utilization)
         for i in range(2)],
        clock=clock,
    )
    return GpuSampler(layer=layer, clock=clock, select="all"), layer


def normalise(text: str) -> str:
    return re.sub(r'python_version="[^"]*"', 'python_version="X"', text)


def golden_scrape() -> str:
    clock = Clock(CUT - 30)
    records = tslog_records(TSLOG, "/logs/train.log")
    source = ReplaySource(records, clock=clock, source="/logs/train.log")
    sampler, _ = fake_sampler(clock)
    run = RunConfig("gpt", "/logs/train.log", deadline_timestamp_seconds=1795830000.0)
    worker = real_worker(run, clock, lambda spec, clock: source, gpus=sampler.snapshots)
    runtime = Runtime([worker], gpu_sampler=sampler)
    # Several polls over the last 30 s, as the live loop would do.
    for _ in range(4):
        sampler.poll_once()
        worker.step()
        clock.now += 10
    return normalise(generate_latest(make_registry(runtime)).decode())


def test_golden_metrics_for_a_real_log_and_fake_gpus(golden: Golden) -> None:
    """Any change of a name, label or value fails; after an intended change: ``pytest --snapshot-update``."""
    golden.check(GOLDEN, golden_scrape())


def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_golden_values_make_sense() -> None:
    got = values(golden_scrape())
    run = (("run", "gpt"),)
    # The slow phase started at iteration 1200 of 3000 (the total comes from the config echo).
    assert got[("training_iteration", run)] == 1260
    assert got[("training_total_iterations", run)] == 3000
    assert got[("training_remaining_iterations", run)] == 1740
    assert got[("training_last_progress_timestamp_seconds", run)] == 1795826442.085998
    assert got[("training_deadline_timestamp_seconds", run)] == 1795830000.0
    assert got[("training_loss", run)] == 1.2735
    assert sum(v for (name, _), v in got.items() if name == "training_state") == 1
    # ~75 ms -> ~2.5 s per iteration for a minute: regressed, and with the GPUs 35 % busy the cause is the input.
    assert got[("training_pace_ratio", run)] > 1.5
    assert got[("training_state", (("run", "gpt"), ("state", "regressed")))] == 1
    assert got[("training_diagnosis", (("cause", "input_bound"), ("run", "gpt")))] == 1
    assert got[("training_eta_lower_seconds", run)] <= got[("training_eta_seconds", run)] <= got[
        ("training_eta_upper_seconds", run)]
    assert got[("training_run_info", (("format", "nanogpt"), ("run", "gpt"), ("source", "/logs/train.log")))] == 1
    assert got[("training_exporter_collector_up", (("collector", "gpu"),))] == 1
    assert got[("training_gpu_utilization_ratio", (("gpu", "1"), ("uuid", "GPU-00000001-0000-0000-0000-000000000000")))] == pytest.approx(0.35)
    diagnosis = [labels for (name, labels), v in got.items() if name == "training_diagnosis" and v == 1]
    assert len(diagnosis) == 1


def test_nvml_down_log_metrics_keep_flowing() -> None:
    clock = Clock(CUT)
    source = ReplaySource(tslog_records(TSLOG, "/l"), clock=clock, source="/l")
    sampler, layer = fake_sampler(clock)
    layer.fail("init", nvml_error("LibraryNotFound"))
    worker = real_worker(RunConfig("gpt", "/l"), clock, lambda spec, clock: source, gpus=sampler.snapshots)
    runtime = Runtime([worker], gpu_sampler=sampler)
    sampler.poll_once()
    worker.step()
    got = values(generate_latest(make_registry(runtime)).decode())
    assert got[("training_exporter_collector_up", (("collector", "gpu"),))] == 0
    assert got[("training_exporter_collector_up", (("collector", "log"),))] == 1
    assert got[("training_exporter_nvml_errors_total", (("kind", "LibraryNotFound"),))] == 1
    assert got[("training_iteration", (("run", "gpt"),))] > 1000
    assert not any(name.startswith("training_gpu_") for name, _ in got)


class ListSource:
    """Records pushed by the test, from several files of one glob."""

    def __init__(self) -> None:
        self.pending: list[Record] = []
        self.stats = SourceStats()
        self.paths: list[str] = []
        """The files seen so far (a glob follows every file it matched); a test removes one to make it vanish."""
        self.last_error: str | None = None
        self.name = "glob"

    @property
    def files(self) -> int:
        return len(self.paths)

    @property
    def behind(self) -> bool:
        return False

    def poll(self) -> list[Record]:
        out, self.pending = self.pending, []
        self.stats.records += len(out)
        self.paths = sorted(set(self.paths) | {r.source for r in out})
        return out

    def close(self) -> None:
        pass


def nanogpt_lines(start: int, stop: int) -> list[str]:
    return [f"iter {i}: loss 2.0, time 100.00ms, mfu 1.00%" for i in range(start, stop, 10)]


def push(source: ListSource, path: str, lines: list[str], when: float) -> None:
    source.pending.extend(Record(text=t, time=when, index=i, source=path) for i, t in enumerate(lines, 1))


def glob_worker(clock: Clock, source: ListSource) -> RunWorker:
    return real_worker(RunConfig("job", "/logs/rank*.log", format="nanogpt", total_iterations=1000), clock,
                       lambda spec, clock: source)


def test_per_rank_files_follow_one_file_without_ping_pong() -> None:
    clock, source = Clock(1000.0), ListSource()
    worker = glob_worker(clock, source)
    # rank 1 is a bit ahead of rank 0 and both advance together: rank 0 (lowest rank) leads and keeps leading.
    for step in range(5):
        push(source, "/logs/rank10.log", nanogpt_lines(step * 20, step * 20 + 30), clock.now)
        push(source, "/logs/rank2.log", nanogpt_lines(step * 20, step * 20 + 20), clock.now)
        worker.step()
        assert worker.leader == "/logs/rank2.log"
        clock.now += 2
    assert worker.state().estimate.iteration == 90
    # rank 2 goes silent; after the switch delay rank 10 takes over and the estimate describes it.
    for _ in range(20):
        clock.now += 2
        push(source, "/logs/rank10.log", nanogpt_lines(200 + int(clock.now), 201 + int(clock.now)), clock.now)
        worker.step()
    assert worker.leader == "/logs/rank10.log"
    assert worker.state().estimate.iteration == 200 + int(clock.now)


def test_per_run_files_follow_the_newest(tmp_path: Path) -> None:
    old, new = tmp_path / "run-1.log", tmp_path / "run-2.log"
    old.write_text("x")
    new.write_text("x")
    os.utime(old, (1000.0, 1000.0))
    os.utime(new, (5000.0, 5000.0))
    clock, source = Clock(5001.0), ListSource()
    worker = glob_worker(clock, source)
    # History read at start-up has no times: the files' modification times decide.
    for path, lines in ((str(old), nanogpt_lines(0, 1000)), (str(new), nanogpt_lines(0, 300))):
        source.pending.extend(Record(text=t, time=None, index=i, source=path) for i, t in enumerate(lines, 1))
    worker.step()
    assert worker.leader == str(new)
    assert worker.state().estimate.iteration == 290


def test_a_failing_source_marks_the_log_collector_down_and_recovers() -> None:
    clock, source = Clock(1000.0), ListSource()
    calls = {"n": 0}

    def flaky(spec: str, clock: Callable[[], float]) -> ListSource:
        calls["n"] += 1
        if calls["n"] == 1:
            raise PermissionError("permission denied: /logs/rank0.log")
        return source

    worker = real_worker(RunConfig("job", "/logs/x.log"), clock, flaky)
    runtime = Runtime([worker])
    worker.step()
    got = values(generate_latest(make_registry(runtime)).decode())
    assert got[("training_exporter_collector_up", (("collector", "log"),))] == 0
    assert "permission denied" in worker.state().error
    push(source, "/logs/x.log", nanogpt_lines(0, 50), clock.now)
    worker.step()
    got = values(generate_latest(make_registry(runtime)).decode())
    assert got[("training_exporter_collector_up", (("collector", "log"),))] == 1
    assert got[("training_exporter_collector_last_success_timestamp_seconds", (("collector", "log"),))] == 1000.0
    assert got[("training_iteration", (("run", "job"),))] == 40


def test_runtime_threads_start_poll_and_stop() -> None:
    clock, source = Clock(1000.0), ListSource()
    push(source, "/logs/x.log", nanogpt_lines(0, 50), clock.now)
    worker = real_worker(RunConfig("job", "/logs/x.log"), clock, lambda spec, clock: source)
    runtime = Runtime([worker], poll_seconds=0.01)
    assert not runtime.alive()
    runtime.start()
    try:
        assert runtime.alive()
        for _ in range(500):
            if worker.state().estimate.iteration == 40:
                break
            import time

            time.sleep(0.01)
        assert worker.state().estimate.iteration == 40
    finally:
        runtime.stop()
    assert not runtime.alive()


def _wait_for(predicate: Callable[[], bool], seconds: float = 20.0) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_build_sidecar_follows_a_real_log_file_end_to_end(tmp_path: Path) -> None:
    import urllib.request

    log = tmp_path / "train.log"
    sidecar, rest = half_real_log_sidecar(log, gpus=1)
    url = sidecar.server.url + "metrics"

    def scrape() -> dict:
        with urllib.request.urlopen(url, timeout=5) as response:
            return values(response.read().decode())

    try:
        run = (("run", "gpt"),)
        assert _wait_for(lambda: scrape().get(("training_iteration", run)) == 1490)
        got = scrape()
        assert got[("training_total_iterations", run)] == 3000
        assert got[("training_exporter_log_files", run)] == 1
        # History has no arrival times: its last progress line was written no later than the file's mtime.
        assert got[("training_last_progress_timestamp_seconds", run)] == pytest.approx(log.stat().st_mtime)
        assert _wait_for(lambda: scrape().get(("training_exporter_collector_up", (("collector", "gpu"),))) == 1)
        with log.open("ab") as handle:
            handle.write(rest)
        assert _wait_for(lambda: scrape().get(("training_iteration", run)) == 3000)
        got = scrape()
        assert got[("training_state", (("run", "gpt"), ("state", "finished")))] == 1
        assert got[("training_last_progress_timestamp_seconds", run)] > 1.7e9  # live records carry arrival time
        assert got[("training_exporter_records_read_total", run)] == got[
            ("training_exporter_records_parsed_total", run)] + got[("training_exporter_records_unparsed_total", run)]
    finally:
        sidecar.stop()


def test_serve_command_logs_its_url_and_stops_on_sigterm(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import urllib.request

    log = tmp_path / "train.log"
    log.write_bytes((DATA / "real_ng_perturbed.log").read_bytes())
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter", "--log", f"gpt={log}", "--web.listen-address", "127.0.0.1:0",
         "--gpu.devices", "none"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        seen = []
        match = None
        while match is None and len(seen) < 20:  # other log lines (warnings) may come first under load
            seen.append(process.stderr.readline())
            match = re.search(r"serving (http://127\.0\.0\.1:\d+/)metrics", seen[-1])
        assert match, seen
        with urllib.request.urlopen(match.group(1) + "healthz", timeout=5) as response:
            assert response.read() == b"ok\n"
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
        rest = process.stderr.read()
        process.stdout.close()
        process.stderr.close()
    assert code == 0, rest
    assert "received SIGTERM, stopping" in rest and "Traceback" not in rest


class CountingEstimator(Estimator):
    """The real estimator, counting the events it observes (a run of lines read as columns counts its lines)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.observed = 0

        self.estimates = 0

    def observe(self, event: Event | ProgressColumns) -> None:
        self.observed += len(event.iterations) if isinstance(event, ProgressColumns) else 1
        super().observe(event)

    def estimate(self, *, now: float | None = None):  # noqa: ANN201 - Estimate
        self.estimates += 1
        return super().estimate(now=now)


def counting_worker(run: RunConfig, clock: Clock, source: ListSource) -> tuple[RunWorker, list[CountingEstimator]]:
    made: list[CountingEstimator] = []

    def make_estimator(total_iterations: int | None = None, total_epochs: int | None = None,
                       clock: Callable[[], float] = clock) -> Estimator:
        made.append(CountingEstimator(total_iterations=total_iterations, total_epochs=total_epochs, clock=clock))
        return made[-1]

    worker = RunWorker(run, clock=clock, open_source=lambda spec, clock: source, make_estimator=make_estimator)
    return worker, made


def test_each_event_reaches_its_streams_estimator_once() -> None:
    clock, source = Clock(5000.0), ListSource()
    worker, made = counting_worker(RunConfig("job", "/logs/x.log"), clock, source)
    lines = ["Overriding: max_iters = 3000", "Overriding: eval_interval = 250"] + nanogpt_lines(0, 2000)
    source.pending.extend(Record(text=t, time=None, index=i, source="/logs/x.log") for i, t in enumerate(lines, 1))
    worker.step()
    estimate = worker.state().estimate
    assert estimate.total_iterations == 3000
    assert estimate.iteration == 1990
    assert estimate.eta_seconds is not None
    # Later polls feed only their own events, each once, to the same estimator.
    for step in range(3):
        push(source, "/logs/x.log", nanogpt_lines(2000 + 100 * step, 2100 + 100 * step), clock.now)
        worker.step()
        clock.now += 1
    assert worker.state().estimate.iteration == 2290
    assert worker.state().estimate.total_iterations == 3000
    assert len(made) == 2  # the one shown before any progress, and the file's own
    assert made[1].observed == 3 + 200 + 3 * 10  # new-run marker + 2 configs, then progress lines


def test_a_leader_switch_shows_the_new_leaders_own_config() -> None:
    clock, source = Clock(1000.0), ListSource()
    worker, made = counting_worker(RunConfig("job", "/logs/rank*.log", format="nanogpt"), clock, source)
    for path, total in (("/logs/rank2.log", 4000), ("/logs/rank10.log", 6000)):
        lines = [f"Overriding: max_iters = {total}"] + nanogpt_lines(0, 1000)
        source.pending.extend(Record(text=t, time=clock.now, index=i, source=path) for i, t in enumerate(lines, 1))
    worker.step()
    assert worker.leader == "/logs/rank2.log"
    assert worker.state().estimate.total_iterations == 4000
    assert [r.rank for r in worker.state().ranks] == ["/logs/rank2.log", "/logs/rank10.log"]
    # rank 2 goes silent: rank 10 leads, with its own total, and no estimator is rebuilt.
    for _ in range(20):
        clock.now += 2
        push(source, "/logs/rank10.log", nanogpt_lines(1000 + int(clock.now), 1001 + int(clock.now)), clock.now)
        worker.step()
    assert worker.leader == "/logs/rank10.log"
    assert len(made) == 3
    assert worker.state().estimate.total_iterations == 6000
    assert worker.state().ranks == ()  # rank 2 stopped 40 s ago: no longer advancing with the leader


def test_estimates_follow_every_poll_once_caught_up_and_at_most_once_a_second_while_behind() -> None:
    clock, source = Clock(1000.0), BehindSource(polls=0)
    worker, made = counting_worker(RunConfig("job", "/logs/x.log"), clock, source)
    push(source, "/logs/x.log", nanogpt_lines(0, 100), clock.now)
    worker.step()
    assert made[-1].estimates == 1
    published = worker.state()
    # Caught up, nothing new, polled every 0.25 s for 5 s: every poll estimates (evaluating and stalled depend
    # on the clock, and a short eval must not fall between two estimates).
    for _ in range(20):
        clock.now += 0.25
        worker.step()
    assert made[-1].estimates == 1 + 20
    assert worker.state() is not published
    assert worker.state().last_success_timestamp_seconds == 1005.0
    # Behind (catching up on history): at most one estimate a second, however many polls read records.
    source.limit = source.polls + 20
    for i in range(20):
        clock.now += 0.25
        push(source, "/logs/x.log", nanogpt_lines(100 + i, 101 + i), clock.now)
        worker.step()
    assert made[-1].estimates == 21 + 5
    # Caught up again: the newest records are estimated at once.
    source.limit = 0
    clock.now += 0.25
    push(source, "/logs/x.log", nanogpt_lines(120, 130), clock.now)
    worker.step()
    assert made[-1].estimates == 27
    assert worker.state().estimate.iteration == 120
    # A clock that jumped back does not freeze the estimate while behind.
    source.limit = source.polls + 5
    clock.now -= 3600
    worker.step()
    assert made[-1].estimates == 28


class BehindSource(ListSource):
    """Says it is behind for its first ``polls`` polls, then signals that it was polled once more."""

    def __init__(self, polls: int) -> None:
        super().__init__()
        import threading

        self.limit = polls
        self.polls = 0
        self.caught_up = threading.Event()

    @property
    def behind(self) -> bool:
        return self.polls <= self.limit

    def poll(self) -> list[Record]:
        self.polls += 1
        if self.polls > self.limit:
            self.caught_up.set()
        return super().poll()


def test_runtime_polls_again_at_once_while_the_source_is_behind() -> None:
    source = BehindSource(polls=5)
    worker = real_worker(RunConfig("job", "/logs/x.log"), Clock(1000.0), lambda spec, clock: source)
    runtime = Runtime([worker], poll_seconds=60.0)
    runtime.start()
    try:
        # With a 60 s interval, six polls within seconds prove the loop did not sleep between them.
        assert source.caught_up.wait(10)
        assert worker.behind is False
    finally:
        runtime.stop()


def test_ranks_interleaved_in_one_file_are_separate_streams_with_a_straggler_ratio() -> None:
    """``torchrun --tee`` puts every rank's lines in one file. Read as one counter, iterations go back at every
    other line (issue: 50 restarts per 100 lines, never an ETA); read per rank tag, each rank has its own pace and
    ETA, the run follows rank 0, and the straggler ratio compares the slowest rank's pace with the median's."""
    clock, source = Clock(10_000.0), ListSource()
    worker = real_worker(RunConfig("job", "/logs/train.log"), clock, lambda spec, clock: source)
    records = [Record(text="[rank0]: Overriding: max_iters = 2000", time=clock.now, index=1, source="/logs/train.log")]
    seconds = {0: 0.1, 1: 0.1, 2: 0.1, 3: 0.15}  # rank 3 is 1.5x slower
    for i in range(0, 400, 10):
        for rank, pace in seconds.items():
            records.append(Record(text=f"[rank{rank}]: iter {i}: loss 2.0, time {pace * 1000:.2f}ms, mfu 1.00%",
                                  time=clock.now + i * pace, index=len(records) + 1, source="/logs/train.log"))
    records.sort(key=lambda r: r.time or 0.0)
    source.pending.extend(records)
    clock.now += 400 * 0.15
    worker.step()
    state = worker.state()
    assert state.estimate.runs == 1 and state.estimate.iteration == 390 and state.estimate.total_iterations == 2000
    assert state.estimate.eta_seconds is not None
    assert [r.rank for r in state.ranks] == ["0", "1", "2", "3"]
    assert all(r.iteration == 390 and r.eta_seconds is not None for r in state.ranks)
    assert state.straggler_ratio == pytest.approx(1.5, rel=0.05)
    got = values(generate_latest(make_registry(Runtime([worker]))).decode())
    assert got[("training_straggler_ratio", (("run", "job"),))] == pytest.approx(1.5, rel=0.05)
    assert got[("training_rank_seconds_per_iteration", (("rank", "3"), ("run", "job")))] == pytest.approx(0.15, rel=0.05)
    assert got[("training_run_restarts_total", (("run", "job"),))] == 0


def test_catching_up_on_history_is_said_and_exported() -> None:
    """A sidecar started beside a long log publishes figures of an earlier point while it reads: it says so (page
    status, ``training_exporter_log_catching_up 1``) until it has read what was already written."""
    clock, source = Clock(1000.0), BehindSource(polls=3)
    worker = real_worker(RunConfig("job", "/logs/x.log"), clock, lambda spec, clock: source)
    push(source, "/logs/x.log", nanogpt_lines(0, 500), clock.now)
    worker.step()
    state = worker.state()
    assert state.catching_up and state.status.startswith("catching up on the log's history")
    got = values(generate_latest(make_registry(Runtime([worker]))).decode())
    assert got[("training_exporter_log_catching_up", (("run", "job"),))] == 1
    for _ in range(4):
        clock.now += 0.25
        worker.step()
    assert not worker.state().catching_up and worker.state().status == ""
    got = values(generate_latest(make_registry(Runtime([worker]))).decode())
    assert got[("training_exporter_log_catching_up", (("run", "job"),))] == 0
