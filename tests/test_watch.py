"""``watch``: the report redrawn in place while the log grows; a recorded ``.tslog`` is shown once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"


def test_watch_redraws_the_report_as_the_log_grows(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text("Overriding: max_iters = 1000\n" + "".join(
        f"iter {i}: loss 1.5, time 50.00ms, mfu 30.00%\n" for i in range(0, 300, 10)))
    proc = subprocess.Popen([sys.executable, "-m", "exporter", "watch", str(log), "--count", "6", "--interval", "0.3"],
                            stdout=subprocess.PIPE, text=True)
    with log.open("a") as handle:  # while it watches, the run goes on
        handle.write("".join(f"iter {i}: loss 1.5, time 50.00ms, mfu 30.00%\n" for i in range(300, 600, 10)))
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    screens = [s for s in out.split("\n\n") if s.strip()]
    assert len(screens) == 6
    assert "iteration 290 of 1000" in screens[0] or "iteration 590 of 1000" in screens[0]
    assert "iteration 590 of 1000" in screens[-1] and "ETA       " in screens[-1]


def test_watch_a_recorded_tslog_once_and_refuse_a_directory(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "exporter", "watch", str(DATA / "real_ng_perturbed.tslog")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "State     finished" in out.stdout and "Time      " in out.stdout
    bad = subprocess.run([sys.executable, "-m", "exporter", "watch", str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "cannot read" in bad.stderr
