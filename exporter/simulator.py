"""A simulated nanoGPT-style trainer: the trainer of ``demo`` and of the docker-compose demo.

It writes what ``python train.py`` of nanoGPT prints: the config echo (``Overriding: max_iters = …``), a
torch.compile warm-up folded into iteration 0, a steady pace, an eval + checkpoint every ``eval_interval``
iterations whose time lands in that iteration, a data-loader stall phase (iterations several times slower while
the GPU idles between batches) and a recovery. Time runs ``speed`` times faster than the wall clock, and the
same simulated clock drives the fake GPUs (``utilization_percent``) so their utilization follows the phases.

Run it alone (the docker-compose trainer)::

    python -m exporter.simulator --log /logs/train.log --speed 1 --loop
"""

from __future__ import annotations

import argparse
import bisect
import math
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

PHASES = ("starting", "compile", "train", "eval", "stall", "done")


@dataclass(frozen=True, slots=True)
class Schedule:
    """The simulated run's shape, in simulated seconds and iterations."""

    max_iters: int = 3000
    eval_interval: int = 250
    log_interval: int = 10
    seconds_per_iteration: float = 0.25
    compile_seconds: float = 30.0
    eval_seconds: float = 8.0
    stall_start_ratio: float = 0.5
    stall_end_ratio: float = 0.65
    stall_factor: float = 4.0
    """Iterations during the data-loader stall take this many times longer; the GPU waits the difference."""
    jitter: float = 0.05
    """Relative standard deviation of a normal iteration's time."""

    @property
    def stall_iterations(self) -> tuple[int, int]:
        return int(self.max_iters * self.stall_start_ratio), int(self.max_iters * self.stall_end_ratio)


class SimulatedClock:
    """Unix time that runs ``speed`` times faster than the wall clock from the moment it is created."""

    def __init__(self, speed: float = 1.0, *, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.speed = speed
        self._start_wall = wall()
        self._start_mono = monotonic()
        self._monotonic = monotonic

    def __call__(self) -> float:
        return self._start_wall + (self._monotonic() - self._start_mono) * self.speed

    def sleep_until(self, when: float, stop: threading.Event) -> bool:
        """Sleep (in wall time) until the simulated time ``when``; False when ``stop`` was set first."""
        while True:
            remaining = (when - self()) / self.speed
            if remaining <= 0:
                return not stop.is_set()
            if stop.wait(min(remaining, 0.5)):
                return False


class Simulator:
    """Writes the simulated trainer's log and records its phases so fake GPUs can follow them."""

    def __init__(
        self,
        path: str,
        *,
        schedule: Schedule = Schedule(),
        clock: SimulatedClock | None = None,
        seed: int = 0,
        loop: bool = False,
    ) -> None:
        self.path = path
        self.schedule = schedule
        self.clock = clock or SimulatedClock()
        self.loop = loop
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._phase_times: list[float] = []
        self._phases: list[str] = []
        self.iteration = 0
        self.runs = 0

    # -- phases (read by fake GPUs from another thread) ------------------------------------------------------

    def _set_phase(self, phase: str, at: float) -> None:
        with self._lock:
            if not self._phases or self._phases[-1] != phase:
                self._phase_times.append(at)
                self._phases.append(phase)

    def phase_at(self, when: float) -> str:
        """The phase the trainer was in at simulated time ``when``."""
        with self._lock:
            index = bisect.bisect_right(self._phase_times, when) - 1
            return self._phases[index] if index >= 0 else "starting"

    @property
    def phase(self) -> str:
        return self.phase_at(self.clock())

    def gpu_utilization(self, gpu: int) -> Callable[[float], float]:
        """Busy percent of fake GPU ``gpu`` at a simulated time: what NVML would sample during each phase."""
        spi = self.schedule.seconds_per_iteration
        stall_period = spi * self.schedule.stall_factor

        def percent(when: float) -> float:
            phase = self.phase_at(when)
            wobble = 2.0 * math.sin(when * 1.7 + gpu)
            if phase == "train":
                return 96.0 + wobble
            if phase == "eval":
                return 55.0 + wobble
            if phase == "compile":
                return 15.0 + wobble
            if phase == "stall":
                # Busy for one normal iteration, then idle waiting for the next batch.
                return 95.0 if (when % stall_period) < spi else 2.0
            return 0.0

        return percent

    # -- writing ---------------------------------------------------------------------------------------------

    def header(self) -> list[str]:
        s = self.schedule
        return [
            "Overriding config with config/train_shakespeare_char.py:",
            "# train a miniature character-level shakespeare model (simulated by training-eta-exporter)",
            f"eval_interval = {s.eval_interval}",
            "eval_iters = 200",
            f"log_interval = {s.log_interval}",
            "always_save_checkpoint = True",
            "dataset = 'shakespeare_char'",
            "batch_size = 64",
            "block_size = 256",
            f"max_iters = {s.max_iters}",
            f"lr_decay_iters = {s.max_iters}",
            f"Overriding: max_iters = {s.max_iters}",
            f"Overriding: eval_interval = {s.eval_interval}",
            f"Overriding: log_interval = {s.log_interval}",
            "tokens per iteration will be: 16,384",
            "found vocab_size = 65 (inside data/shakespeare_char/meta.pkl)",
            "Initializing a new model from scratch",
            "number of parameters: 10.65M",
            "compiling the model... (takes a ~minute)",
        ]

    def _iteration_seconds(self, iteration: int) -> tuple[float, str]:
        s = self.schedule
        base = s.seconds_per_iteration * max(0.2, self._random.gauss(1.0, s.jitter))
        stall_from, stall_to = s.stall_iterations
        if iteration == 0:
            return s.compile_seconds, "compile"
        if stall_from <= iteration < stall_to:
            return base * s.stall_factor, "stall"
        return base, "train"

    def run(self, stop: threading.Event | None = None) -> None:
        """Write the log (appending), pacing lines by the simulated clock, until done or ``stop`` is set."""
        stop = stop or threading.Event()
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as out:
            while not stop.is_set():
                self.runs += 1
                if not self._one_run(out, stop) or not self.loop:
                    break

    def _one_run(self, out: object, stop: threading.Event) -> bool:
        s = self.schedule
        write = _writer(out)
        for line in self.header():
            write(line)
        now = self.clock()
        loss = 4.2
        mfu = None
        for iteration in range(s.max_iters + 1):
            seconds, phase = self._iteration_seconds(iteration)
            is_eval = iteration % s.eval_interval == 0
            if is_eval:
                self._set_phase("eval", now)
                val = loss + 0.05 + self._random.uniform(0, 0.03)
                now += s.eval_seconds
                if not self.clock.sleep_until(now, stop):
                    return False
                write(f"step {iteration}: train loss {loss:.4f}, val loss {val:.4f}")
                if iteration > 0:
                    write("saving checkpoint to out-shakespeare-char")
            self._set_phase(phase, now)
            now += seconds
            if not self.clock.sleep_until(now, stop):
                return False
            self.iteration = iteration
            loss = max(0.9, loss * 0.9992 + self._random.uniform(-0.01, 0.01))
            if iteration % s.log_interval == 0 or iteration == s.max_iters:
                # nanoGPT's dt covers the whole loop turn: an eval's time lands in its iteration.
                dt_ms = (seconds + (s.eval_seconds if is_eval else 0.0)) * 1000
                if iteration >= 5:
                    sample = 0.38 * s.seconds_per_iteration / (seconds or 1)
                    mfu = sample if mfu is None else 0.9 * mfu + 0.1 * sample
                write(f"iter {iteration}: loss {loss:.4f}, time {dt_ms:.2f}ms, mfu {-100.0 if mfu is None else mfu * 100:.2f}%")
        self._set_phase("done", now)
        return True


def _writer(out: object) -> Callable[[str], None]:
    def write(line: str) -> None:
        out.write(line + "\n")  # type: ignore[attr-defined]
        out.flush()  # type: ignore[attr-defined]

    return write


def add_arguments(parser: argparse.ArgumentParser, *, log_flag: str = "--log", log_required: bool = True) -> None:
    parser.add_argument(log_flag, dest="log_file", required=log_required, metavar="PATH",
                        help="file the simulated trainer appends its log to")
    parser.add_argument("--speed", type=float, default=None, metavar="FACTOR",
                        help="simulated seconds per wall second (default 1: real time, a run takes ~20 minutes)")
    default = Schedule().max_iters
    parser.add_argument("--max-iters", type=int, default=default, metavar="N",
                        help=f"iterations of one simulated run (default {default}); evals every max-iters/12")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the iteration-time jitter")


def schedule_from(args: argparse.Namespace) -> Schedule:
    """The schedule the command-line options ask for; ValueError names the bad option."""
    if args.max_iters < 100:
        raise ValueError(f"--max-iters must be at least 100, got {args.max_iters}")
    return Schedule(max_iters=args.max_iters, eval_interval=max(10, args.max_iters // 12))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m exporter.simulator",
        description="Simulated nanoGPT trainer: writes a realistic training log (compile warm-up, evals with "
        "checkpoints, a data-loader stall, a recovery) for the exporter to follow.",
    )
    add_arguments(parser)
    parser.add_argument("--loop", action="store_true", help="start a new run after each finished one (forever)")
    args = parser.parse_args(argv)
    speed = 1.0 if args.speed is None else args.speed
    if not speed > 0:
        parser.error("--speed must be > 0")
    try:
        schedule = schedule_from(args)
    except ValueError as exc:
        parser.error(str(exc))
    simulator = Simulator(args.log_file, schedule=schedule, clock=SimulatedClock(speed),
                          seed=args.seed, loop=args.loop)
    print(f"simulated trainer writing {os.path.abspath(args.log_file)} at {speed:g}x speed", flush=True)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        simulator.run(stop)
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
