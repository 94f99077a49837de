"""The one error type of configuration and its file check, shared by ``config`` and ``webconfig``."""

from __future__ import annotations

import os


class ConfigError(ValueError):
    """An invalid setting: ``str(error)`` is the one line shown to the user."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"invalid configuration: {key}: {problem}")
        self.key = key
        self.problem = problem


def check_file(key: str, path: str) -> str:
    """``path``, or a ``ConfigError`` under ``key`` when it is not a readable file."""
    if not os.path.isfile(path):
        raise ConfigError(key, f"file {path!r} does not exist")
    if not os.access(path, os.R_OK):
        raise ConfigError(key, f"file {path!r} is not readable")
    return path
