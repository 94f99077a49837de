"""Watch one training log in the terminal: the ``report`` screen, refreshed in place every second.

For people without a Prometheus stack, like ``nvitop`` for GPUs: the log is read from its start, then followed
(rotation and truncation included, as ``serve`` does), and the report is redrawn with the wall clock as "now", so
a stall shows as it happens. Ctrl-C stops. Exit status 2 with one line for a path that exists but cannot be read.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from exporter.commands.common import FirstRank, add_log_options, log_items
from exporter.commands.report import render, report_of
from exporter.estimate import Estimator
from exporter.pipeline import Pipeline
from exporter.sources import modified_time, open_source, read_items

CLEAR = "\x1b[H\x1b[2J"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    add_log_options(parser)
    parser.add_argument("--interval", type=float, default=1.0, metavar="SECONDS", help="refresh period (default 1)")
    parser.add_argument("--count", type=int, default=0, metavar="N", help="stop after N screens (default: never)")


def run(args: argparse.Namespace) -> int:
    """Follow the log and redraw the report until interrupted (or ``--count`` screens)."""
    path = args.log
    if path != "-" and os.path.exists(path) and (os.path.isdir(path) or not os.access(path, os.R_OK)):
        print(f"training-eta-exporter watch: cannot read {path}", file=sys.stderr)
        return 2
    try:
        pipeline = Pipeline(format=args.format)
    except ValueError as exc:
        print(f"training-eta-exporter watch: {exc}", file=sys.stderr)
        return 2
    estimator = Estimator(total_iterations=args.total_iterations, total_epochs=args.total_epochs)
    if path.endswith(".tslog"):
        # A recorded log: its own record times, read once (there is nothing to follow).
        for event in log_items(read_items(path), pipeline):
            estimator.observe(event)
        print(render(report_of(path, pipeline, estimator, now=estimator.last_event_time)))
        return 0
    source = open_source(path)
    ranks = FirstRank()
    tty = sys.stdout.isatty()
    shown = 0
    try:
        while True:
            for item in ranks.items(pipeline.feed_many(source.poll())):
                estimator.observe(item)
            if source.behind:
                continue  # catching up on history: draw once it is read
            if source.paths and source.files and estimator.wants_last_time:
                written = modified_time(source.paths[0])
                if written is not None:
                    estimator.assume_last_time(written)  # history without times ends at the last write
            screen = render(report_of(path, pipeline, estimator, now=None))
            if source.last_error:
                screen += f"\nLog       cannot read {source.last_error}"
            elif not source.files:
                screen += f"\nLog       waiting for {path} to appear"
            print((CLEAR if tty else "\n") + screen, flush=True)
            shown += 1
            if args.count and shown >= args.count:
                return 0
            time.sleep(max(0.05, args.interval))
    finally:
        source.close()

