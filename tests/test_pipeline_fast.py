"""The fast lane (``Parser.fast_progress``): a decided family's plain progress lines read at C speed give exactly
the events, counters and parser state that the full path (prefix check, detection, ``parse``, ``checked``) gives.

Property: random logs of real nanoGPT line shapes with odd numbers (huge counters, commas, nan, negative or
absent mfu, trailing text), eval/checkpoint/config lines, launcher tags and chatter, framed from a file written in
random pieces with ``\\n``, ``\\r\\n`` and ``\\r`` terminators (partial last line included), read through
``Pipeline.read`` with the fast lane and with it switched off.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.events import Event, Progress, to_dict
from exporter.formats import FAMILIES
from exporter.formats.nanogpt import NanoGptParser
from exporter.pipeline import Pipeline


class FullPathNanoGpt(NanoGptParser):
    """nanoGPT without its fast lane: every line through ``parse``."""

    def fast_progress(self, text: str) -> Progress | None:
        return None


numbers = st.one_of(
    st.floats(0, 1e4, allow_nan=False).map(lambda v: f"{v:.4f}"),
    st.sampled_from(["nan", "inf", "-inf", "1,234.5", "1e3", "1_0.5", "-1.0", "3.", ".5", "1.2.3", "", "x"]),
    st.integers(0, 10**20).map(str),
)
counters = st.one_of(st.integers(0, 10**6).map(str), st.sampled_from(["0", "007", "9" * 15, "9" * 16, "1,000"]))
iter_lines = st.builds(
    lambda it, loss, ms, mfu, tail: f"iter {it}: loss {loss}, time {ms}ms{mfu}{tail}",
    counters,
    numbers,
    numbers,
    st.one_of(st.just(""), numbers.map(lambda v: f", mfu {v}%"), st.just(", mfu -100.00%")),
    st.sampled_from(["", " extra", ",", "%"]),
)
other_lines = st.sampled_from([
    "step 250: train loss 2.1, val loss 2.2",
    "saving checkpoint to out",
    "Overriding config with config/train.py:",
    "max_iters = 5000",
    "Overriding: eval_interval = 250",
    "[rank1]:iter 3: loss 1.0, time 80.00ms, mfu 3.00%",
    " iter 4: loss 1.0, time 80.00ms, mfu 3.00%",
    "number of parameters: 10.65M",
    "100%|██████████| 10/10 [00:01<00:00, 9.50it/s]",
    "",
])
logs = st.lists(st.one_of(iter_lines, iter_lines, other_lines), min_size=1, max_size=60)


def events_of(path: Path, pipeline: Pipeline) -> tuple[list[dict[str, object]], tuple[int, int, int, int]]:
    events: list[Event] = list(pipeline.read(path))
    return [to_dict(e) for e in events], (pipeline.records, pipeline.parsed, pipeline.rejected, pipeline.parser_errors)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=logs, terminators=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=1), cut=st.booleans(),
       forced=st.booleans(), times=st.one_of(st.none(), st.lists(st.sampled_from([1.7e9, 0.0, 5e9, -1.0]), min_size=1)))
def test_fast_lane_gives_the_full_paths_events(lines: list[str], terminators: list[str], cut: bool,
                                               forced: bool, times: list[float] | None) -> None:
    lines = ["Overriding: max_iters = 100", "iter 0: loss 4.0, time 30000.00ms, mfu -100.00%", *lines]
    if times is None:
        text = "".join(line + terminators[i % len(terminators)] for i, line in enumerate(lines))
        name = "train.log"
    else:  # record times, some out of any clock's range
        text = "".join(f"{times[i % len(times)] + i}\t{line}\n" for i, line in enumerate(lines))
        name = "train.tslog"
    if cut:
        text = text[: len(text) - 3]  # a partial last line
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8")
        if forced:
            fast = Pipeline(parsers=(NanoGptParser,))
            full = Pipeline(parsers=(FullPathNanoGpt,))
        else:
            fast = Pipeline()
            full = Pipeline(parsers=tuple(FullPathNanoGpt if f is NanoGptParser else f for f in FAMILIES))
        assert events_of(path, fast) == events_of(path, full)


def test_the_fast_lane_reads_plain_lines_and_leaves_the_rest() -> None:
    parser = NanoGptParser()
    event = parser.fast_progress("iter 12: loss 3.25, time 81.50ms, mfu 12.50%")
    assert event == Progress(iteration=12, loss=3.25, iteration_seconds=0.0815, mfu=0.125)
    assert parser.fast_progress("iter 12: loss 3.25, time 81.50ms, mfu -100.00%") == Progress(
        iteration=12, loss=3.25, iteration_seconds=0.0815, mfu=None)
    for odd in ("iter 12: loss 3.25, time 1,081.50ms, mfu 12.50%", "iter 12: loss 3.25, time 81.50ms",
                f"iter {10**15}: loss 1.0, time 80.00ms, mfu 1.00%", "step 250: train loss 2.1, val loss 2.2"):
        assert parser.fast_progress(odd) is None
