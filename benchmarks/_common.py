"""Shared helpers for the benchmarks: synthetic logs of a given size and a few measurements.

The benchmarks compare against baselines measured in the same run, so absolute figures depend on the machine
and only the ratios are meant to be compared across machines.
"""

from __future__ import annotations

import http.client
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

CACHE_DIR = Path(os.environ.get("BENCH_CACHE", "/tmp/training-eta-bench"))


def _cached(name: str, pieces: Iterator[str]) -> Path:
    """``CACHE_DIR / name``, written once from ``pieces`` (in chunks, through a temporary file)."""
    path = CACHE_DIR / name
    if path.exists():
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as out:
        chunk: list[str] = []
        for piece in pieces:
            chunk.append(piece)
            if len(chunk) >= 10000:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))
    tmp.rename(path)
    return path


def nanogpt_log(lines: int) -> Path:
    """A nanoGPT log with ``lines`` progress lines (log interval 1, eval every 250), cached between runs."""

    def pieces() -> Iterator[str]:
        rng = random.Random(1)
        yield f"Overriding: max_iters = {lines}\nOverriding: eval_interval = 250\nOverriding: log_interval = 1\n"
        for i in range(lines):
            if i % 250 == 0:
                yield f"step {i}: train loss {2 + rng.random():.4f}, val loss {2 + rng.random():.4f}\n"
            ms = 2500.0 if i % 250 == 0 else 75 + rng.random() * 10
            yield f"iter {i}: loss {1 + rng.random():.4f}, time {ms:.2f}ms, mfu {rng.random() * 40:.2f}%\n"

    return _cached(f"nanogpt-{lines}.log", pieces())


def tqdm_log(size_bytes: int) -> Path:
    """An HF-Trainer-style tqdm log of about ``size_bytes``: ``\\r``-separated bar updates, one ``\\n`` per bar, the
    elapsed and remaining times as tqdm prints them for ~4.5 it/s."""

    def clock(seconds: float) -> str:  # tqdm's format_interval
        minutes, secs = divmod(int(seconds), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours:d}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"

    def pieces() -> Iterator[str]:
        rng = random.Random(2)
        written, total, step = 0, 100000, 0
        while written < size_bytes:
            step = step % total + 1
            pct = step * 100 // total
            times = f"{clock(step / 4.5)}<{clock((total - step) / 4.5)}"
            part = f"\r {pct:3d}%|{'█' * (pct // 10):<10}| {step}/{total} [{times}, {4 + rng.random():.2f}it/s]"
            written += len(part.encode())
            yield part
            if step == total:
                yield "\n"
        yield "\n"

    return _cached(f"tqdm-clock-{size_bytes}.log", pieces())


def lightning_log(updates: int) -> Path:
    """A Lightning TQDM log of ``updates`` epoch-bar redraws (10,000 batches per epoch, a loss in the postfix),
    ``\\r``-separated, one ``\\n`` per epoch."""

    def pieces() -> Iterator[str]:
        rng = random.Random(3)
        per_epoch = 10_000
        for i in range(updates):
            epoch, n = divmod(i, per_epoch)
            n += 1
            pct = n * 100 // per_epoch
            yield (f"\rEpoch {epoch}: {pct:3d}%|{'█' * (pct // 10):<10}| {n}/{per_epoch} [00:{n % 60:02d}<01:00, "
                   f"{20 + rng.random():.2f}it/s, v_num=0, train_loss={1 + rng.random():.3f}]")
            if n == per_epoch:
                yield "\n"
        yield "\n"

    return _cached(f"lightning-{updates}.log", pieces())


def complete_blocks(path: Path) -> Iterator[bytes]:
    """The file in 1 MiB blocks cut after their last ``\\n`` or ``\\r`` (the rest starts the next block); the
    unterminated tail last."""
    pending = b""
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            data = pending + block
            cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
            pending = data[cut:]
            yield data[:cut]
    if pending:
        yield pending


def count_records(path: Path) -> int:
    """Records as the exporter frames them: split at \\n, \\r\\n and lone \\r; empty records are not counted
    (the follower skips them: blank lines, and the gap between a ``\\n`` and the ``\\r`` a tqdm bar starts with)."""
    n = 0
    for block in complete_blocks(path):
        lines = block.splitlines()
        n += len(lines) - lines.count(b"")
    return n


def run_timed(cmd: list[str], *, timeout: float | None = None) -> tuple[float, float, float, int]:
    """Run a command to its end; return (wall seconds, CPU seconds, peak RSS in MiB, exit status) of that process
    alone (``os.wait4`` rusage). Raises ``TimeoutError`` (after killing it) past ``timeout`` seconds and
    ``RuntimeError`` with the end of its stderr when it fails."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        deadline = None if timeout is None else start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise TimeoutError(f"{cmd[0]} still running after {timeout:.0f}s")
            time.sleep(0.01)
        wall = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd[:4])} exited {code}: {err.read().decode(errors='replace')[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code


# --- the sidecar in its own process --------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
HARNESS = Path(__file__).resolve().parent / "_sidecar.py"


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used (``/proc/PID/stat`` fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def proc_memory_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS = VmHWM) of a live process, in MiB."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def load_average() -> str:
    """The 1/5/15-minute load averages, to print beside figures taken on a shared machine."""
    return " ".join(open("/proc/loadavg").read().split()[:3])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sidecar:
    """A sidecar subprocess: ``serve`` itself (``gpus=None``: ``--gpu.devices none``) or the fake-GPU harness.

    Use as a context manager; ``get(path)`` keeps one HTTP/1.1 connection open, as Prometheus does.
    """

    def __init__(
        self, logs: dict[str, Path], *, gpus: int | None = None, gpu_poll: float = 1.0
    ) -> None:
        self.port = free_port()
        specs = [f"{run}={path}" for run, path in logs.items()]
        if gpus is None:
            cmd = [sys.executable, "-m", "exporter", "serve", "--gpu.devices", "none", "--log.level", "warning",
                   "--web.listen-address", f"127.0.0.1:{self.port}"]
            for spec in specs:
                cmd += ["--log", spec]
        else:
            cmd = [sys.executable, str(HARNESS), "--gpus", str(gpus), "--gpu-poll", str(gpu_poll),
                   "--port", str(self.port)]
            for spec in specs:
                cmd += ["--log", spec]
        self.cmd = cmd
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self._conn: http.client.HTTPConnection | None = None
        self._stderr = tempfile.TemporaryFile()

    def __enter__(self) -> Sidecar:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=self._stderr)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until /healthz answers (the server binds before the workers start)."""
        deadline = time.perf_counter() + timeout
        while True:
            self._check_alive()
            try:
                self.get("/healthz")
                return
            except OSError:
                if time.perf_counter() > deadline:
                    raise TimeoutError("sidecar did not answer /healthz") from None
                time.sleep(0.02)

    def get(self, path: str) -> bytes:
        """GET over the kept connection; one retry on a fresh one when the server closed an idle connection."""
        for attempt in (1, 2):
            fresh = self._conn is None
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self._conn.request("GET", path)
                return self._conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                self._conn.close()
                self._conn = None
                if fresh or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def metric(self, name: str, run: str | None = None) -> float | None:
        """The value of one sample of /metrics (the one with ``run="RUN"`` when given)."""
        text = self.get("/metrics").decode()
        label = f'run="{run}"' if run is not None else None
        for line in text.splitlines():
            if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " "):
                if label is None or label in line:
                    return float(line.rsplit(" ", 1)[1])
        return None

    def wait_records(self, run: str, records: int, *, timeout: float, poll: float = 0.1) -> tuple[float, float]:
        """Seconds from process start until ``records_read_total{run}`` reaches ``records``; raises TimeoutError
        with the count reached. Returns (seconds, records reached)."""
        deadline = self.started + timeout
        reached = 0.0
        while True:
            self._check_alive()
            try:
                reached = self.metric("training_exporter_records_read_total", run) or 0.0
            except OSError:
                pass  # busy or restarting the connection: ask again at the next poll
            now = time.perf_counter()
            if reached >= records:
                return now - self.started, reached
            if now > deadline:
                raise TimeoutError(f"{reached:.0f} of {records} records after {timeout:.0f}s")
            time.sleep(poll)

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()

    def _check_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            self._stderr.seek(0)
            tail = self._stderr.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"sidecar exited {self.proc.returncode}: {tail}")


def sidecar_catchup_seconds(path: Path, records: int, *, timeout: float = 600.0) -> float:
    """Seconds from starting ``serve --log bench=PATH`` until it has read and estimated all ``records`` (process
    start-up included, as an operator sees it). Raises TimeoutError past ``timeout``."""
    with Sidecar({"bench": path}) as sidecar:
        return sidecar.wait_records("bench", records, timeout=timeout)[0]
