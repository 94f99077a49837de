"""The one error type of configuration, shared by ``config`` and ``webconfig``."""

from __future__ import annotations


class ConfigError(ValueError):
    """An invalid setting: ``str(error)`` is the one line shown to the user."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"invalid configuration: {key}: {problem}")
        self.key = key
        self.problem = problem
