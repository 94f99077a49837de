"""Prefix stripping: launcher rank tags, syslog escapes, timestamps behind a tag; fast path otherwise."""

from __future__ import annotations

import time

import pytest

from exporter.formats.prefixes import Stripped, strip_prefixes

LOCAL = time.mktime((2024, 4, 6, 2, 59, 36, 0, 0, -1))


@pytest.mark.parametrize(
    ("text", "body", "rank"),
    [
        ("[rank0]: iter 5: loss 2.0, time 10.00ms", "iter 5: loss 2.0, time 10.00ms", 0),
        ("[rank12]:iter 5: loss 2.0", "iter 5: loss 2.0", 12),
        ("[default3]:step:1/10 train_time:5ms", "step:1/10 train_time:5ms", 3),
        ("[1,mpirank:2,algo-1]<stdout>:step 3/10 | loss 1.0", "step 3/10 | loss 1.0", 2),
        ("[1,5]<stderr>:  30%|###  | 3/10 [00:01<00:02, 3.00it/s]", " 30%|###  | 3/10 [00:01<00:02, 3.00it/s]", 5),
        ("[1,0]<stdout>:[rank0]: iter 1: loss 2", "iter 1: loss 2", 0),
    ],
)
def test_launcher_tags(text: str, body: str, rank: int) -> None:
    assert strip_prefixes(text) == Stripped([body], None, rank)


def test_text_without_prefix_is_untouched() -> None:
    for text in ["iter 5: loss 2.0", "[titan] 2026-05-18 16:08:16,958 - root", "[2024-04-06 02:59:36] x", ""]:
        assert strip_prefixes(text) == Stripped([text], None)


def test_timestamp_after_a_tag() -> None:
    stripped = strip_prefixes("[rank0]: [2024-04-06 02:59:36] iteration       43/     100 |")
    assert stripped.parts == ["iteration       43/     100 |"]
    assert stripped.time == pytest.approx(LOCAL)
    utc = strip_prefixes("[rank1]:2024-04-06T02:59:36.5Z iter 3: loss 1")
    assert utc.parts == ["iter 3: loss 1"] and utc.time == pytest.approx(1712372376.5)


def test_syslog_carriage_returns_split_into_updates() -> None:
    text = " 10%|#         | 1/10 [00:01<00:09,  1.00it/s]#015 20%|##        | 2/10 [00:02<00:08,  1.00it/s]#033[A"
    assert strip_prefixes(text).parts == [
        " 10%|#         | 1/10 [00:01<00:09,  1.00it/s]",
        " 20%|##        | 2/10 [00:02<00:08,  1.00it/s]",
    ]


def test_syslog_escapes_with_tags_on_each_part() -> None:
    stripped = strip_prefixes("[rank0]: a#015[rank0]: b#011c#012#033[2Kd")
    assert stripped.parts == ["a", "b\tc", "d"]


def test_only_escapes_leaves_one_empty_part() -> None:
    assert strip_prefixes("#015#033[A#015").parts == [""]
