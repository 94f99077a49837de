"""Ordinary progress lines taken into the open sample many at once, exactly as one at a time.

A long history read after the fact (``report`` on a finished run, a sidecar catching up) is millions of lines that
each only join the sample being coalesced (``coalesce.py``): their gaps, printed seconds and line counts add up.
``Estimator._advance`` does that per line; here the same sums are made over columns (``ProgressColumns``) with
C-speed builtins, as far as the lines stay ordinary, and the line that fills the sample, or the first that is not
ordinary, goes back to the per-line path. The sums are made in the same order, so the result is the same to the bit.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate
from operator import lt, sub

from exporter.estimate import coalesce
from exporter.estimate.run import Run


def take_ordinary(
    run: Run, iterations: list[int], seconds: list[float], start: int, stop: int, *, spike_factor: float
) -> tuple[int, bool]:
    """Take lines ``start`` to ``stop - 1`` (printed seconds, no record times) into the open sample while each is
    one ``Estimator._advance`` would take without closing a sample before it: warm-up over (a pace), nothing
    tagged or due, the counter going up, no spike (over ``spike_factor`` x the pace). Returns the first line not
    taken and whether the last one taken filled the sample (the caller closes it there); the run's
    ``last_iteration`` is left to the caller.
    """
    pending = run.pending
    reference = run.window.pace
    previous = run.last_iteration
    if (
        reference is None  # warm-up not over
        or run.tagged_kinds
        or previous is None
        or (pending.lines and pending.timed)
        or iterations[start] <= previous
    ):
        return start, False
    # The lines one sample takes stay the same until the run's line count reaches the next multiple.
    lines = run.lines
    every = coalesce.COALESCE_AFTER
    region = ((lines + 1) // every + 1) * every - 1 - lines
    fill = max(1, coalesce.lines_per_sample(lines + 1) - pending.lines)
    end = start + min(fill, region, stop - start)
    full = end - start == fill
    if not all(map(lt, iterations[start : end - 1], iterations[start + 1 : end])):
        end = next(i for i in range(start + 1, end) if iterations[i] <= iterations[i - 1])
        full = False
    due = run.periodic.next_due(previous)
    if due is not None and iterations[end - 1] >= due:
        end, full = bisect_left(iterations, due, start, end), False
    limit = spike_factor * reference
    if end > start and max(seconds[start:end]) > limit:
        end, full = next(i for i in range(start, end) if seconds[i] > limit), False
    if end == start:
        return start, False
    sums = list(accumulate(seconds[start:end], initial=pending.seconds))
    filled = bisect_left(sums, coalesce.MAX_SAMPLE_SECONDS, 1)
    if filled < len(sums):
        end, full = start + filled, True
    taken = end - start
    gaps = list(map(sub, iterations[start:end], [previous, *iterations[start : end - 1]]))
    run.line_gaps.extend(gaps)
    run.line_gap = None
    run.lines += taken
    pending.lines += taken
    pending.timed = False
    pending.iterations += taken  # a printed time stands for one iteration (no averaging in these lines)
    pending.seconds = sums[taken]
    pending.span += sum(gaps)
    pending.end_iteration, pending.end_time = iterations[end - 1], None
    if not full:
        run.anchor_iteration, run.anchor_time = iterations[end - 1], None
    return end, full
