"""A run's streams of progress: a file of a glob, or a rank a launcher tags inside a file; each with its own
estimator. The worker keys them by (path, rank) and orders them naturally (rank 2 before rank 10)."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from exporter.events import Config
from exporter.seams import EstimatorLike, PipelineLike

CONFIGS_KEPT_PER_FILE = 1_000
"""A file's Config events kept for ranks that appear later (bounded against a log that repeats its config on every
line; the oldest go first)."""


StreamKey = tuple[str, int | None]
"""(file path, rank tag or None)."""


def natural_key(key: StreamKey) -> tuple[list[int | str], int]:
    path, rank = key
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)], -1 if rank is None else rank


@dataclass
class FileState:
    pipeline: PipelineLike
    configs: deque[Config] = field(default_factory=lambda: deque(maxlen=CONFIGS_KEPT_PER_FILE))
    """The file's Config events since its latest run start, for its ranks that appear later."""
    ranks: int = 0


@dataclass
class Stream:
    estimator: EstimatorLike
    activity: float | None = None
    """Time of the latest progress record."""


def label(key: StreamKey) -> str:
    path, rank = key
    return path if rank is None else f"{path} rank {rank}"
