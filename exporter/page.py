"""The status page at ``/``: per run, the ETA first and largest with its range and completion time, then what
stands in the way (waiting, unreadable, stalled), a plot of the pace over time with the baseline and the hangs,
slow phases and evals marked, where the time went, and the GPUs' utilisation over time.

Server-side HTML and SVG only: no script, no CDN (a sidecar often has no internet), readable at 800 px. The page
reloads itself every ``REFRESH_SECONDS``.
"""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Sequence

from exporter import __version__
from exporter.estimate.phases import PHASES, Episode
from exporter.humanize import BLOCKS_NOTE, format_duration, format_pace, format_timestamp, pace_ahead, total_hint
from exporter.state import GpuState, RunState

REFRESH_SECONDS = 2
"""Often enough to see warm-up, evals and a stall come and go; each load reads cached state only."""
PLOT_WIDTH, PLOT_HEIGHT = 720, 180
PHASE_COLOURS = {
    "training": "#4caf50",
    "warmup": "#9e9e9e",
    "eval_checkpoint": "#2196f3",
    "hang": "#e53935",
    "slow": "#ff9800",
    "stalled": "#8e24aa",
}
PHASE_WORDS = {
    "training": "training",
    "warmup": "warm-up",
    "eval_checkpoint": "evals/checkpoints",
    "hang": "hangs and stops",
    "slow": "slow phases",
    "stalled": "stalled now",
}
STATE_CLASS = {
    "running": "good", "finished": "good", "warmup": "info", "evaluating": "info", "unknown_total": "info",
    "regressed": "warn", "stalled": "bad",
}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.2em;max-width:1100px;color:#222}
h1{font-size:1.3em;margin:0 0 .6em}
.card{border:1px solid #ddd;border-radius:8px;padding:.9em 1.1em;margin-bottom:1.2em;overflow:hidden}
.head{display:flex;flex-wrap:wrap;gap:.6em;align-items:baseline}
.run{font-weight:600;font-size:1.1em}.muted{color:#777;font-size:.9em;overflow-wrap:anywhere}
.badge{border-radius:4px;padding:.1em .5em;font-size:.85em;color:#fff}
.good{background:#2e7d32}.info{background:#1565c0}.warn{background:#ef6c00}.bad{background:#c62828}
.eta{font-size:2.6em;font-weight:700;line-height:1.15;margin:.2em 0 0}
.range{font-size:1.05em;color:#555}.alert{color:#c62828;font-weight:600;margin:.4em 0}
progress{width:100%;height:.9em}
svg{width:100%;height:auto;display:block;margin-top:.6em}
.bar{display:flex;height:1.1em;border-radius:4px;overflow:hidden;margin:.4em 0}
.legend span{display:inline-block;margin-right:1em;font-size:.85em}
.legend i{display:inline-block;width:.8em;height:.8em;margin-right:.3em;vertical-align:middle}
table{border-collapse:collapse;width:100%;font-size:.9em}td,th{padding:.25em .5em;border-bottom:1px solid #eee;
text-align:left}
"""


def render_page(runs: Sequence[RunState], gpu: GpuState | None, *, banner: str = "") -> str:
    """The whole page for the current published state (``banner``: a line shown above it)."""
    cards = "".join(_run_card(state) for state in runs) or '<p class="muted">No run configured.</p>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        f"<title>training-eta-exporter</title><style>{_STYLE}</style></head><body>"
        "<h1>Training ETA</h1>"
        + (f'<p class="alert">{html.escape(banner)}</p>' if banner else "")
        + cards
        + _gpu_section(gpu)
        + f'<p class="muted">Updated {format_timestamp(_now())} · <a href="/metrics">/metrics</a> · '
        f'<a href="/healthz">/healthz</a> · training-eta-exporter {html.escape(__version__)}</p>'
        "</body></html>"
    )


def _run_card(state: RunState) -> str:
    esc = html.escape
    e = state.estimate
    badge = f'<span class="badge {STATE_CLASS.get(e.state, "info")}" data-state="{esc(e.state)}">{esc(e.state)}</span>'
    head = (
        f'<div class="head"><span class="run">{esc(state.run)}</span>{badge}'
        f'<span class="muted">{esc(state.format or "format not detected yet")} · {esc(state.source)}</span></div>'
    )
    if e.state == "finished":
        eta = '<p class="eta" data-eta="0">finished</p>'
        if e.completion_timestamp_seconds is not None:
            eta += f'<p class="range">at {format_timestamp(e.completion_timestamp_seconds)}</p>'
    elif e.eta_seconds is not None:
        eta = f'<p class="eta" data-eta="{e.eta_seconds:.0f}">{format_duration(e.eta_seconds)} left</p>'
        parts = []
        if e.eta_lower_seconds is not None and e.eta_upper_seconds is not None:
            parts.append(f"80% range {format_duration(e.eta_lower_seconds)} – {format_duration(e.eta_upper_seconds)}")
        if e.completion_timestamp_seconds is not None:
            parts.append(f"done at {format_timestamp(e.completion_timestamp_seconds)}")
        eta += f'<p class="range">{" · ".join(parts)}</p>'
    else:
        why = "unknown"
        if e.total_iterations is None:
            why = f"total iterations unknown ({total_hint(e)})"
        if e.state == "stalled":
            why = "none while stalled"
        eta = f'<p class="eta">ETA {esc(why)}</p>' if e.state != "stalled" else ""
    alerts = []
    if state.status:
        alerts.append(state.status)
    elif state.error:
        alerts.append(f"log: {state.error}")
    if e.state == "stalled" and e.seconds_since_progress is not None:
        last = format_timestamp(e.last_progress_timestamp_seconds) if e.last_progress_timestamp_seconds else "?"
        alerts.append(f"no progress for {format_duration(e.seconds_since_progress)} (last line at {last})")
    alert_html = "".join(f'<p class="alert">{esc(a)}</p>' for a in alerts)
    progress = ""
    if e.progress_ratio is not None:
        progress = (
            f'<progress value="{e.progress_ratio:.4f}" max="1"></progress>'
            f'<div class="muted">iteration {e.iteration} of {e.total_iterations} ({100 * e.progress_ratio:.1f}%)</div>'
        )
    elif e.iteration is not None:
        progress = f'<div class="muted">iteration {e.iteration}</div>'
    pace = ""
    if e.seconds_per_iteration is not None:
        pace = f"pace {format_pace(e.seconds_per_iteration)}"
        if e.pace_ratio is not None:
            baseline = e.baseline_seconds_per_iteration
            pace += f" ({e.pace_ratio:.2f}× the baseline" + (f" {format_pace(baseline)})" if baseline else ")")
        if e.trend in ("slowing", "speeding_up"):
            pace += f", {e.trend.replace('_', ' ')}"
        ahead = pace_ahead(e, recent=False)
        if ahead:
            pace += f" · {ahead}"
    diagnosis = ""
    if state.diagnosis is not None:
        diagnosis = f"{esc(state.diagnosis.cause)}" + (f": {esc(state.diagnosis.hint)}" if state.diagnosis.hint else "")
    blocks = esc(BLOCKS_NOTE[0].upper() + BLOCKS_NOTE[1:]) if e.arrives_in_blocks else ""
    details = " · ".join(x for x in (esc(pace), diagnosis, esc(_ranks_line(state)), blocks) if x)
    plot = _pace_plot(state)
    split = _time_bar(state)
    return (
        f'<div class="card" data-run="{esc(state.run)}">{head}{eta}{alert_html}{progress}'
        f'<p class="muted">{details}</p>{plot}{split}</div>'
    )


def _ranks_line(state: RunState) -> str:
    """"4 ranks; slowest: rank 3 at 1.50× the median pace" for ranks that advance side by side."""
    ratio = state.straggler_ratio
    if not state.ranks:
        return ""
    line = f"{len(state.ranks)} ranks"
    paced = [r for r in state.ranks if r.seconds_per_iteration]
    if ratio is not None and paced:
        slowest = max(paced, key=lambda r: r.seconds_per_iteration or 0.0)
        line += f"; slowest: {slowest.rank} at {ratio:.2f}× the median pace"
    return line


def _scale(values: Sequence[float], low: float, high: float, size: float) -> list[float]:
    span = (high - low) or 1.0
    return [(v - low) / span * size for v in values]


def _pace_plot(state: RunState) -> str:
    """Pace of normal work over time (SVG polyline), the baseline (dashed) and shaded episodes."""
    history = state.pace_history
    if len(history) < 2:
        return ""
    times = [t for t, _ in history]
    paces = [p for _, p in history]
    baseline = state.estimate.baseline_seconds_per_iteration
    ceiling = max(max(paces), baseline or 0.0) * 1.1
    t0, t1 = times[0], times[-1]
    xs = _scale(times, t0, t1, PLOT_WIDTH)
    ys = [PLOT_HEIGHT - y for y in _scale(paces, 0.0, ceiling, PLOT_HEIGHT)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    shapes = []
    episodes: Sequence[Episode] = state.time_split.episodes if state.time_split else ()
    for episode in episodes:
        if episode.end_timestamp_seconds < t0 or episode.start_timestamp_seconds > t1:
            continue
        a, b = _scale([max(t0, episode.start_timestamp_seconds), min(t1, episode.end_timestamp_seconds)], t0, t1,
                      PLOT_WIDTH)
        colour = PHASE_COLOURS[episode.phase]
        shapes.append(
            f'<rect x="{a:.1f}" y="0" width="{max(2.0, b - a):.1f}" height="{PLOT_HEIGHT}" fill="{colour}" '
            f'fill-opacity="0.18"><title>{PHASE_WORDS[episode.phase]}: {format_duration(episode.seconds)}'
            f"</title></rect>"
        )
    if baseline:
        y = PLOT_HEIGHT - baseline / ceiling * PLOT_HEIGHT
        shapes.append(f'<line x1="0" x2="{PLOT_WIDTH}" y1="{y:.1f}" y2="{y:.1f}" stroke="#555" '
                      f'stroke-dasharray="6 4"><title>baseline {format_pace(baseline)}</title></line>')
    return (
        f'<svg class="pace" viewBox="0 0 {PLOT_WIDTH} {PLOT_HEIGHT + 18}" role="img" '
        f'aria-label="seconds per iteration over time" data-points="{len(history)}">'
        + "".join(shapes)
        + f'<polyline points="{line}" fill="none" stroke="#1565c0" stroke-width="1.5"/>'
        f'<text x="2" y="{PLOT_HEIGHT + 14}" font-size="11" fill="#777">{_clock(t0)}</text>'
        f'<text x="{PLOT_WIDTH - 2}" y="{PLOT_HEIGHT + 14}" font-size="11" fill="#777" text-anchor="end">'
        f"{_clock(t1)} · pace, top {format_pace(ceiling)}</text></svg>"
    )


def _time_bar(state: RunState) -> str:
    """Where the time went, as one stacked bar with a legend."""
    if state.time_split is None:
        return ""
    seconds = state.time_split.seconds
    wall = sum(seconds.values())
    if wall <= 0:
        return ""
    parts = []
    legend = []
    for phase in PHASES:
        share = seconds.get(phase, 0.0) / wall
        if share <= 0:
            continue
        parts.append(f'<div style="width:{100 * share:.2f}%;background:{PHASE_COLOURS[phase]}" '
                     f'title="{PHASE_WORDS[phase]} {format_duration(seconds[phase])}"></div>')
        legend.append(f'<span><i style="background:{PHASE_COLOURS[phase]}"></i>{PHASE_WORDS[phase]} '
                      f"{format_duration(seconds[phase])}</span>")
    return (f'<div class="muted">where the {format_duration(wall)} went</div><div class="bar">{"".join(parts)}</div>'
            f'<div class="legend">{"".join(legend)}</div>')


def _gpu_section(gpu: GpuState | None) -> str:
    esc = html.escape
    if gpu is None:
        return '<h2>GPUs</h2><p class="muted">GPU reporting is off.</p>'
    if not gpu.up and not gpu.snapshots:
        return f'<h2>GPUs</h2><p class="alert">GPU collector is down: {esc(gpu.down_reason or "no NVML, driver or GPU")}.</p>'
    rows = []
    for snap in gpu.snapshots:
        reasons = ", ".join(r for r, on in (snap.clocks_event_reasons or {}).items() if on) or "–"
        util = "–" if snap.utilization_ratio is None else f"{100 * snap.utilization_ratio:.0f}%"
        util_min = "–" if snap.utilization_min_ratio is None else f"{100 * snap.utilization_min_ratio:.0f}%"
        mem = "–"
        if snap.memory_used_bytes is not None and snap.memory_total_bytes:
            mem = f"{snap.memory_used_bytes / 2**30:.1f} / {snap.memory_total_bytes / 2**30:.1f} GiB"
        power = "–" if snap.power_watts is None else f"{snap.power_watts:.0f} W"
        temp = "–" if snap.temperature_celsius is None else f"{snap.temperature_celsius:.0f} °C"
        clock = "–" if snap.sm_clock_hertz is None else f"{snap.sm_clock_hertz / 1e6:.0f} MHz"
        rows.append(
            f'<tr><td>{snap.index}</td><td>{esc(snap.name)}<br><span class="muted">{esc(snap.uuid)}</span></td>'
            f"<td>{util}</td><td>{util_min}</td><td>{mem}</td><td>{power}</td><td>{temp}</td><td>{clock}</td>"
            f"<td>{esc(reasons)}</td></tr>"
        )
    table = (
        "<table><tr><th>GPU</th><th>name</th><th>utilization</th><th>min</th><th>memory</th><th>power</th>"
        "<th>temp</th><th>SM clock</th><th>clocks events</th></tr>" + "".join(rows) + "</table>"
    )
    plot = _utilization_plot(gpu.utilization_history)
    stale = "" if gpu.up else '<p class="alert">GPU collector is down: values may be stale.</p>'
    return f"<h2>GPUs</h2>{plot}{table}{stale}"


def _utilization_plot(history: Sequence[tuple[float, float]]) -> str:
    if len(history) < 2:
        return ""
    times = [t for t, _ in history]
    xs = _scale(times, times[0], times[-1], PLOT_WIDTH)
    points = " ".join(f"{x:.1f},{PLOT_HEIGHT - u * PLOT_HEIGHT:.1f}" for x, (_, u) in zip(xs, history))
    return (
        f'<svg class="gpu" viewBox="0 0 {PLOT_WIDTH} {PLOT_HEIGHT + 18}" role="img" '
        f'aria-label="GPU utilisation over time" data-points="{len(history)}">'
        f'<polyline points="{points}" fill="none" stroke="#2e7d32" stroke-width="1.5"/>'
        f'<text x="2" y="{PLOT_HEIGHT + 14}" font-size="11" fill="#777">{_clock(times[0])}</text>'
        f'<text x="{PLOT_WIDTH - 2}" y="{PLOT_HEIGHT + 14}" font-size="11" fill="#777" text-anchor="end">'
        f"{_clock(times[-1])} · mean GPU utilisation, 0–100%</text></svg>"
    )


def _clock(when: float) -> str:
    return _dt.datetime.fromtimestamp(when, _dt.timezone.utc).strftime("%H:%M:%S") if 0 < when < 3e10 else ""


def _now() -> float:
    return _dt.datetime.now(_dt.timezone.utc).timestamp()
