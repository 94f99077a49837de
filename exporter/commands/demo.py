"""Watch the exporter work on a simulated training run: no GPU, no Prometheus, no training job needed.

A built-in simulated nanoGPT trainer writes a realistic log (compile warm-up, evals with checkpoints, a
data-loader stall, a recovery) to a temporary file, and the real exporter follows it with two fake GPUs whose
utilization follows the trainer's phases. Open the printed URL: ETA, pace regressions and the diagnosis move
within a minute at the default speed. Time is simulated: at --speed 20, one wall second is 20 training seconds,
and ETAs, timestamps and durations are in simulated time.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading

from exporter import config as config_mod
from exporter.commands.serve import Sidecar, build_sidecar, setup_logging, wait_for_signal
from exporter.config import ConfigError, RunConfig, Settings
from exporter.gpu.fake import FakeDeviceLayer, FakeGpu
from exporter.gpu.selection import GpuSelection
from exporter.humanize import format_duration
from exporter.simulator import SimulatedClock, Simulator, schedule_from
from exporter.simulator import add_arguments as add_simulator_arguments

DEFAULT_SPEED = 20.0
log = logging.getLogger("exporter.demo")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    parser.allow_abbrev = False
    add_simulator_arguments(parser, log_flag="--log-file", log_required=False)
    parser.set_defaults(speed=DEFAULT_SPEED)
    for action in parser._actions:
        if action.dest == "log_file":
            action.help = "file the simulated trainer writes (default: a new temporary file, printed at start)"
        elif action.dest == "speed":
            action.help = f"simulated seconds per wall second (default {DEFAULT_SPEED:g}: a whole run in about a minute)"
    parser.add_argument(
        "--web.listen-address", dest="web_listen_address", default=config_mod.DEFAULT_LISTEN_ADDRESS,
        metavar="[HOST]:PORT", help=f"address to serve on (default {config_mod.DEFAULT_LISTEN_ADDRESS}; port 0 picks a free one)",
    )
    parser.add_argument("--gpus", type=int, default=2, metavar="N", help="number of fake GPUs (default 2)")
    config_mod.add_setting(parser, "log.level")


def fake_gpus(simulator: Simulator, count: int, clock: SimulatedClock) -> FakeDeviceLayer:
    """Fake GPUs whose utilization samples follow the simulator's phases (sampled on the simulated clock)."""
    gpus = [
        FakeGpu(uuid=f"GPU-5150de30-0000-4000-8000-{index:012d}", utilization_percent=simulator.gpu_utilization(index))
        for index in range(count)
    ]
    return FakeDeviceLayer(gpus, clock=clock)


def run(args: argparse.Namespace) -> int:
    try:
        listen = config_mod.parse_listen_address(args.web_listen_address)
        level = config_mod.parse_log_level(args.log_level or os.environ.get(config_mod.env_name("log.level")))
        if not args.speed > 0:
            raise ConfigError("speed", f"{args.speed!r} must be > 0")
        if not 0 <= args.gpus <= 64:
            raise ConfigError("gpus", f"{args.gpus!r} must be between 0 and 64")
        try:
            schedule = schedule_from(args)
        except ValueError as exc:
            raise ConfigError("max-iters", str(exc)) from None
    except ConfigError as exc:
        print(f"training-eta-exporter: {exc}", file=sys.stderr)
        return 2
    setup_logging(level)
    path = args.log_file
    if path is None:
        handle, path = tempfile.mkstemp(prefix="training-eta-demo-", suffix=".log")
        os.close(handle)
    clock = SimulatedClock(args.speed)
    simulator = Simulator(path, schedule=schedule, clock=clock, seed=args.seed)
    config = Settings(
        runs=(RunConfig(run="demo", log=path),),
        listen=listen,
        gpu=GpuSelection() if args.gpus else None,
        gpu_poll_seconds=0.5,
        log_poll_seconds=0.25,
    )
    sidecar = build_sidecar(config, clock=clock, gpu_layer=fake_gpus(simulator, args.gpus, clock))
    sidecar.server.banner = (
        f"Demo: a simulated trainer at {args.speed:g}× speed. ETAs, durations and times are in simulated time "
        f"(one wall second is {args.speed:g} simulated seconds)."
    )
    try:
        sidecar.start()
    except OSError as exc:
        print(f"training-eta-exporter: cannot listen on {args.web_listen_address}: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    trainer = threading.Thread(target=_train, args=(simulator, stop), name="simulator", daemon=True)
    trainer.start()
    url = sidecar.server.url
    print(f"simulated trainer log: {path}", flush=True)
    print(f"status page: {url}", flush=True)
    print(f"metrics:     {url}metrics", flush=True)
    print(f"running at {args.speed:g}x simulated speed; Ctrl-C to stop", flush=True)
    narrator = threading.Thread(target=_narrate, args=(simulator, sidecar, stop), name="narrator", daemon=True)
    narrator.start()
    try:
        wait_for_signal()
    finally:
        stop.set()
        trainer.join(5)
        sidecar.stop()
    return 0


PHASE_WORDS = {
    "compile": "compile warm-up: iteration 0 takes long; the exporter keeps it out of the pace",
    "train": "training at a steady pace",
    "eval": "eval + checkpoint: a spike the exporter measures and adds back per remaining occurrence",
    "stall": "data-loader stall: iterations several times slower while the GPUs idle (expect input_bound)",
    "done": "run finished",
}


def _narrate(simulator: Simulator, sidecar: Sidecar, stop: threading.Event) -> None:
    """Say in the terminal what the simulated run is doing and what the exporter makes of it, at each change."""
    said: tuple[str, str, str] | None = None
    while not stop.wait(0.5):
        runs = sidecar.runtime.runs()
        state = runs[0] if runs else None
        now = (simulator.phase, state.estimate.state if state else "", state.diagnosis.cause
               if state and state.diagnosis else "")
        if now != said:
            said = now
            eta = state.estimate.eta_seconds if state else None
            print(f"[demo] trainer: {PHASE_WORDS.get(now[0], now[0])} | exporter: state {now[1]}, cause {now[2]}"
                  + (f", ETA {format_duration(eta)} (simulated)" if eta is not None else ""), flush=True)


def _train(simulator: Simulator, stop: threading.Event) -> None:
    simulator.run(stop)
    if not stop.is_set():
        log.info("simulated run finished at iteration %d; still serving (Ctrl-C to stop)", simulator.iteration)
