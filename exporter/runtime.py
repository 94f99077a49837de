"""The sidecar's background loops and the state they share with scrapes.

One worker thread per run polls its log source, feeds records through the format pipeline into the estimator
and stores the latest ``Estimate`` and ``Diagnosis`` (computed with ``now = clock()``). The GPU sampler runs in
its own thread. Scrapes and the HTML page only read these cached snapshots under a lock, so a slow disk or a
hung NVML call never makes ``/metrics`` slow or wrong.

Several files in one run (a glob) feed ONE estimator through a leader rule, so per-rank files of one job do not
make the iteration ping-pong and per-run files (``run-*.log``) follow the newest run:

- each file gets its own ``Pipeline`` (format detection and multi-line state are per file) and keeps its recent
  events (bounded) plus the Config events of its current run (the run's size and schedule, which a long history
  would otherwise push out of the bounded window);
- a file's activity time is the time of its latest progress record (the record's own time, else the file's
  modification time for history read at start-up);
- candidates are the files whose activity is within ``LEADER_SWITCH_SECONDS`` of the most recent one; the leader
  stays while it is a candidate, otherwise the candidate with the lowest natural-sorted path (rank 0 before
  rank 1) becomes leader;
- only the leader's events reach the estimator, each once; on a switch from one leader to another the estimator is
  rebuilt from the new leader's current-run configs and kept events, so the estimate describes one file
  consistently. The first leader needs no rebuild: the estimator has seen every event of it already.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from exporter.config import RunConfig
from exporter.diagnosis import Diagnosis, diagnose
from exporter.estimate.model import Estimate
from exporter.estimate.phases import TimeSplit
from exporter.events import Config, Event, Progress
from exporter.gpu.snapshot import GpuSnapshot
from exporter.sources.follow import Source, modified_time
from exporter.sources.record import Record, SourceStats

log = logging.getLogger("exporter.runtime")

LEADER_SWITCH_SECONDS = 30.0
"""How long the leading file may be silent while another file advances before the other one leads."""
EVENTS_KEPT_PER_FILE = 20_000
"""Recent events kept per file to rebuild the estimator on a leader switch (bounded memory)."""
ESTIMATE_SECONDS = 1.0
"""Least interval between two estimates while catching up on history (only the caught-up state matters). Once
caught up, every poll estimates: states that depend on the clock (evaluating, stalled) and the ETA countdown must
follow at the poll rate, and one estimate costs well under a millisecond."""
TIME_SPLIT_SECONDS = 5.0
"""Least interval between two time splits (O(history) each; a split of the past needs no 4 Hz refresh)."""
CONFIGS_KEPT_PER_FILE = 1_000
"""Config events of a file's current run kept beyond the recent window (bounded against a log that repeats its
config on every line; the oldest go first)."""


class GpuSamplerLike(Protocol):
    up: bool

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def snapshots(self) -> Sequence[GpuSnapshot]: ...


@dataclass(frozen=True, slots=True)
class RunState:
    """What a scrape reports about one run; a consistent copy taken under the worker's lock."""

    run: str
    source: str
    format: str = ""
    estimate: Estimate = field(default_factory=Estimate)
    diagnosis: Diagnosis | None = None
    time_split: TimeSplit | None = None
    """Where the current run's wall time went (refreshed every ``TIME_SPLIT_SECONDS``)."""
    pace_history: tuple[tuple[float, float], ...] = ()
    """(time, seconds per iteration of normal work) over the current run, at most ``PACE_POINTS`` points (for
    the status page's plot; refreshed with the time split)."""
    deadline_timestamp_seconds: float | None = None
    records_read: int = 0
    records_parsed: int = 0
    records_unparsed: int = 0
    oversized_records: int = 0
    rotations: int = 0
    truncations: int = 0
    read_errors: int = 0
    errors: tuple[tuple[str, int], ...] = ()
    """(stage, count) of what went wrong and was skipped: ``parse`` (a parser raised on a record), ``check`` (an event
    with an out-of-range counter), ``poll`` (a poll that failed as a whole)."""
    files: int = 0
    up: bool = False
    """True when the latest poll worked (source open and read without an unexpected error)."""
    log_readable: bool = True
    """False while the log exists but cannot be read (permissions, a directory, an I/O error)."""
    status: str = ""
    """What stands between the run and an estimate, in words ("waiting for …", "cannot read …", "no progress line
    recognised …"); empty once progress lines are read."""
    last_success_timestamp_seconds: float | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class GpuState:
    """What a scrape reports about the GPU collector."""

    up: bool
    last_success_timestamp_seconds: float | None
    snapshots: tuple[GpuSnapshot, ...]
    errors: dict[str, int]
    down_reason: str | None = None
    utilization_history: tuple[tuple[float, float], ...] = ()
    """(time, mean busy ratio over the GPUs) per poll, recent polls (for the status page's plot)."""


def _natural_key(path: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


@dataclass
class _File:
    pipeline: Any
    events: deque[Event]
    configs: deque[Config] = field(default_factory=lambda: deque(maxlen=CONFIGS_KEPT_PER_FILE))
    """The current run's Config events, from its run start on (a ``new_run`` config starts the list over)."""
    activity: float | None = None

    def keep(self, events: Sequence[Event]) -> None:
        self.events.extend(events)
        for event in events:
            if isinstance(event, Config):
                if event.new_run:
                    self.configs.clear()
                self.configs.append(event)

    def replay(self) -> list[Event]:
        """What rebuilds an estimator for this file: the configs older than the kept window, then the window."""
        first = self.events[0].record if self.events else None
        older = [c for c in self.configs if first is None or c.record < first]
        return [*older, *self.events]


class RunWorker:
    """Follows one run: source -> per-file pipelines -> leader file -> estimator -> estimate and diagnosis."""

    def __init__(
        self,
        run: RunConfig,
        *,
        clock: Callable[[], float] = time.time,
        open_source: Callable[..., Source],
        make_pipeline: Callable[..., Any],
        make_estimator: Callable[..., Any],
        gpus: Callable[[], Sequence[GpuSnapshot]] = tuple,
        diagnose_fn: Callable[[Estimate, Sequence[GpuSnapshot]], Diagnosis] = diagnose,
    ) -> None:
        self.run = run
        self._clock = clock
        self._open_source = open_source
        self._make_pipeline = make_pipeline
        self._make_estimator = make_estimator
        self._gpus = gpus
        self._diagnose = diagnose_fn
        self._source: Source | None = None
        self._files: dict[str, _File] = {}
        self._leader: str | None = None
        self._leaderless: set[str] = set()
        """Files whose events reached the estimator while no file led (the first leader may need a rebuild)."""
        self._estimator = make_estimator(total_iterations=run.total_iterations, clock=clock)
        self._lock = threading.Lock()
        self._state = RunState(run=run.run, source=run.log, deadline_timestamp_seconds=run.deadline_timestamp_seconds)
        self._last_error = ""
        self._estimated_at: float | None = None
        self._estimate = Estimate()
        self._diagnosis: Diagnosis | None = None
        self._split: TimeSplit | None = None
        self._split_at: float | None = None
        self._read_error: str | None = None
        self._failed_polls = 0
        self._pace_history: tuple[tuple[float, float], ...] = ()

    @property
    def leader(self) -> str | None:
        """The path whose events currently feed the estimator."""
        return self._leader

    @property
    def behind(self) -> bool:
        """Whether the source has more already written than its last poll read (the loop polls again at once)."""
        return self._source is not None and self._source.behind

    def state(self) -> RunState:
        with self._lock:
            return self._state

    def step(self) -> None:
        """One poll cycle; never raises: a failure marks the run's log collector down until the next success.

        The estimate and diagnosis are recomputed at every poll once the source has caught up, and at most every
        ``ESTIMATE_SECONDS`` while it is behind; the read counters are published at every poll that read records.
        """
        now = self._clock()
        try:
            if self._source is None:
                self._source = self._open_source(self.run.log, clock=self._clock)
            records = self._source.poll()
            self._note_read_error(self._source.last_error)
            self._ingest(records)
            self._prune(self._source.paths)
            if self._leader is not None and not self.behind and self._estimator.wants_last_time:
                # History without record times ends no later than the file's last write.
                written = modified_time(self._leader)
                if written is not None:
                    self._estimator.assume_last_time(written)
            due = self._estimated_at is None or not now - ESTIMATE_SECONDS < self._estimated_at <= now
            if due or not self.behind or not self._state.up:
                self._estimate = self._estimator.estimate(now=self._clock())
                self._diagnosis = self._diagnose(self._estimate, tuple(self._gpus()))
                self._estimated_at = now
                if not self.behind and (self._split_at is None or not 0 <= now - self._split_at < TIME_SPLIT_SECONDS):
                    self._split = self._estimator.time_split(self._estimate)
                    self._pace_history = self._estimator.pace_history()
                    self._split_at = now
            elif not records:
                return
        except Exception as exc:  # noqa: BLE001 - one bad poll must not kill the worker thread
            self._failed_polls += 1
            message = f"{type(exc).__name__}: {exc}"
            if message != self._last_error:
                log.warning("run %s: reading %s failed: %s", self.run.run, self.run.log, message)
                self._last_error = message
            with self._lock:
                self._state = _replace(self._state, up=False, error=message)
            return
        self._last_error = ""
        self._publish(self._estimate, self._diagnosis, now)

    def _note_read_error(self, error: str | None) -> None:
        """Log a log that cannot be read once when it starts and once when it ends, not at every poll."""
        if error == self._read_error:
            return
        if error is not None:
            log.warning("run %s: cannot read %s", self.run.run, error)
        else:
            log.info("run %s: %s is readable again", self.run.run, self.run.log)
        self._read_error = error

    def _prune(self, followed: Sequence[str]) -> None:
        """Forget files the source no longer follows (a glob's vanished files), except the leader: per-file
        history is bounded, but a glob that sees thousands of short-lived files must not keep them all."""
        live = set(followed)
        for path in [p for p in self._files if p not in live and p != self._leader]:
            del self._files[path]
            self._leaderless.discard(path)

    def close(self) -> None:
        if self._source is not None:
            try:
                self._source.close()
            except Exception as exc:  # noqa: BLE001 - closing is best effort at shutdown
                log.debug("run %s: close failed: %s", self.run.run, exc)

    def _ingest(self, records: Sequence[Record]) -> None:
        new_events: dict[str, list[Event]] = {}
        mtimes: dict[str, float | None] = {}
        for record in records:
            path = record.source or self.run.log
            entry = self._files.get(path)
            if entry is None:
                entry = _File(self._make_pipeline(format=self.run.format), deque(maxlen=EVENTS_KEPT_PER_FILE))
                self._files[path] = entry
            events = entry.pipeline.feed(record)
            if not events:
                continue
            entry.keep(events)
            new_events.setdefault(path, []).extend(events)
            if any(isinstance(event, Progress) for event in events):
                when = record.time
                if when is None:
                    if path not in mtimes:
                        mtimes[path] = modified_time(path)
                    when = mtimes[path]
                if when is not None:
                    entry.activity = when if entry.activity is None else max(entry.activity, when)
                elif entry.activity is None:
                    entry.activity = self._clock()
        leader = self._choose_leader()
        previous, self._leader = self._leader, leader
        if leader is None:
            # No file has progress yet: configs still reach the estimator (totals, intervals).
            for path, events in new_events.items():
                self._leaderless.add(path)
                for event in events:
                    self._estimator.observe(event)
            return
        if previous is not None and leader != previous:
            log.info("run %s: following %s (was %s)", self.run.run, leader, previous)
        if leader != previous and (previous is not None or self._leaderless - {leader}):
            # Another file's events reached the estimator: start over from this file's own.
            self._estimator = self._make_estimator(total_iterations=self.run.total_iterations, clock=self._clock)
            for event in self._files[leader].replay():
                self._estimator.observe(event)
        else:
            # The same leader, or a first leader that alone fed the estimator: only this poll's events are new.
            for event in new_events.get(leader, ()):
                self._estimator.observe(event)
        self._leaderless.clear()

    def _status(self, estimate: Estimate, records: int) -> str:
        files = self._source.files if self._source is not None else 0
        return _status_words(self.run, error=self._read_error, files=files, estimate=estimate, records=records)

    def _choose_leader(self) -> str | None:
        active = {path: entry.activity for path, entry in self._files.items() if entry.activity is not None}
        if not active:
            return None
        followed = set(self._source.paths) if self._source is not None else set()
        if followed & active.keys():
            # A deleted file stops leading at once when a followed one has progress (not 30 s later).
            active = {path: when for path, when in active.items() if path in followed}
        newest = max(active.values())
        candidates = [path for path, when in active.items() if when >= newest - LEADER_SWITCH_SECONDS]
        if self._leader in candidates:
            return self._leader
        return min(candidates, key=_natural_key)

    def _publish(self, estimate: Estimate, diagnosis: Diagnosis | None, now: float) -> None:
        stats = self._source.stats if self._source is not None else SourceStats()
        pipelines = [entry.pipeline for entry in self._files.values()]
        leader = self._files.get(self._leader) if self._leader else None
        fmt = getattr(leader.pipeline, "format", None) if leader else None
        if not fmt:
            fmt = next((p.format for p in pipelines if getattr(p, "format", None)), None) or self.run.format or ""
        files = self._source.files if self._source is not None else 0
        state = RunState(
            run=self.run.run,
            source=self.run.log,
            format=fmt,
            estimate=estimate,
            diagnosis=diagnosis,
            time_split=self._split,
            pace_history=self._pace_history,
            deadline_timestamp_seconds=self.run.deadline_timestamp_seconds,
            records_read=stats.records,
            records_parsed=sum(getattr(p, "parsed", 0) for p in pipelines),
            records_unparsed=sum(getattr(p, "unparsed", 0) for p in pipelines),
            errors=(
                ("parse", sum(getattr(p, "parser_errors", 0) for p in pipelines)),
                ("check", sum(getattr(p, "rejected", 0) for p in pipelines)),
                ("poll", self._failed_polls),
            ),
            oversized_records=stats.oversized_records,
            rotations=stats.rotations,
            truncations=stats.truncations,
            read_errors=stats.read_errors,
            files=files,
            up=self._read_error is None,
            log_readable=self._read_error is None,
            status=self._status(estimate, stats.records),
            error=self._read_error or "",
            last_success_timestamp_seconds=now if self._read_error is None else self._state.last_success_timestamp_seconds,
        )
        with self._lock:
            self._state = state


def _status_words(run: RunConfig, *, error: str | None, files: int, estimate: Estimate, records: int) -> str:
    if error is not None:
        return f"cannot read {error}"
    if files == 0 and estimate.iteration is None:
        return f"waiting for {run.log} to appear"
    if estimate.iteration is None:
        if records == 0:
            return f"{run.log} has no records yet"
        tried = run.format or "every known format"
        return f"no progress line recognised in {records} records (tried: {tried})"
    return ""


def _replace(state: RunState, **changes: Any) -> RunState:
    values = {name: getattr(state, name) for name in RunState.__dataclass_fields__}
    values.update(changes)
    return RunState(**values)


class Runtime:
    """Owns the run workers and the GPU sampler; the collector and the HTTP page read from it."""

    def __init__(
        self,
        workers: Sequence[RunWorker],
        *,
        gpu_sampler: Any | None = None,
        poll_seconds: float = 0.25,
    ) -> None:
        self.workers = list(workers)
        self.gpu_sampler = gpu_sampler
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the GPU sampler and one thread per run; the first poll happens at once."""
        if self.gpu_sampler is not None:
            self.gpu_sampler.start()
        for worker in self.workers:
            thread = threading.Thread(target=self._loop, args=(worker,), name=f"run-{worker.run.run}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _loop(self, worker: RunWorker) -> None:
        while True:
            started = time.monotonic()
            worker.step()
            # Catching up: the next bounded read at once (no sleep), so history is read at full speed.
            wait = 0.0 if worker.behind else max(0.0, self.poll_seconds - (time.monotonic() - started))
            if self._stop.wait(wait):
                break

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        for worker in self.workers:
            worker.close()
        if self.gpu_sampler is not None:
            self.gpu_sampler.stop()

    def alive(self) -> bool:
        """All run threads are running (for /healthz)."""
        return bool(self._threads) and all(thread.is_alive() for thread in self._threads)

    def runs(self) -> list[RunState]:
        return [worker.state() for worker in self.workers]

    def gpu(self) -> GpuState | None:
        """GPU collector state, or None when GPU reporting is disabled."""
        sampler = self.gpu_sampler
        if sampler is None:
            return None
        last = getattr(sampler, "last_success_timestamp", None)
        return GpuState(
            up=bool(sampler.up),
            last_success_timestamp_seconds=last if last else None,
            snapshots=tuple(sampler.snapshots()),
            errors=dict(getattr(sampler, "errors", {}) or {}),
            down_reason=getattr(sampler, "down_reason", None),
            utilization_history=sampler.utilization_history(),
        )

    def gpu_snapshots(self) -> tuple[GpuSnapshot, ...]:
        """Current GPU snapshots for the diagnosis (empty when disabled or down)."""
        if self.gpu_sampler is None:
            return ()
        return tuple(self.gpu_sampler.snapshots())
