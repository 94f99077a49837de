"""The simulated trainer and the ``demo`` command (started as a subprocess, scraped, stopped by PID)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from exporter.events import Checkpoint, Config, Eval, Progress
from exporter.pipeline import read_events
from exporter.simulator import Schedule, SimulatedClock, Simulator
from exporter.simulator import main as simulator_main


class FakeTime:
    """Wall and monotonic clocks that only move when told to (sleep_until advances them)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def wall(self) -> float:
        return 1_700_000_000.0

    def monotonic(self) -> float:
        return self.now


def fast_simulator(path: Path, schedule: Schedule) -> tuple[Simulator, SimulatedClock]:
    fake = FakeTime()
    clock = SimulatedClock(10.0, wall=fake.wall, monotonic=fake.monotonic)

    class Stop(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            fake.now += timeout or 0.0
            return False

    simulator = Simulator(str(path), schedule=schedule, clock=clock, seed=1)
    simulator.run(Stop())
    return simulator, clock


SMALL = Schedule(max_iters=200, eval_interval=50, log_interval=10, seconds_per_iteration=0.5,
                 compile_seconds=20.0, eval_seconds=4.0, stall_start_ratio=0.5, stall_end_ratio=0.75,
                 stall_factor=4.0)


def test_simulated_log_is_understood_as_nanogpt(tmp_path: Path) -> None:
    path = tmp_path / "train.log"
    simulator, _ = fast_simulator(path, SMALL)
    events = read_events(path)
    assert {e.format for e in events} == {"nanogpt"}
    config = [e for e in events if isinstance(e, Config)]
    assert any(e.total_iterations == 200 for e in config) and any(e.eval_interval == 50 for e in config)
    progress = [e for e in events if isinstance(e, Progress)]
    assert [p.iteration for p in progress] == list(range(0, 201, 10))
    seconds = {p.iteration: p.iteration_seconds for p in progress}
    assert seconds[0] == 24.0  # compile warm-up plus the eval at step 0
    assert 0.4 < seconds[10] < 0.6 and 1.6 < seconds[110] < 2.4  # steady, then 4x slower in the stall
    assert 4.4 < seconds[50] < 4.6  # eval time lands in the eval iteration
    assert 0.4 < seconds[160] < 0.6  # recovered
    assert [e.iteration for e in events if isinstance(e, Eval)] == [0, 50, 100, 150, 200]
    assert len([e for e in events if isinstance(e, Checkpoint)]) == 4
    assert simulator.iteration == 200 and simulator.phase == "done"


def test_phases_drive_fake_gpu_utilization(tmp_path: Path) -> None:
    simulator, clock = fast_simulator(tmp_path / "train.log", SMALL)
    start = 1_700_000_000.0
    util = simulator.gpu_utilization(0)
    assert simulator.phase_at(start - 1) == "starting"
    assert simulator.phase_at(start + 2) == "eval" and 50 < util(start + 2) < 60
    assert simulator.phase_at(start + 10) == "compile" and util(start + 10) < 20
    # Training between the compile (ends at 24 s) and the next eval.
    assert simulator.phase_at(start + 30) == "train" and util(start + 30) > 90
    stall_time = start + 24 + 99 * 0.5 + 2 * 4 + 10
    assert simulator.phase_at(stall_time) == "stall"
    readings = [util(stall_time + i * 0.05) for i in range(40)]
    assert min(readings) < 5 and max(readings) > 90
    assert util(clock() + 1) == 0.0


def test_simulator_main_writes_the_log(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "t.log"
    assert simulator_main(["--log", str(path), "--speed", "100000", "--max-iters", "100"]) == 0
    assert "iter 100: loss" in path.read_text()


def scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        match = re.match(r'(training_(?:iteration|eta_seconds)){run="demo"} (\S+)$', line)
        if match:
            values[match.group(1)] = float(match.group(2))
    return values


def test_demo_serves_moving_eta(tmp_path: Path) -> None:
    log = tmp_path / "demo.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter", "demo", "--speed", "150", "--web.listen-address", "127.0.0.1:0",
         "--log-file", str(log), "--log.level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 30
        lines = []
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            match = re.match(r"metrics:\s+(http://127\.0\.0\.1:\d+/metrics)", line)
            if match:
                url = match.group(1)
        assert url, lines
        assert f"simulated trainer log: {log}\n" in lines
        first: dict[str, float] = {}
        while "training_eta_seconds" not in first and time.monotonic() < deadline:
            time.sleep(0.2)
            first = scrape(url)
        second = first
        while second.get("training_iteration") == first.get("training_iteration") and time.monotonic() < deadline:
            time.sleep(0.3)
            second = scrape(url)
        assert second["training_iteration"] > first["training_iteration"]
        assert second["training_eta_seconds"] != first["training_eta_seconds"]
        with urllib.request.urlopen(url.replace("/metrics", "/"), timeout=5) as response:
            assert "demo" in response.read().decode()
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        stderr = process.stderr.read()
        process.stdout.close()
        process.stderr.close()
    assert code == 0, stderr
    assert "Traceback" not in stderr
