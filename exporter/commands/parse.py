"""PLACEHOLDER: parse (being written)."""

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    """Add this command's options."""


def run(args: argparse.Namespace) -> int:
    raise SystemExit("parse: not written yet")
