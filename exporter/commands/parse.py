"""Print the events a training log holds, one JSON object per line, and a summary on stderr.

Shows what the exporter understands of a log (which family, which iteration, which total) without serving
anything; exit status 2 with a one-line error for a missing or unreadable file or a bad ``--format``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from exporter.events import to_dict
from exporter.pipeline import Pipeline


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""
    parser.add_argument("log", metavar="LOG", help="training log file to read from its start ('-' for stdin)")
    parser.add_argument(
        "--format",
        metavar="F",
        default=None,
        help="force a format family (default: detect per file) or give a YAML file of custom formats",
    )


def run(args: argparse.Namespace) -> int:
    """Parse the whole file; events to stdout, the summary to stderr."""
    try:
        pipeline = Pipeline(format=args.format)
    except ValueError as error:
        print(f"training-eta-exporter parse: {error}", file=sys.stderr)
        return 2
    out = sys.stdout
    try:
        for event in pipeline.read(args.log):
            out.write(json.dumps(to_dict(event), ensure_ascii=False) + "\n")
    except BrokenPipeError:
        # The reader (``| head``) has gone: stop quietly, and keep the interpreter's final flush from failing too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        reason = error.strerror or str(error)
        print(f"training-eta-exporter parse: cannot read {args.log}: {reason}", file=sys.stderr)
        return 2
    out.flush()
    print(
        f"records read: {pipeline.records}, parsed: {pipeline.parsed}, unparsed: {pipeline.unparsed}, "
        f"detected format: {pipeline.format or 'none'}",
        file=sys.stderr,
    )
    return 0
