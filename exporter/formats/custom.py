"""User-defined formats from a YAML file, for trainers no built-in family knows.

```yaml
formats:                       # or the list itself at the top level
  - name: mytrainer            # optional; events carry format "custom:mytrainer"
    contains: "it="            # optional literal that every matching line holds (a cheap pre-check)
    regex: 'it=(?P<iteration>\\d+)/(?P<total>\\d+) loss=(?P<loss>\\S+) dt=(?P<seconds>[\\d.]+)ms'
    units: {seconds: ms}
```

Named groups: ``iteration`` (required), ``total``, ``seconds``, ``data_seconds``, ``loss``, ``tokens_per_second``,
``mfu``, ``epoch``, ``total_epochs``, ``batches_per_epoch``; groups whose name starts with ``_`` are ignored. Units:
``seconds``/``data_seconds`` in ``s`` (default), ``ms``, ``us``, ``min``, ``h`` or a rate ``it/s`` (inverted);
``mfu`` as ``ratio`` (default) or ``%``; ``epoch`` ``0-based`` (default) or ``1-based``. The first format whose
regex matches a line (searched anywhere in it) makes it a Progress event. Everything is checked at load:
problems raise :class:`CustomFormatError` naming the file, the line and the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exporter.events import Event, Progress
from exporter.formats._values import integer, number
from exporter.formats.base import Parser

_INT_GROUPS = ("iteration", "total", "epoch", "total_epochs", "batches_per_epoch")
_FLOAT_GROUPS = ("seconds", "data_seconds", "loss", "tokens_per_second", "mfu")
_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "min": 60.0, "h": 3600.0, "it/s": None}
UNITS: dict[str, dict[str, float | None]] = {
    "seconds": _SECONDS,
    "data_seconds": _SECONDS,
    "mfu": {"ratio": 1.0, "%": 0.01},
    "epoch": {"0-based": 0.0, "1-based": 1.0},
}
_KEYS = {"name", "regex", "contains", "units"}


class CustomFormatError(ValueError):
    """A custom-format file that cannot be used; the message names the file, the line and the problem."""


@dataclass(slots=True)
class CustomFormat:
    """One validated user format."""

    name: str
    regex: re.Pattern[str]
    contains: str | None = None
    scale: dict[str, float | None] = field(default_factory=dict)
    """Per group: the factor to seconds/ratio, None for a rate to invert, an epoch offset for ``epoch``."""

    def parse(self, text: str) -> Progress | None:
        """A Progress event for a matching line, else None; never raises."""
        if self.contains is not None and self.contains not in text:
            return None
        match = self.regex.search(text)
        if match is None:
            return None
        groups = match.groupdict()
        iteration = integer(groups.get("iteration"))
        if iteration is None:
            return None
        ints = {name: integer(groups.get(name)) for name in _INT_GROUPS[1:]}
        floats = {name: self._scaled(name, number(groups.get(name))) for name in _FLOAT_GROUPS}
        epoch = ints["epoch"]
        if epoch is not None:
            epoch -= int(self.scale.get("epoch") or 0)
        return Progress(
            iteration=iteration,
            total_iterations=ints["total"],
            iteration_seconds=floats["seconds"],
            data_seconds=floats["data_seconds"],
            loss=floats["loss"],
            tokens_per_second=floats["tokens_per_second"],
            mfu=floats["mfu"],
            epoch=epoch,
            total_epochs=ints["total_epochs"],
            batches_per_epoch=ints["batches_per_epoch"],
            format=f"custom:{self.name}",
        )

    def _scaled(self, name: str, value: float | None) -> float | None:
        if value is None or name not in self.scale:
            return value
        factor = self.scale[name]
        if factor is None:
            return 1.0 / value if value > 0 else None
        return value * factor


class CustomParser(Parser):
    """Tries each user format in file order."""

    name = "custom"

    def __init__(self, formats: list[CustomFormat]) -> None:
        self.formats = formats

    def parse(self, text: str) -> list[Event]:
        for fmt in self.formats:
            event = fmt.parse(text)
            if event is not None:
                return [event]
        return []


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _scalar(path: str, node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise CustomFormatError(f"{path}:{_line(node)}: {what} must be a string")
    return str(node.value)


def _mapping(node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    return {str(key.value): (key, value) for key, value in node.value if isinstance(key, yaml.ScalarNode)}


def _load_format(path: str, node: yaml.Node, position: int) -> CustomFormat:
    if not isinstance(node, yaml.MappingNode):
        raise CustomFormatError(f"{path}:{_line(node)}: format #{position} must be a mapping with a 'regex' key")
    entries = _mapping(node)
    for key, (key_node, _) in entries.items():
        if key not in _KEYS:
            raise CustomFormatError(
                f"{path}:{_line(key_node)}: unknown key {key!r} (known: {', '.join(sorted(_KEYS))})"
            )
    name = _scalar(path, entries["name"][1], "'name'") if "name" in entries else f"format{position}"
    if "regex" not in entries:
        raise CustomFormatError(f"{path}:{_line(node)}: format {name!r} has no 'regex'")
    regex_node = entries["regex"][1]
    source = _scalar(path, regex_node, "'regex'")
    try:
        regex = re.compile(source)
    except re.error as error:
        raise CustomFormatError(f"{path}:{_line(regex_node)}: format {name!r}: bad regex: {error}") from None
    known = set(_INT_GROUPS) | set(_FLOAT_GROUPS)
    for group in regex.groupindex:
        if group not in known and not group.startswith("_"):
            raise CustomFormatError(
                f"{path}:{_line(regex_node)}: format {name!r}: unknown group {group!r} "
                f"(known: {', '.join(sorted(known))}; start a name with '_' to ignore it)"
            )
    if "iteration" not in regex.groupindex:
        raise CustomFormatError(f"{path}:{_line(regex_node)}: format {name!r}: the regex has no 'iteration' group")
    contains = _scalar(path, entries["contains"][1], "'contains'") if "contains" in entries else None
    scale: dict[str, float | None] = {}
    if "units" in entries:
        units_node = entries["units"][1]
        if not isinstance(units_node, yaml.MappingNode):
            raise CustomFormatError(f"{path}:{_line(units_node)}: format {name!r}: 'units' must be a mapping")
        for group, (key_node, value_node) in _mapping(units_node).items():
            unit = _scalar(path, value_node, f"the unit of {group!r}")
            if group not in UNITS:
                raise CustomFormatError(
                    f"{path}:{_line(key_node)}: format {name!r}: no units for {group!r} "
                    f"(units apply to: {', '.join(UNITS)})"
                )
            if group not in regex.groupindex:
                raise CustomFormatError(
                    f"{path}:{_line(key_node)}: format {name!r}: unit for {group!r}, which the regex does not capture"
                )
            if unit not in UNITS[group]:
                raise CustomFormatError(
                    f"{path}:{_line(value_node)}: format {name!r}: bad unit {unit!r} for {group!r} "
                    f"(one of: {', '.join(UNITS[group])})"
                )
            scale[group] = UNITS[group][unit]
    return CustomFormat(name=name, regex=regex, contains=contains, scale=scale)


def load_custom_formats(path: str | Path) -> list[CustomFormat]:
    """Read and validate a custom-format YAML file; raise CustomFormatError (file, line, problem) if unusable."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CustomFormatError(f"{where}: cannot read custom formats: {error}") from None
    try:
        root: Any = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        position = f"{mark.line + 1}:" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise CustomFormatError(f"{where}:{position} not valid YAML: {problem}") from None
    if isinstance(root, yaml.MappingNode) and "formats" in _mapping(root):
        root = _mapping(root)["formats"][1]
    if not isinstance(root, yaml.SequenceNode) or not root.value:
        line = _line(root) if isinstance(root, yaml.Node) else 1
        raise CustomFormatError(f"{where}:{line}: expected a non-empty list of formats (or a 'formats:' key)")
    return [_load_format(where, node, position) for position, node in enumerate(root.value, start=1)]


PARSERS: tuple[type[Parser], ...] = ()
