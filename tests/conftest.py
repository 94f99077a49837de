"""Shared test helpers: the injected clock (tests step time, they never sleep for it)."""

from __future__ import annotations


class Clock:
    """Injected time: tests advance it instead of sleeping."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += seconds
