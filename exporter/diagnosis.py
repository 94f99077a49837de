"""PLACEHOLDER: diagnosis of the likely cause of slowness (being written)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from exporter.estimate.model import Estimate
from exporter.gpu.snapshot import GpuSnapshot

CAUSES = ("input_bound", "throttled", "eval_or_checkpoint", "stalled", "compute_slowdown", "healthy")


@dataclass(slots=True)
class Diagnosis:
    cause: str
    hint: str


def diagnose(estimate: Estimate, gpus: Sequence[GpuSnapshot] = ()) -> Diagnosis:
    return Diagnosis("healthy", "")
