"""Record one real training run with perturbations at planned times.

    python benchmarks/corpus/drive.py NAME --plan "60 stall 0.4; 120 stall 0; 200 stop; 230 cont" -- CMD ...

Runs CMD (stdout+stderr, or stdout alone with ``--stdout-only``; unbuffered unless ``--buffered``) through ``record.py`` into ``benchmarks/data/NAME.log`` / ``NAME.tslog`` and writes the
unix time of every perturbation to ``NAME.events``. Plan steps, at seconds after the trainer starts:

- ``stall S``: the data loader sleeps S seconds per batch from now (0 ends it): the trainers read the flag file
  named by ``$STALL_FILE``;
- ``hog N`` / ``unhog``: start / stop N CPU-bound processes (a noisy neighbour);
- ``stop`` / ``cont``: SIGSTOP / SIGCONT the trainer's process group (a hang);
- ``kill``: SIGKILL the trainer's process group (a preempted or crashed job); then ``resume`` starts
  ``--resume-cmd`` into the same log (a resume). Not SIGINT: ``record_all.sh`` runs its lanes in the background,
  where a non-interactive shell starts commands with SIGINT ignored, so a SIGINT never stopped the trainer.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data"


def hog() -> subprocess.Popen[bytes]:
    # Its own session, like a real neighbour: with autogroup scheduling a hog in the driver's session would only
    # compete with the driver.
    return subprocess.Popen([sys.executable, "-c", "while True: sum(i * i for i in range(10000))"], start_new_session=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("--plan", default="")
    parser.add_argument("--resume-cmd", default="")
    parser.add_argument("--buffered", action="store_true",
                        help="leave the trainer's stdout block-buffered (a pipe: 8 KiB at a time), as without -u")
    parser.add_argument("--stdout-only", action="store_true",
                        help="record stdout alone, as `> train.log` keeps it (stderr, where tqdm draws, is dropped)")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    cmd = argv[split + 1 :]
    DATA.mkdir(exist_ok=True)
    stall = Path(f"/tmp/stall-{args.name}")
    stall.unlink(missing_ok=True)
    env = {**os.environ, "STALL_FILE": str(stall), "PYTHONUNBUFFERED": "1"}
    if args.buffered:
        del env["PYTHONUNBUFFERED"]
    log, tslog = DATA / f"{args.name}.log", DATA / f"{args.name}.tslog"
    recorder = subprocess.Popen([sys.executable, str(HERE / "record.py"), str(log), str(tslog)], stdin=subprocess.PIPE)
    events = open(DATA / f"{args.name}.events", "w", buffering=1)
    plan = [(float(p.split()[0]), p.split()[1:]) for p in args.plan.split(";") if p.strip()]

    def start(command: list[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(command, stdout=recorder.stdin,
                                stderr=subprocess.DEVNULL if args.stdout_only else subprocess.STDOUT, env=env, start_new_session=True)
        events.write(f"{time.time():.6f} start {shlex.join(command)}\n")
        return proc

    trainer = start(cmd)
    t0 = time.time()
    hogs: list[subprocess.Popen[bytes]] = []
    while True:
        elapsed = time.time() - t0
        while plan and plan[0][0] <= elapsed:
            _, (what, *rest) = plan.pop(0)
            events.write(f"{time.time():.6f} {what} {' '.join(rest)}\n")
            if what == "stall":
                if float(rest[0]) > 0:
                    stall.write_text(rest[0])
                else:
                    stall.unlink(missing_ok=True)
            elif what == "hog":
                hogs += [hog() for _ in range(int(rest[0]) if rest else 1)]
            elif what == "unhog":
                for h in hogs:
                    h.kill()
                hogs.clear()
            elif what in ("stop", "cont"):
                os.killpg(trainer.pid, signal.SIGSTOP if what == "stop" else signal.SIGCONT)
            elif what == "kill":
                os.killpg(trainer.pid, signal.SIGKILL)
                trainer.wait()
            elif what == "resume":
                trainer = start(shlex.split(args.resume_cmd))
        if trainer.poll() is not None and not any(w == ["resume"] for _, w in plan):
            break
        time.sleep(0.05)
    for h in hogs:
        h.kill()
    events.write(f"{time.time():.6f} done rc={trainer.returncode}\n")
    recorder.stdin.close()  # type: ignore[union-attr]
    recorder.wait()
    stall.unlink(missing_ok=True)
    return trainer.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
