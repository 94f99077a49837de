"""Alerts in real time, with the bundled rules unchanged: how soon a hang or a slowdown fires, and that a clean run
with warm-up, long evals/checkpoints and a contention blip never fires.

Every scenario runs at once, each with its own real trainer process (``benchmarks/_live_trainer.py``: nanoGPT's
lines, printed as the time passes) and its own real exporter (``serve``); one real Prometheus scrapes all of
them every 5 s and evaluates ``alerts/*.rules.yml`` as shipped (evaluation every 5 s). The HTTP API is read every
2 s; the first time each alert is firing per scenario is recorded. Hangs are a SIGSTOP of the trainer. All
processes are stopped by PID at the end (also on failure). About 14 minutes.

    python benchmarks/alerts_live.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from _common import free_port

ROOT = Path(__file__).resolve().parent.parent
TRAINER = Path(__file__).resolve().parent / "_live_trainer.py"
RULES = sorted((ROOT / "alerts").glob("*.rules.yml"))


@dataclass
class Scenario:
    name: str
    must: str
    trainer: list[str] = field(default_factory=list)
    """Trainer flags; empty: a dead log written before the exporter starts."""
    stop_at: float | None = None
    """Seconds after start to SIGSTOP the trainer (a hang)."""
    change_at: float | None = None
    """Seconds after start when the slowdown begins (the trainer's ``--slow-at``)."""
    watch: float = 300.0
    """Seconds to watch after start."""
    alert: str | None = None
    """The alert that must fire (None: none may)."""
    limit: float | None = None
    """Seconds after the reference moment within which it must fire."""
    proc: subprocess.Popen[bytes] | None = None
    exporter: subprocess.Popen[bytes] | None = None
    port: int = 0
    log: Path = Path()
    reference: float | None = None
    """The moment the delay is measured from: the last line before the hang, the slowdown, the exporter start."""
    fired: dict[str, float] = field(default_factory=dict)


def scenarios() -> list[Scenario]:
    fast = ["--pace", "0.05", "--log-interval", "10", "--eval-interval", "200", "--eval-seconds", "3"]
    return [
        Scenario("hang, 50 ms/it with evals", "TrainingStalled <= 120 s after the last line", fast,
                 stop_at=180, watch=330, alert="TrainingStalled", limit=120),
        Scenario("hang, a line every 20 s", "TrainingStalled <= 10 x the gap (200 s) after the last line",
                 ["--pace", "2", "--log-interval", "10"], stop_at=220, watch=460, alert="TrainingStalled", limit=200),
        Scenario("exporter started on a dead log", "TrainingStalled <= 120 s after the exporter starts",
                 [], watch=150, alert="TrainingStalled", limit=120),
        Scenario("I/O slowdown 3x from minute 3, lasting", "TrainingPaceRegressed <= 6 min after it starts",
                 [*fast, "--slow-at", "180", "--slow-factor", "3"], change_at=180, watch=560,
                 alert="TrainingPaceRegressed", limit=360),
        Scenario("clean: 60 s compile, evals + checkpoints up to 90 s, 30 s blip, end", "no warning/critical alert",
                 ["--compile-seconds", "60", "--pace", "0.05", "--log-interval", "10", "--eval-interval", "1000",
                  "--eval-seconds", "20", "--checkpoint-every", "2", "--checkpoint-seconds", "70",
                  "--blip-at", "240", "--blip-seconds", "30", "--max-iters", "5000"], watch=640),
        # A line every 1.2 s: Python's first block comes after ~16 KiB (~6.5 min), then one per 8 KiB (~3 min).
        Scenario("block-buffered stdout: 8 KiB blocks ~3 min apart", "no warning/critical alert",
                 ["--pace", "0.1", "--log-interval", "12", "--buffer", "8192"], watch=800),
    ]


def dead_log(path: Path) -> None:
    """1,000 of 3,000 iterations of a nanoGPT log, no timestamps, last written a minute before the exporter."""
    lines = ["Overriding: max_iters = 3000\n", "Overriding: eval_interval = 250\n"]
    for it in range(0, 1001, 10):
        if it % 250 == 0:
            lines.append(f"step {it}: train loss 2.1, val loss 2.2\n")
        lines.append(f"iter {it}: loss 1.5, time {2500 if it % 250 == 0 else 50.0:.2f}ms, mfu 30.00%\n")
    path.write_text("".join(lines))
    written = time.time() - 60
    os.utime(path, (written, written))


def prometheus_config(items: list[Scenario], folder: Path) -> Path:
    targets = [{"targets": [f"127.0.0.1:{s.port}"], "labels": {"scenario": s.name}} for s in items]
    config = {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": [str(r) for r in RULES],
        "scrape_configs": [{"job_name": "training", "static_configs": targets}],
    }
    path = folder / "prometheus.yml"
    path.write_text(json.dumps(config))
    return path


def firing(api: str) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"{api}/api/v1/alerts", timeout=5) as response:
        alerts = json.load(response)["data"]["alerts"]
    return [a for a in alerts if a.get("state") == "firing"]


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.wait(5)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="run only scenarios whose name contains this")
    args = parser.parse_args()
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        print("alerts_live: needs prometheus (apt-get install prometheus)", file=sys.stderr)
        return 2
    items = [s for s in scenarios() if not args.only or any(o in s.name for o in args.only)]
    folder = Path(tempfile.mkdtemp(prefix="alerts-live-"))
    prom: subprocess.Popen[bytes] | None = None
    try:
        for i, s in enumerate(items):
            s.port = free_port()
            s.log = folder / f"run{i}.log"
        prom_port = free_port()
        config = prometheus_config(items, folder)
        prom = subprocess.Popen(
            [prometheus, f"--config.file={config}", f"--storage.tsdb.path={folder / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            stdout=subprocess.DEVNULL, stderr=open(folder / "prometheus.err", "wb"),
        )
        start = time.time()
        for s in items:
            if s.trainer:
                s.log.touch()
                s.proc = subprocess.Popen([sys.executable, str(TRAINER), "--log", str(s.log), *s.trainer])
            else:
                dead_log(s.log)
                s.reference = time.time()
            s.exporter = subprocess.Popen(
                [sys.executable, "-m", "exporter", "serve", "--log", f"run{items.index(s)}={s.log}",
                 "--web.listen-address", f"127.0.0.1:{s.port}", "--gpu.devices", "none"],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(folder / f"exporter{items.index(s)}.err", "wb"),
            )
            if s.change_at is not None:
                s.reference = start + s.change_at
        api = f"http://127.0.0.1:{prom_port}"
        end = start + max(s.watch for s in items)
        while time.time() < end:
            now = time.time()
            for s in items:
                if s.stop_at is not None and s.proc is not None and s.reference is None and now - start >= s.stop_at:
                    os.kill(s.proc.pid, signal.SIGSTOP)
                    s.reference = s.log.stat().st_mtime  # the last line's write
            try:
                for alert in firing(api):
                    labels = alert.get("labels", {})
                    assert isinstance(labels, dict)
                    for s in items:
                        if labels.get("scenario") == s.name:
                            s.fired.setdefault(str(labels.get("alertname")), now)
            except OSError:
                pass  # Prometheus still starting
            time.sleep(2)
        print("| scenario | must | measured | verdict |\n|---|---|---|---|")
        failures = 0
        for s in items:
            if s.alert is None:
                severe = sorted(s.fired)
                ok = not severe
                measured = "no alert fired" if ok else "fired: " + ", ".join(severe)
            else:
                when = s.fired.get(s.alert)
                delay = None if when is None or s.reference is None else when - s.reference
                ok = delay is not None and s.limit is not None and delay <= s.limit
                measured = f"{s.alert} not firing within {s.watch - (s.reference - start if s.reference else 0):.0f} s" if delay is None else f"{s.alert} firing after {delay:.0f} s"
                others = sorted(set(s.fired) - {s.alert})
                if others:
                    measured += " (also: " + ", ".join(others) + ")"
            failures += not ok
            print(f"| {s.name} | {s.must} | {measured} | {'met' if ok else 'MISSED'} |")
        return 1 if failures else 0
    finally:
        for s in items:
            stop(s.proc)
            stop(s.exporter)
        stop(prom)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
