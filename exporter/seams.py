"""The typed seams between the runtime and what it drives: one ``Protocol`` per seam, each met by the real class
(named in its docstring) and by the tests' doubles, so nothing needs ``Any`` or ``getattr``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

from exporter.estimate.model import Estimate
from exporter.estimate.phases import TimeSplit
from exporter.events import Event, ProgressColumns
from exporter.formats.base import Parser
from exporter.gpu.snapshot import GpuSnapshot
from exporter.pipeline import Fed
from exporter.sources.base import Source
from exporter.sources.record import Record, RecordBlock


class PipelineLike(Protocol):
    """Records in, events out, with counters (``exporter.pipeline.Pipeline``)."""

    parsed: int
    rejected: int

    @property
    def format(self) -> str | None: ...

    @property
    def unparsed(self) -> int: ...

    @property
    def parser_errors(self) -> int: ...

    def feed_many(self, records: Iterable[Record | RecordBlock]) -> Iterator[Fed]: ...


class EstimatorLike(Protocol):
    """Events in, estimates out (``exporter.estimate.Estimator``)."""

    @property
    def wants_last_time(self) -> bool: ...

    def observe(self, event: Event | ProgressColumns) -> None: ...

    def estimate(self, *, now: float | None = None) -> Estimate: ...

    def assume_last_time(self, time: float) -> None: ...

    def time_split(self, estimate: Estimate) -> TimeSplit: ...

    def pace_history(self) -> tuple[tuple[float, float], ...]: ...


class PipelineFactory(Protocol):
    def __call__(self, *, parsers: Sequence[Callable[[], Parser]]) -> PipelineLike: ...


class EstimatorFactory(Protocol):
    def __call__(self, *, total_iterations: int | None = None, total_epochs: int | None = None,
                 clock: Callable[[], float] = ...) -> EstimatorLike: ...


class SourceFactory(Protocol):
    def __call__(self, spec: str, *, clock: Callable[[], float] = ...) -> Source: ...


class GpuSamplerLike(Protocol):
    """The GPU collector's thread and what it last read (``exporter.gpu.sampler.GpuSampler``)."""

    @property
    def up(self) -> bool: ...

    @property
    def last_success_timestamp(self) -> float | None: ...

    @property
    def errors(self) -> dict[str, int]: ...

    @property
    def down_reason(self) -> str | None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def snapshots(self) -> Sequence[GpuSnapshot]: ...

    def utilization_history(self) -> tuple[tuple[float, float], ...]: ...
