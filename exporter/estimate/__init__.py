"""Pace, ETA with a calibrated range, regressions and stalls, from progress events."""

from exporter.estimate.estimator import Estimator
from exporter.estimate.model import STATES, TRENDS, Estimate

__all__ = ["STATES", "TRENDS", "Estimate", "Estimator"]
