"""When silence means a hang: how long this run may go without a progress line at this point of its schedule.

A fixed timeout is either too slow for a fast bar or too eager for a run that logs every minute. The run's own
rhythm sets it instead: the usual gap between its progress lines, the longest recent one, and, when an eval or
checkpoint is due now, the longest one that work has taken (or a generous allowance while it has never been
measured). The floor lets a fast run be called stalled within a minute (so an alert with ``for: 30s`` fires
within two); a run that logs every 20 s gets five of its gaps.
"""

from __future__ import annotations

from dataclasses import dataclass

FLOOR_SECONDS = 40.0
"""Never stalled sooner: covers scheduling jitter, a slow log flush and short contention on any run."""
GAP_FACTOR = 5.0
"""Stalled after this many usual gaps between progress lines..."""
LONGEST_GAP_FACTOR = 2.0
"""...and after twice the longest recent normal gap (a run whose gaps vary a lot gets their range)."""
WORK_FACTOR = 1.25
"""An eval/checkpoint due now may take this much longer than the longest one measured..."""
WORK_MARGIN_SECONDS = 10.0
"""...plus this."""
UNMEASURED_WORK_SECONDS = 150.0
"""Allowance for an eval/checkpoint that is due but has never been measured in this run (its first one)."""
WARMUP_FACTOR = 3.0
"""Before warm-up ends the rhythm is unknown: the floor is stretched by this factor (compiles, first epochs)."""


@dataclass(frozen=True, slots=True)
class Rhythm:
    """What the run's history says about the silence to expect now."""

    usual_gap: float | None
    """Median seconds between two progress lines of normal work (None before any)."""
    longest_gap: float | None
    """Longest recent normal gap."""
    work_due: bool = False
    """An eval/checkpoint occurrence is expected before the next progress line."""
    work_seconds: float | None = None
    """Longest measured extra seconds of one such occurrence (None: never measured)."""
    warmed_up: bool = True


def allowance(rhythm: Rhythm) -> float:
    """Seconds without a progress line after which the run is stalled."""
    base = FLOOR_SECONDS if rhythm.warmed_up else WARMUP_FACTOR * FLOOR_SECONDS
    if rhythm.usual_gap is not None:
        base = max(base, GAP_FACTOR * rhythm.usual_gap)
    if rhythm.longest_gap is not None:
        base = max(base, LONGEST_GAP_FACTOR * rhythm.longest_gap)
    if rhythm.work_due:
        if rhythm.work_seconds is None:
            base += UNMEASURED_WORK_SECONDS
        else:
            base += WORK_FACTOR * rhythm.work_seconds + WORK_MARGIN_SECONDS
    return base
