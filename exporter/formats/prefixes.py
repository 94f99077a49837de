"""Strip what launchers and log collectors put in front of a trainer's own text, before any parser sees it.

Handled: rank tags from ``torchrun`` (``[rank0]:``, ``[default0]:``) and from ``mpirun --tag-output``
(``[1,mpirank:0,algo-1]<stdout>:``, ``[1,0]<stderr>:``); syslog-style escapes where ``#015`` stands for a
carriage return (each part is its own tqdm update), ``#012`` for a newline, ``#011`` for a tab and ``#033[..X``
for a terminal escape (``#033[A`` cursor-up); and a timestamp right after a rank tag. A leading timestamp with no
tag in front has already been taken off by the follower (into ``Record.time``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# One or more launcher tags at the start of the text; optional spaces between and after them.
_TAG = re.compile(r"^(?:\s*(?:\[(?:rank|default)\d+\]:|\[[\w,:.\-]{1,80}\]<std(?:out|err)>:))+ ?")
_RANK = re.compile(r"\[(?:rank|default)(\d+)\]:|mpirank:(\d+)|\[\d+,(\d+)\]<std")
_SYSLOG_ESCAPE = re.compile(r"#033\[[0-9;?]*[A-Za-z]")
_SYSLOG_SPLIT = re.compile(r"#01[25]")


@dataclass(slots=True)
class Stripped:
    """The trainer's text, split into the updates it holds, and the timestamp found behind a launcher tag."""

    parts: list[str]
    time: float | None = None
    rank: int | None = None
    """The process rank a launcher tag names (``[rank3]:``, ``[default3]:``, ``mpirank:3``, ``[1,3]<stdout>:``)."""


def split_timestamp(text: str) -> tuple[float | None, str]:
    """The follower's ``split_timestamp`` (a leading timestamp and the rest), or ``(None, text)`` without it."""
    # Imported lazily: the follower's package owns timestamp parsing and imports nothing from here.
    try:
        from exporter.sources.timestamps import split_timestamp
    except ImportError:
        return None, text
    try:
        return split_timestamp(text)
    except Exception:  # a timestamp we cannot read leaves the text as it was
        return None, text


def _strip_tags(text: str) -> tuple[str, float | None, int | None]:
    if not text.lstrip(" ").startswith("["):
        return text, None, None
    match = _TAG.match(text)
    if match is None:
        return text, None, None
    body = text[match.end() :]
    tag = _RANK.search(match.group())
    rank = int(next(group for group in tag.groups() if group is not None)) if tag else None
    found, rest = split_timestamp(body.lstrip(" "))
    if found is None:
        return body, None, rank
    return rest.lstrip(" "), found, rank


def strip_prefixes(text: str) -> Stripped:
    """Return the text's parts with launcher tags and collector escapes removed, and any tag timestamp."""
    if "#0" not in text:
        if not text.lstrip(" ").startswith("["):
            return Stripped([text])
        body, time, rank = _strip_tags(text)
        return Stripped([body], time, rank)
    text = _SYSLOG_ESCAPE.sub("", text).replace("#011", "\t")
    parts: list[str] = []
    time = rank = None
    for piece in _SYSLOG_SPLIT.split(text):
        body, found, tagged = _strip_tags(piece)
        if time is None:
            time = found
        if rank is None:
            rank = tagged
        if body.strip():
            parts.append(body)
    return Stripped(parts or [""], time, rank)
