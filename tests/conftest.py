"""Shared test helpers: the injected clock (tests step time, they never sleep for it), golden files (rewritten with
``pytest --snapshot-update``), a live sidecar on a real log and a real log's records as a follower hands them over."""

from __future__ import annotations

import contextlib
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from exporter.commands.serve import Sidecar

DATA = Path(__file__).parent / "data"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def records(path: Path) -> list[str]:
    """A log's records as the follower hands them over: split at \\n, \\r\\n and lone \\r, ANSI escapes removed."""
    text = path.read_bytes().decode("utf-8", "replace")
    return [_ANSI.sub("", record) for record in re.split(r"\r\n|\n|\r", text)]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--snapshot-update", action="store_true",
                     help="rewrite golden files from what the code produces now (review the diff before committing)")


class Golden:
    """Compares text with a golden file; ``--snapshot-update`` rewrites the file instead."""

    def __init__(self, update: bool) -> None:
        self.update = update

    def check(self, path: Path, text: str) -> None:
        if self.update:
            path.write_text(text)
        assert text == path.read_text(), f"{path.name} differs; after an intended change: pytest --snapshot-update"


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    return Golden(bool(request.config.getoption("--snapshot-update")))


@contextlib.contextmanager
def must_finish(seconds: float = 60.0) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the block runs past ``seconds``: a guard against catastrophic
    regex backtracking and the like, not a speed target (those live in benchmarks/)."""

    def expired(signum: int, frame: object) -> None:
        raise AssertionError(f"still running after {seconds:.0f} s: a hang, not a slow machine")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Clock:
    """Injected time: tests advance it instead of sleeping."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += seconds


def half_real_log_sidecar(log: Path, *, gpus: int) -> tuple[Sidecar, bytes]:
    """A started sidecar (fake GPUs, fast polls) following ``log``, which holds the real nanoGPT log up to
    ``iter 1500:``; returns it with the rest of that log, for the test to append."""
    from exporter.commands.serve import build_sidecar
    from exporter.config import ListenAddress, RunConfig, Settings
    from exporter.gpu.fake import FakeDeviceLayer

    data = (DATA / "real_ng_perturbed.log").read_bytes()
    half = data.index(b"iter 1500:")
    log.write_bytes(data[:half])
    config = Settings(runs=(RunConfig("gpt", str(log)),), listen=ListenAddress("127.0.0.1", 0), log_poll_seconds=0.05,
                    gpu_poll_seconds=0.05)
    sidecar = build_sidecar(config, gpu_layer=FakeDeviceLayer(gpus))
    sidecar.start()
    return sidecar, data[half:]
