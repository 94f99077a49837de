"""Following one run: its log source, per-file pipelines, per-stream estimators, and the state a scrape reads.

``RunWorker.step()`` is one poll (the runtime calls it from the run's thread): read what is new, feed records
through the format pipeline into estimators, and store the latest ``RunState`` (``exporter.state``, computed with
``now = clock()``) for scrapes to read under a lock.

A run may hold several *streams* of progress: the files of a glob (``rank*.log``, ``run-*.log``) and the ranks
that a launcher tags inside one file (``[rank3]:``). Each stream has its own estimator, so interleaved ranks never
look like a counter that restarts, and one stream *leads* the run's figures, so the iteration never ping-pongs:

- each file gets its own ``Pipeline`` (format detection and multi-line state are per file and rank); a file's
  Config events (its size and schedule) reach every stream of that file, since its ranks share them;
- a stream's activity time is the time of its latest progress record (the record's own time, else the file's
  modification time for history read at start-up);
- candidates are the followed streams whose activity is within ``LEADER_SWITCH_SECONDS`` of the most recent one
  (a deleted file stops leading at once); the leader stays while it is a candidate, otherwise the candidate with
  the lowest natural-sorted key (rank 0 before rank 1, ``rank2.log`` before ``rank10.log``) leads;
- two or more candidates are ranks of one job: each gets its own iteration, pace and ETA (``RunState.ranks``) and
  the run a straggler ratio (slowest pace over the median's).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import groupby

from exporter.diagnosis import Diagnosis, diagnose
from exporter.estimate import Estimator
from exporter.estimate.model import Estimate
from exporter.estimate.phases import TimeSplit
from exporter.events import Config, Progress, ProgressColumns, for_rank
from exporter.gpu.snapshot import GpuSnapshot
from exporter.pipeline import Pipeline, resolve_format
from exporter.seams import EstimatorFactory, EstimatorLike, PipelineFactory, SourceFactory
from exporter.sources import open_source as default_open_source
from exporter.sources.base import Checkpoint, Source, modified_time
from exporter.sources.record import Record, RecordBlock, SourceStats
from exporter.state import RankState, RunState, status_words
from exporter.statefile import SAVE_SECONDS, StateFile
from exporter.streams import FileState, Stream, StreamKey, label, natural_key

log = logging.getLogger("exporter.runtime")

LEADER_SWITCH_SECONDS = 30.0
"""How long the leading stream may be silent while another one advances before the other one leads."""
ESTIMATE_SECONDS = 1.0
"""Least interval between two estimates while catching up on history (only the caught-up state matters). Once
caught up, every poll estimates: states that depend on the clock (evaluating, stalled) and the ETA countdown must
follow at the poll rate, and one estimate costs well under a millisecond."""
TIME_SPLIT_SECONDS = 5.0
"""Least interval between two time splits and per-rank estimates (O(history) and O(ranks) each; neither needs a 4 Hz
refresh)."""
STREAMS_PER_FILE = 64
"""Ranks followed per file; events of further ranks are counted (``errors_total{stage="ranks"}``) and skipped."""


@dataclass(frozen=True, slots=True)
class RunConfig:
    """One followed training run: its ``run`` label, the log path/glob and what the log may not say itself."""

    run: str
    log: str
    format: str | None = None
    total_iterations: int | None = None
    deadline_timestamp_seconds: float | None = None
    total_epochs: int | None = None


class RunWorker:
    """Follows one run: source -> per-file pipelines -> per-stream estimators -> the leader's estimate."""

    def __init__(
        self,
        run: RunConfig,
        *,
        clock: Callable[[], float] = time.time,
        open_source: SourceFactory = default_open_source,
        make_pipeline: PipelineFactory = Pipeline,
        make_estimator: EstimatorFactory = Estimator,
        gpus: Callable[[], Sequence[GpuSnapshot]] = tuple,
        diagnose_fn: Callable[[Estimate, Sequence[GpuSnapshot]], Diagnosis] = diagnose,
        state_file: StateFile | None = None,
    ) -> None:
        self.run = run
        self._clock = clock
        self._open_source = open_source
        self._make_pipeline = make_pipeline
        self._parsers = resolve_format(run.format)
        """The run's format resolved once for all its files."""
        self._make_estimator = make_estimator
        self._gpus = gpus
        self._diagnose = diagnose_fn
        self._source: Source | None = None
        self._files: dict[str, FileState] = {}
        self._streams: dict[StreamKey, Stream] = {}
        self._leader: StreamKey | None = None
        self._candidates: list[StreamKey] = []
        self._unheld = self._new_estimator()
        """The estimator shown while no stream has progress (configs only: totals, intervals)."""
        self._lock = threading.Lock()
        self._state = RunState(run=run.run, source=run.log, deadline_timestamp_seconds=run.deadline_timestamp_seconds)
        self._last_error = ""
        self._estimated_at: float | None = None
        self._estimate = Estimate()
        self._diagnosis: Diagnosis | None = None
        self._ranks: tuple[RankState, ...] = ()
        self._ranked: tuple[StreamKey, ...] = ()  # the candidates ``_ranks`` was computed for
        self._split: TimeSplit | None = None
        self._split_at: float | None = None
        self._read_error: str | None = None
        self._failed_polls = 0
        self._skipped_ranks = 0
        self._pace_history: tuple[tuple[float, float], ...] = ()
        self._state_file = state_file
        self._saved_at: float | None = None
        self._saved_where: tuple[tuple[str, int, int], ...] | None = None
        """(path, inode, offset) per file at the last save that was written."""

    @property
    def leader(self) -> str | None:
        """The path whose events currently feed the run's figures."""
        return self._leader[0] if self._leader is not None else None

    @property
    def behind(self) -> bool:
        """Whether the source has more already written than its last poll read (the loop polls again at once)."""
        return self._source is not None and self._source.behind

    def state(self) -> RunState:
        with self._lock:
            return self._state

    def _new_estimator(self) -> EstimatorLike:
        return self._make_estimator(total_iterations=self.run.total_iterations, total_epochs=self.run.total_epochs,
                                    clock=self._clock)

    @property
    def _estimator(self) -> EstimatorLike:
        return self._streams[self._leader].estimator if self._leader is not None else self._unheld

    def step(self) -> None:
        """One poll cycle; never raises: a failure marks the run's log collector down until the next success.

        The estimate and diagnosis are recomputed at every poll once the source has caught up, and at most every
        ``ESTIMATE_SECONDS`` while it is behind; the read counters are published at every poll that read records.
        """
        now = self._clock()
        try:
            if self._source is None:
                self._source = self._open_source(self.run.log, clock=self._clock)
                self._restore()
            records = self._source.poll()
            self._note_read_error(self._source.last_error)
            self._ingest(records)
            self._prune(self._source.paths)
            estimator = self._estimator
            if self._leader is not None and not self.behind and estimator.wants_last_time:
                # History without record times ends no later than the file's last write.
                written = modified_time(self._leader[0])
                if written is not None:
                    estimator.assume_last_time(written)
            due = self._estimated_at is None or not now - ESTIMATE_SECONDS < self._estimated_at <= now
            if due or not self.behind or not self._state.up:
                self._estimate = estimator.estimate(now=self._clock())
                self._diagnosis = self._diagnose(self._estimate, tuple(self._gpus()))
                self._estimated_at = now
                if not self.behind and (self._split_at is None or not 0 <= now - self._split_at < TIME_SPLIT_SECONDS):
                    self._split = estimator.time_split(self._estimate)
                    self._pace_history = estimator.pace_history()
                    self._split_at = now
                    self._ranks = self._rank_states(now)
                elif tuple(self._candidates) != self._ranked:
                    # One estimate per rank: at the split's cadence (64 ranks at 4 Hz would add up), and at once
                    # when ranks come or go.
                    self._ranks = self._rank_states(now)
            elif not records:
                return
        except Exception as exc:  # noqa: BLE001 - one bad poll must not kill the worker thread
            self._failed_polls += 1
            message = f"{type(exc).__name__}: {exc}"
            if message != self._last_error:
                log.warning("run %s: reading %s failed: %s", self.run.run, self.run.log, message)
                self._last_error = message
            with self._lock:
                self._state = replace(self._state, up=False, error=message)
            return
        self._last_error = ""
        self._publish(now)
        if self._saved_at is None or not 0 <= now - self._saved_at < SAVE_SECONDS:
            try:
                self._save(now)
            except Exception as exc:  # noqa: BLE001 - a state file is a convenience; reading goes on without it
                log.warning("run %s: saving the state file failed: %s", self.run.run, exc)
                self._saved_at = now

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
        """Forget files the source no longer follows (a glob's vanished files), except the leader's: per-file
        state is bounded, but a glob that sees thousands of short-lived files must not keep them all."""
        keep = set(followed)
        if self._leader is not None:
            keep.add(self._leader[0])
        for path in [p for p in self._files if p not in keep]:
            del self._files[path]
        for key in [k for k in self._streams if k[0] not in keep]:
            del self._streams[key]

    _SAVED = ("_files", "_streams", "_leader", "_candidates", "_unheld", "_failed_polls", "_skipped_ranks",
              "_estimate", "_diagnosis", "_ranks", "_split", "_pace_history", "_state")
    """What a state file holds of the worker: everything read so far, nothing about threads, files or callables."""

    def _save(self, now: float) -> None:
        if self._state_file is None or self._source is None:
            return
        checkpoint = self._source.checkpoint()
        if checkpoint is None:
            return
        self._saved_at = now
        where = tuple((p.path, p.inode, p.offset) for p in checkpoint.positions)
        if where == self._saved_where:
            return  # nothing read since the last save: the file on disk says the same (no write every 5 s forever)
        payload = {name: getattr(self, name) for name in self._SAVED}
        payload["source"] = checkpoint
        if self._state_file.save(payload, self._clock):
            self._saved_where = where

    def _restore(self) -> None:
        """Continue from the state file when it describes this very file; otherwise read the log from its start."""
        if self._state_file is None or self._source is None:
            return
        payload = self._state_file.load(self._clock)
        if payload is None:
            return
        checkpoint = payload.get("source")
        if not isinstance(checkpoint, Checkpoint) or not self._source.resume(checkpoint):
            log.warning("run %s: %s changed since the state file was written (rotated, truncated or replaced); "
                        "reading it from its start", self.run.run, self.run.log)
            return
        for name in self._SAVED:
            setattr(self, name, payload[name])
        log.info("run %s: continuing %s where it stopped (%s) from %s", self.run.run, self.run.log,
                 ", ".join(f"{p.path} at byte {p.offset}" for p in checkpoint.positions) or "no file yet",
                 self._state_file.path)

    def close(self) -> None:
        self._save(self._clock())
        if self._source is not None:
            try:
                self._source.close()
            except Exception as exc:  # noqa: BLE001 - closing is best effort at shutdown
                log.debug("run %s: close failed: %s", self.run.run, exc)

    def _ingest(self, records: Sequence[Record | RecordBlock]) -> None:
        mtimes: dict[str, float | None] = {}
        for path, group in groupby(records, key=lambda record: record.source or self.run.log):
            entry = self._files.get(path)
            if entry is None:
                entry = self._files[path] = FileState(self._make_pipeline(parsers=self._parsers))
            for fed in entry.pipeline.feed_many(group):
                if isinstance(fed, ProgressColumns):
                    stream = self._stream(path, entry, None)
                    if stream is not None:
                        stream.estimator.observe(fed)
                        times = fed.times if fed.times is not None else [None]
                        stamped = [t for t in times if t is not None]
                        if len(stamped) < len(times):
                            self._touch(stream, path, None, mtimes)
                        if stamped:
                            self._touch(stream, path, max(stamped), mtimes)
                    continue
                record, events = fed
                for event in events:
                    if isinstance(event, Config):
                        self._share_config(path, entry, event)
                        continue
                    stream = self._stream(path, entry, event.rank)
                    if stream is None:
                        continue
                    stream.estimator.observe(event)
                    if isinstance(event, Progress):
                        self._touch(stream, path, record.time, mtimes)
        self._choose_leader()

    def _touch(self, stream: Stream, path: str, when: float | None, mtimes: dict[str, float | None]) -> None:
        """The stream made progress in a record of ``when`` (None: a history line: the file's modification time,
        looked up once per poll)."""
        if when is None:
            if path not in mtimes:
                mtimes[path] = modified_time(path)
            when = mtimes[path]
        if when is None:
            when = self._clock()
        stream.activity = when if stream.activity is None else max(stream.activity, when)

    def _stream(self, path: str, entry: FileState, rank: int | None) -> Stream | None:
        """The stream of (path, rank), made on its first event with the file's configs so far."""
        key = (path, rank)
        stream = self._streams.get(key)
        if stream is not None:
            return stream
        if rank is not None:
            if entry.ranks >= STREAMS_PER_FILE:
                self._skipped_ranks += 1
                return None
            entry.ranks += 1
        stream = self._streams[key] = Stream(self._new_estimator())
        for config in entry.configs:
            stream.estimator.observe(for_rank(config, rank))
        return stream

    def _share_config(self, path: str, entry: FileState, config: Config) -> None:
        """A file's configuration (total, intervals, a new run) holds for all its ranks, whichever printed it."""
        if config.new_run:
            entry.configs.clear()
        entry.configs.append(config)
        streams = [(key, stream) for key, stream in self._streams.items() if key[0] == path]
        if not streams:
            self._unheld.observe(config)
        for (_, rank), stream in streams:
            stream.estimator.observe(for_rank(config, rank))

    def _choose_leader(self) -> None:
        active = {key: stream.activity for key, stream in self._streams.items() if stream.activity is not None}
        if not active:
            self._candidates = []
            return
        followed = set(self._source.paths) if self._source is not None else set()
        if any(path in followed for path, _ in active):
            # A deleted file stops leading at once when a followed one has progress (not 30 s later).
            active = {key: when for key, when in active.items() if key[0] in followed}
        newest = max(active.values())
        candidates = sorted((key for key, when in active.items() if when >= newest - LEADER_SWITCH_SECONDS),
                            key=natural_key)
        leader = self._leader if self._leader in candidates else candidates[0]
        if self._leader is not None and leader != self._leader:
            log.info("run %s: following %s (was %s)", self.run.run, label(leader), label(self._leader))
        self._leader = leader
        self._candidates = candidates

    def _rank_states(self, now: float) -> tuple[RankState, ...]:
        """Iteration, pace and ETA of each stream that advances with the leader, leader first."""
        self._ranked = tuple(self._candidates)
        if len(self._candidates) < 2:
            return ()
        one_file = len({path for path, _ in self._candidates}) == 1
        states = []
        for key in sorted(self._candidates, key=lambda k: (k != self._leader, natural_key(k))):
            estimate = self._estimate if key == self._leader else self._streams[key].estimator.estimate(now=now)
            name = str(key[1]) if one_file and key[1] is not None else label(key)
            states.append(RankState(name, estimate.iteration, estimate.seconds_per_iteration, estimate.eta_seconds))
        return tuple(states)

    def _publish(self, now: float) -> None:
        stats = self._source.stats if self._source is not None else SourceStats()
        pipelines = [entry.pipeline for entry in self._files.values()]
        leader = self._files.get(self._leader[0]) if self._leader is not None else None
        fmt = leader.pipeline.format if leader is not None else None
        if not fmt:
            fmt = next((p.format for p in pipelines if p.format), None) or self.run.format or ""
        files = self._source.files if self._source is not None else 0
        state = RunState(
            run=self.run.run,
            source=self.run.log,
            format=fmt,
            estimate=self._estimate,
            diagnosis=self._diagnosis,
            time_split=self._split,
            pace_history=self._pace_history,
            deadline_timestamp_seconds=self.run.deadline_timestamp_seconds,
            records_read=stats.records,
            records_parsed=sum(p.parsed for p in pipelines),
            records_unparsed=sum(p.unparsed for p in pipelines),
            errors=(
                ("parse", sum(p.parser_errors for p in pipelines)),
                ("check", sum(p.rejected for p in pipelines)),
                ("poll", self._failed_polls),
                ("ranks", self._skipped_ranks),
            ),
            oversized_records=stats.oversized_records,
            rotations=stats.rotations,
            truncations=stats.truncations,
            read_errors=stats.read_errors,
            files=files,
            up=self._read_error is None,
            log_readable=self._read_error is None,
            status=status_words(self.run.log, self.run.format, error=self._read_error, files=files,
                                iteration=self._estimate.iteration, records=stats.records, behind=self.behind),
            catching_up=self.behind,
            error=self._read_error or "",
            last_success_timestamp_seconds=now if self._read_error is None else self._state.last_success_timestamp_seconds,
            ranks=self._ranks,
        )
        with self._lock:
            self._state = state
