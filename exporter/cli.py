"""Command-line entry point: one subcommand per module in ``exporter.commands``.

``training-eta-exporter --log FILE`` (options but no subcommand) runs ``serve``, like a Go exporter.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys
from collections.abc import Sequence

from exporter import __version__

COMMANDS = ("serve", "parse", "report", "replay", "watch", "demo", "healthcheck")


def _build() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="training-eta-exporter",
        description="Follow a training log: ETA, pace regressions, stalls and their likely cause, as Prometheus metrics.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = {}
    for name in COMMANDS:
        module = importlib.import_module(f"exporter.commands.{name}")
        doc = (module.__doc__ or "").strip().splitlines()
        command = sub.add_parser(name, help=doc[0] if doc else None, description=module.__doc__)
        module.configure(command)
        command.set_defaults(run=module.run)
        commands[name] = command
    return parser, commands


def _unknown(parser: argparse.ArgumentParser, argument: str) -> int:
    """An unknown option: one line naming the closest known option of the command, then exit status 2."""
    options = [option for action in parser._actions for option in action.option_strings]
    close = difflib.get_close_matches(argument.split("=", 1)[0], options, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else f"; see {parser.prog} --help"
    print(f"{parser.prog}: error: unrecognized argument {argument}{hint}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0].startswith("-") and args_list[0] not in ("-h", "--help", "--version"):
        args_list.insert(0, "serve")
    parser, commands = _build()
    args, extra = parser.parse_known_args(args_list)
    if extra:
        return _unknown(commands.get(getattr(args, "command", None) or "", parser), extra[0])
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
