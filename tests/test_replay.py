"""``replay`` on real logs: one line per progress event, no look-ahead, null where unknown, linear time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exporter.cli import main
from exporter.estimate import STATES

DATA = Path(__file__).parent / "data"
KEYS = {
    "record", "time", "iteration", "total_iterations", "seconds_per_iteration", "remaining_iterations",
    "eta_seconds", "eta_lower_seconds", "eta_upper_seconds", "state",
}


def replay(capsys, *args: str) -> list[dict]:
    assert main(["replay", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_replay_timed_log(capsys):
    rows = replay(capsys, str(DATA / "real_ng_perturbed.tslog"))
    assert len(rows) == 301  # iterations 0..3000 every 10
    assert all(KEYS <= row.keys() for row in rows)
    assert all(row["time"] is not None and row["state"] in STATES for row in rows)
    assert [r["record"] for r in rows] == sorted(r["record"] for r in rows)
    assert rows[0]["state"] == "warmup" and rows[0]["eta_seconds"] is None
    assert rows[-1]["state"] == "finished" and rows[-1]["iteration"] == 3000
    middle = [r for r in rows if r["iteration"] == 2500][0]
    assert middle["total_iterations"] == 3000 and middle["remaining_iterations"] == 500
    assert middle["eta_lower_seconds"] <= middle["eta_seconds"] <= middle["eta_upper_seconds"]
    # Steady at ~80 ms/it plus evals at 2750 and 3000: the true remaining time is about 41 s. The run has
    # switched to ~30x slower phases three times, so the ETA leans towards its long-run pace and its range
    # reaches from the current pace's figure up to more such phases; the truth lies inside it.
    assert middle["eta_lower_seconds"] < 41 < middle["eta_upper_seconds"]
    assert middle["eta_seconds"] >= middle["seconds_per_iteration"] * 500


def test_replay_has_no_look_ahead(capsys, tmp_path):
    lines = (DATA / "real_ng_perturbed.tslog").read_text().splitlines(keepends=True)
    cut = tmp_path / "cut.tslog"
    cut.write_text("".join(lines[:200]))
    partial = replay(capsys, str(cut))
    full = replay(capsys, str(DATA / "real_ng_perturbed.tslog"))
    assert partial and partial == full[: len(partial)]


def test_replay_without_times_uses_printed_times(capsys):
    rows = replay(capsys, str(DATA / "real_ng_perturbed.log"))
    assert all(row["time"] is None for row in rows)
    late = [r for r in rows if r["iteration"] == 2500][0]
    assert late["seconds_per_iteration"] == pytest.approx(0.08, rel=0.2)
    assert late["periodic_interval_iterations"] == 250


def test_replay_total_flag(capsys):
    rows = replay(capsys, "--total-iterations", "6000", str(DATA / "real_ng_perturbed.tslog"))
    assert rows[-1]["total_iterations"] == 6000 and rows[-1]["remaining_iterations"] == 3000
    assert rows[-1]["state"] != "finished"


def test_replay_total_in_epochs_and_every_percent_of_it(capsys):
    path = str(DATA.parent.parent / "benchmarks" / "data" / "mnist_example.tslog")
    rows = replay(capsys, "--total-epochs", "8", "--every", "10%", path)
    # The first line at or past each 10 % of 8 epochs x 20,000 samples, then the last line.
    assert [int(100 * r["iteration"] / 160000) // 10 for r in rows[:-1]] == list(range(10))
    assert rows[-1]["iteration"] == 159840 and rows[-1]["total_iterations"] == 160000
    assert rows[-1]["state"] == "finished"


def test_replay_missing_file_exits_2(capsys, tmp_path):
    assert main(["replay", str(tmp_path / "absent.log")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "cannot read" in err


def test_replay_bad_format_exits_2(capsys):
    assert main(["replay", "--format", "no-such-family", str(DATA / "real_ng_perturbed.log")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_replay_estimates_once_per_printed_point(capsys, tmp_path, monkeypatch):
    """Linear in the log: one estimate per printed line (each over bounded history, see test_estimate_perf), not
    one per line per earlier line."""
    from exporter.estimate import Estimator

    calls = []
    real = Estimator.estimate

    def counting(self, *, now=None):  # noqa: ANN001, ANN202
        calls.append(now)
        return real(self, now=now)

    monkeypatch.setattr(Estimator, "estimate", counting)
    log = tmp_path / "long.log"
    lines = ["Overriding: max_iters = 6000\n"]
    for i in range(6000):
        ms = 2500.0 if i % 250 == 0 else 75 + (i * 7919 % 13)
        lines.append(f"iter {i}: loss 1.0, time {ms:.2f}ms, mfu 10.00%\n")
    log.write_text("".join(lines))
    rows = replay(capsys, str(log))
    assert len(rows) == 6000 and len(calls) == 6000


def same_figures(a: dict, b: dict) -> bool:
    for key, value in a.items():
        other = b[key]
        if isinstance(value, float) and isinstance(other, float):
            if abs(value - other) > 1e-3 * max(abs(value), abs(other), 1e-9):
                return False
        elif value != other:
            return False
    return True


@pytest.mark.parametrize("every", ["10%", "60s", "37"])
def test_every_prints_the_same_figures_as_a_full_replay_at_its_points(capsys, every: str) -> None:
    """``--every`` estimates only at the points it prints; what it prints there equals the full replay's line for
    the same record (within 0.1 %), and the last progress event is always printed."""
    log = str(DATA / "real_ng_perturbed.tslog")
    full = {row["record"]: row for row in replay(capsys, log)}
    thin = replay(capsys, log, "--every", every)
    assert 3 <= len(thin) < len(full) / 3
    assert all(same_figures(row, full[row["record"]]) for row in thin)
    assert thin[-1]["iteration"] == 3000
    if every == "10%":
        assert [row["iteration"] for row in thin][:4] == [0, 300, 600, 900]


def test_every_rejects_what_it_cannot_read(capsys) -> None:
    assert main(["replay", str(DATA / "real_ng_perturbed.tslog"), "--every", "soon"]) == 2
    assert "--every" in capsys.readouterr().err
