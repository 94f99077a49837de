"""Leading timestamps of log records: recognise them, convert them to Unix seconds, strip them.

The follower applies :func:`split_timestamp` to every record; format parsers apply it again to the text after a
``[rank0]:``-style prefix. Records without a timestamp are the common case, so the function rejects them with a
one-character check before any regular expression runs.
"""

from __future__ import annotations

import functools
import re
import time

__all__ = ["FIRST_CHARS", "GLOG_STARTS", "split_timestamp", "parse_rfc3339"]

# Characters a timestamp prefix other than glog's can start with (a digit, a bracket, or leading blanks).
FIRST_CHARS = frozenset("0123456789[ \t")
GLOG_STARTS = frozenset(severity + digit for severity in "IWEF" for digit in "0123456789")
"""The first two characters of a glog prefix (``I1201 …``): most records that start with these letters are words
(``Epoch 1/10``)."""

_CLOCK = r"""
    (?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)
    (?:[.,](?P<frac>\d{1,9})\d*)?
    (?:(?P<z>[Zz])|(?P<sign>[+-])(?P<oh>\d\d):?(?P<om>\d\d))?"""
"""The time of day with its fraction and zone, as both date orders write it (``_to_unix`` reads these groups)."""

_PREFIX = re.compile(
    r"""[ \t]*
    (?P<bracket>\[)?
    (?P<y>\d{4})-(?P<mo>\d\d)-(?P<d>\d\d)[T ]""" + _CLOCK + r"""
    (?(bracket)\]|:?(?=[ \t]|$))
    [ \t]?""",
    re.VERBOSE,
)

_US_PREFIX = re.compile(
    r"""[ \t]*
    (?P<mo>\d\d)/(?P<d>\d\d)/(?P<y>\d{4})[ ]""" + _CLOCK + r"""
    (?=[ \t]|$)[ \t]?""",
    re.VERBOSE,
)
"""``12/01/2026 14:03:07``: the ``datefmt="%m/%d/%Y %H:%M:%S"`` of transformers' and accelerate's example scripts."""

_GLOG_PREFIX = re.compile(
    r"""[IWEF](?P<y>\d{4})?(?P<mo>\d\d)(?P<d>\d\d)[ ]""" + _CLOCK + r"""
    [ ]+\d+[ ][^\s\]]+:\d+\][ ]?""",
    re.VERBOSE,
)
"""``I1201 14:03:07.123456 139872 train.py:95] msg``: absl and glog (JAX, Flax, TensorFlow, T5X, big_vision), the
severity letter, month and day (glog 0.7 puts the year before them), the time, the thread and the source line."""

# Local-time conversions go through time.mktime (slow, DST-aware); records of one minute share one call.
_local_minutes: dict[tuple[int, int, int, int, int], float] = {}
_LOCAL_CACHE_MAX = 4096


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm; no datetime objects)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _local_minute(y: int, mo: int, d: int, h: int, mi: int) -> float:
    key = (y, mo, d, h, mi)
    base = _local_minutes.get(key)
    if base is None:
        if len(_local_minutes) >= _LOCAL_CACHE_MAX:
            _local_minutes.clear()
        base = time.mktime((y, mo, d, h, mi, 0, 0, 0, -1))
        _local_minutes[key] = base
    return base


def _to_unix(m: re.Match[str]) -> float | None:
    mo, d = int(m["mo"]), int(m["d"])
    y = int(m["y"]) if m["y"] is not None else _year_of(mo, d)
    h, mi, s = int(m["h"]), int(m["mi"]), int(m["s"])
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and s <= 60):
        return None
    frac = m["frac"]
    fraction = int(frac) / 10 ** len(frac) if frac else 0.0
    if m["z"] is not None or m["sign"] is not None:
        seconds = _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s
        if m["sign"] is not None:
            offset = int(m["oh"]) * 3600 + int(m["om"]) * 60
            seconds += -offset if m["sign"] == "+" else offset
        return seconds + fraction
    try:
        return _local_minute(y, mo, d, h, mi) + s + fraction
    except (OverflowError, ValueError):
        return None


def _year_of(mo: int, d: int, today: tuple[int, int, int] | None = None) -> int:
    """The year of a date printed without one (glog's ``I1201``): this year (``today``: year, month, day; the
    local date by default), or the last one for a date that would lie more than a day ahead (a log from late
    December read in January)."""
    year, month, day = today or _local_date(int(time.time() // 60))
    return year - 1 if (mo, d) > (month, day + 1) else year


@functools.lru_cache(maxsize=1)
def _local_date(minute: int) -> tuple[int, int, int]:
    """The local (year, month, day) at ``minute`` (Unix minutes): every glog record asks, one call a minute."""
    year, month, day = time.localtime(minute * 60)[:3]
    return year, month, day


def split_timestamp(text: str) -> tuple[float | None, str]:
    """Split a leading timestamp off ``text``: ``(unix_seconds, rest)``, or ``(None, text)`` if there is none.

    Recognised shapes (leading blanks allowed; one blank after the timestamp is removed with it):

    - RFC 3339 as written by ``docker logs -t`` / ``kubectl logs --timestamps``:
      ``2026-11-28T00:33:00.123456789Z msg``, with ``Z`` or an offset (``+02:00``, ``+0200``), fraction up to ns;
    - ``2026-11-28 00:33:00,123 msg`` / ``2026-11-28 00:33:00.123 msg`` / ``2026-11-28 00:33:00 msg``
      (Python logging, loguru);
    - ``[2024-04-06 02:59:36] msg`` (Megatron-LM), also with a fraction or a zone inside the brackets;
    - ``12/01/2026 14:03:07 - INFO - __main__ - msg`` (month first: the Hugging Face example scripts' logging);
    - ``I1201 14:03:07.123456 139872 train.py:95] msg`` (absl and glog; the whole prefix is removed).

    A timestamp without a zone is local time (the exporter's ``TZ``). An unbracketed timestamp must be followed by
    a blank or the end of the text, so ``2026-11-28 00:33:00abc`` is not split. Impossible dates (month 13) are not
    timestamps. Never raises. Stable signature: format parsers call it on text after a ``[rank0]:`` prefix.
    """
    if text[:1] in FIRST_CHARS:
        m = _PREFIX.match(text) or _US_PREFIX.match(text)
    elif text[:2] in GLOG_STARTS:
        m = _GLOG_PREFIX.match(text)
    else:
        return None, text
    if m is None:
        return None, text
    seconds = _to_unix(m)
    if seconds is None:
        return None, text
    return seconds, text[m.end():]


_RFC3339 = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d\d)-(?P<d>\d\d)[Tt ](?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)"
    r"(?:\.(?P<frac>\d{1,9})\d*)?(?:(?P<z>[Zz])|(?P<sign>[+-])(?P<oh>\d\d):?(?P<om>\d\d))?$"
)


def parse_rfc3339(value: str) -> float | None:
    """Unix seconds of a whole RFC 3339 string (container runtimes' ``time`` fields), None if it is not one."""
    m = _RFC3339.match(value)
    return _to_unix(m) if m is not None else None
