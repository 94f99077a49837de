"""End to end with a real Prometheus: the exporter follows logs that a writer appends to (config echo, a slow
warm-up iteration, a steady pace with an eval every 100 iterations, then a stall), Prometheus scrapes it every
second and evaluates the bundled rules, and the HTTP API must show:

- the stall alert becoming firing for the stalled run;
- the pace-regression alert never pending or firing through warm-up and evals (which did happen: checked);
- the non-finite-loss alert firing for the run whose loss turned NaN, and only for it;
- every dashboard panel query returning data, and every metric the dashboard uses in the exporter's output.

The rules are the real rules file with every duration divided by 60 (``for: 5m`` becomes ``5s``, ``[15m]``
becomes ``[15s]``), generated here rather than kept as a second copy. The exporter is the real ``serve``
command; only NVML is replaced by the fake device layer (two GPUs), as in ``demo``, so GPU panels have data
on a machine without GPUs. The exporter calls a run stalled no sooner than 60 s after its last line, which
sets this test's length (about 90-100 s). Both processes are stopped by PID in teardown, also on failure.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "alerts" / "training-eta.rules.yml"
DASHBOARD = ROOT / "dashboards" / "training-eta.json"
DURATION_SCALE = 1 / 60
DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}

# The exporter, with NVML swapped for two fake GPUs exactly as `demo` does; everything else is `serve`.
LAUNCHER = """
import sys
from exporter import cli
from exporter.commands import serve
from exporter.gpu.fake import FakeDeviceLayer, FakeGpu

real_build_sidecar = serve.build_sidecar

def build_with_fake_gpus(config, **kwargs):
    gpus = [FakeGpu(uuid=f"GPU-e2e00000-0000-4000-8000-00000000000{i}", utilization_percent=80.0 + 5 * i)
            for i in range(2)]
    return real_build_sidecar(config, gpu_layer=FakeDeviceLayer(gpus), **kwargs)

serve.build_sidecar = build_with_fake_gpus
sys.exit(cli.main(sys.argv[1:]))
"""


# --- test-only rules: the real rules with shorter durations --------------------------------------------------


def scale_duration(text: str, factor: float) -> str:
    """A Prometheus duration (``1h30m``) times ``factor``, in whole seconds (at least ``1s``)."""
    parts = DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    seconds = sum(int(n) * UNIT_SECONDS[u] for n, u in parts) * factor
    return f"{max(1, round(seconds))}s"


def scale_rule_durations(rules: dict[str, Any], factor: float) -> dict[str, Any]:
    """``for``, ``keep_firing_for``, range selectors and ``offset`` of every rule scaled by ``factor``."""
    scaled = json.loads(json.dumps(rules))
    for group in scaled["groups"]:
        for rule in group["rules"]:
            for key in ("for", "keep_firing_for"):
                if key in rule:
                    rule[key] = scale_duration(rule[key], factor)
            rule["expr"] = re.sub(
                r"\[([0-9a-z]+)\]", lambda m: f"[{scale_duration(m.group(1), factor)}]", rule["expr"]
            )
            rule["expr"] = re.sub(
                r"\boffset\s+([0-9a-z]+)", lambda m: f"offset {scale_duration(m.group(1), factor)}", rule["expr"]
            )
    return scaled


def test_scale_rule_durations() -> None:
    rules = {"groups": [{"name": "g", "rules": [{
        "alert": "A", "expr": "x[15m] - y offset 1h > z[6h]", "for": "5m", "keep_firing_for": "1h30m",
    }]}]}
    (rule,) = scale_rule_durations(rules, 1 / 60)["groups"][0]["rules"]
    assert rule == {"alert": "A", "expr": "x[15s] - y offset 60s > z[360s]", "for": "5s", "keep_firing_for": "90s"}
    assert rules["groups"][0]["rules"][0]["for"] == "5m", "the input is not modified"
    assert scale_duration("30s", 1 / 60) == "1s"
    with pytest.raises(ValueError):
        scale_duration("5 minutes", 1)


def test_scaled_real_rules_keep_every_rule_and_shorten_every_duration() -> None:
    real = yaml.safe_load(RULES.read_text())
    scaled = scale_rule_durations(real, DURATION_SCALE)
    real_rules = [r for g in real["groups"] for r in g["rules"]]
    scaled_rules = [r for g in scaled["groups"] for r in g["rules"]]
    assert [r["alert"] for r in scaled_rules] == [r["alert"] for r in real_rules]
    for before, after in zip(real_rules, scaled_rules):
        assert after["for"].endswith("s") and not re.search(r"\[\d+[mh]\]|offset \d+[mh]", after["expr"])
        assert re.sub(r"\d+[smh]", "D", before["expr"]) == re.sub(r"\d+[smh]", "D", after["expr"])


# --- the scenario -------------------------------------------------------------------------------------------


@dataclass
class Writer:
    """Appends a nanoGPT log (run ``gpt``) and an mmengine log with data time (run ``mm``) in real time.

    It writes ``iterations`` lines, then goes on (up to ``max_iterations``) until ``enough()`` says the
    exporter has settled a baseline pace: on a loaded machine polls merge lines into fewer pace samples.
    """

    gpt: Path
    mm: Path
    ddp: Path
    """Two ranks tagged in one file (``torchrun --tee``): the rank series and the straggler ratio."""
    seconds_per_iteration: float = 0.05
    iterations: int = 390
    eval_interval: int = 100
    eval_seconds: float = 0.5
    warmup_seconds: float = 2.0
    max_iterations: int = 1500
    enough: Callable[[], bool] = lambda: True
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    error: list[BaseException] = field(default_factory=list)

    def run(self) -> None:
        try:
            self._write()
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error.append(exc)
        finally:
            self.done.set()

    def _write(self) -> None:
        with self.gpt.open("a", buffering=1) as gpt, self.mm.open("a", buffering=1) as mm, \
                self.ddp.open("a", buffering=1) as ddp:
            ddp.write("[rank0]: Overriding: max_iters = 5000\n")
            gpt.write(
                "Overriding config with config/train_shakespeare_char.py:\n"
                f"Overriding: max_iters = 5000\nOverriding: eval_interval = {self.eval_interval}\n"
                "Overriding: log_interval = 1\ntokens per iteration will be: 2,048\n"
                "compiling the model... (takes a ~minute)\n"
                "step 0: train loss 5.3752, val loss 5.3981\n"
            )
            if self.stop.wait(self.warmup_seconds):
                return
            gpt.write(f"iter 0: loss 5.3645, time {self.warmup_seconds * 1000:.2f}ms, mfu -100.00%\n")
            mm_every = 5
            for iteration in range(1, self.max_iterations + 1):
                if iteration > self.iterations and self.enough():
                    break
                pace = self.seconds_per_iteration
                if iteration % self.eval_interval == 0:
                    gpt.write(f"step {iteration}: train loss 2.4144, val loss 2.4593\nsaving checkpoint to out\n")
                    pace += self.eval_seconds
                if self.stop.wait(pace):
                    return
                loss = 5.0 * math.exp(-iteration / 200) + 1.0
                gpt.write(f"iter {iteration}: loss {loss:.4f}, time {pace * 1000:.2f}ms, mfu 12.50%\n")
                for rank in (0, 1):
                    ddp.write(f"[rank{rank}]: iter {iteration}: loss {loss:.4f}, time {pace * 1000:.2f}ms, mfu 12.50%\n")
                if iteration % mm_every == 0:
                    # the mmengine run's loss turns NaN for its last lines: a diverged run
                    mm_loss = "nan" if iteration > self.iterations - 40 else f"{loss:.4f}"
                    stamp = time.strftime("%Y/%m/%d %H:%M:%S")
                    step_seconds = self.seconds_per_iteration * mm_every
                    mm.write(
                        f"{stamp} - mmengine - INFO - Iter(train) [{iteration // mm_every:>5}/20000]  "
                        f"base_lr: 2.0000e-04 lr: 2.0000e-04  eta: 1:00:00  time: {step_seconds:.4f}  "
                        f"data_time: {0.3 * step_seconds:.4f}  memory: 8324  grad_norm: 2.1  loss: {mm_loss}\n"
                    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def wait_until(what: str, condition: Callable[[], Any], *, timeout: float, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
        except OSError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Stack:
    exporter_url: str
    prometheus_url: str
    writer: Writer
    started: float
    logs: dict[str, Path]

    def query_range(self, expr: str, *, start: float | None = None) -> list[dict]:
        params = urllib.parse.urlencode(
            {"query": expr, "start": start or self.started, "end": time.time(), "step": "1"}
        )
        body = get_json(f"{self.prometheus_url}/api/v1/query_range?{params}")
        assert body["status"] == "success", body
        return body["data"]["result"]

    def metrics(self) -> str:
        """The exporter's /metrics text."""
        with urllib.request.urlopen(self.exporter_url + "/metrics", timeout=5) as response:
            return response.read().decode()

    def alerts(self) -> list[dict]:
        return get_json(f"{self.prometheus_url}/api/v1/alerts")["data"]["alerts"]

    def diagnostics(self) -> str:
        parts = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- {name} (last 2000 chars) ---\n{text[-2000:]}")
        return "\n".join(parts)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate one process we started, by its PID; kill it if it does not exit."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prometheus_binary = shutil.which("prometheus")
    assert prometheus_binary, "prometheus not found: install Debian's 'prometheus' package (.ci/run does)"
    tmp = tmp_path_factory.mktemp("e2e")
    gpt_log, mm_log, ddp_log = tmp / "gpt.log", tmp / "mm.log", tmp / "ddp.log"
    for log in (gpt_log, mm_log, ddp_log):
        log.touch()
    exporter_port, prometheus_port = free_port(), free_port()

    (tmp / "exporter.yml").write_text(yaml.safe_dump({"runs": [
        {"run": "gpt", "log": str(gpt_log), "deadline": "2099-01-01T00:00:00Z"},
        {"run": "mm", "log": str(mm_log)},
        {"run": "ddp", "log": str(ddp_log)},
    ]}))
    rules = scale_rule_durations(yaml.safe_load(RULES.read_text()), DURATION_SCALE)
    (tmp / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    (tmp / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp / "rules.yml")],
        "scrape_configs": [
            {"job_name": "training-eta", "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}]},
        ],
    }))

    logs = {"exporter": tmp / "exporter.out", "prometheus": tmp / "prometheus.out"}
    processes: list[subprocess.Popen[bytes]] = []
    writer = Writer(gpt_log, mm_log, ddp_log)
    thread = threading.Thread(target=writer.run, name="e2e-log-writer", daemon=True)
    try:
        with logs["exporter"].open("wb") as out:
            processes.append(subprocess.Popen(
                [sys.executable, "-c", LAUNCHER, "serve", "--config.file", str(tmp / "exporter.yml"),
                 "--web.listen-address", f"127.0.0.1:{exporter_port}", "--log.poll-interval", "40ms",
                 "--gpu.poll-interval", "0.5s"],
                stdout=out, stderr=subprocess.STDOUT, cwd=tmp,
            ))
        with logs["prometheus"].open("wb") as out:
            processes.append(subprocess.Popen(
                [prometheus_binary, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{prometheus_port}"],
                stdout=out, stderr=subprocess.STDOUT, cwd=tmp,
            ))
        exporter_url = f"http://127.0.0.1:{exporter_port}"
        prometheus_url = f"http://127.0.0.1:{prometheus_port}"
        started = time.time()
        stack = Stack(exporter_url, prometheus_url, writer, started, logs)

        def baseline_settled() -> bool:
            try:
                return 'training_pace_ratio{run="gpt"}' in stack.metrics()
            except OSError:
                return False

        writer.enough = baseline_settled
        for process in processes:
            assert process.poll() is None, stack.diagnostics()
        wait_until("the exporter's /healthz", lambda: urllib.request.urlopen(exporter_url + "/healthz", timeout=2), timeout=20)
        wait_until("Prometheus ready", lambda: urllib.request.urlopen(prometheus_url + "/-/ready", timeout=2), timeout=20)
        wait_until(
            "the first scrape",
            lambda: stack.query_range('up{job="training-eta"} == 1', start=time.time() - 5),
            timeout=20,
        )
        stack.started = time.time()
        thread.start()
        yield stack
    finally:
        writer.stop.set()
        if thread.is_alive():
            thread.join(timeout=5)
        for process in reversed(processes):
            stop_process(process)


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every panel target, variables substituted as Grafana does for "All"."""
    board = json.loads(DASHBOARD.read_text())
    substitutions = {"$job": ".*", "$instance": ".*", "$run": ".*", "$__rate_interval": "5s"}
    queries = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in sorted(substitutions.items(), key=lambda kv: -len(kv[0])):
                expr = expr.replace(variable, value)
            assert "$" not in expr, f"unsubstituted variable in {expr}"
            queries.append((panel["title"], expr))
    return queries


def test_end_to_end_alerts_and_dashboard(stack: Stack) -> None:
    writer = stack.writer
    wait_until("the log writer to finish", writer.done.is_set, timeout=120)
    assert not writer.error, writer.error
    writing_ended = time.time()

    # Every metric the dashboard uses is in the exporter's real output (with fake GPUs, a deadline, data time).
    exported = set(re.findall(r"^(training_[a-z0-9_]+)", stack.metrics(), flags=re.M))
    used = {m for _, expr in dashboard_queries() for m in re.findall(r"\btraining_[a-z0-9_]+", expr)}
    assert used <= exported, f"dashboard metrics missing from /metrics: {sorted(used - exported)}"

    # The run went through warm-up and evals while Prometheus watched...
    seen_states = {
        series["metric"]["state"]
        for series in stack.query_range('training_state{run="gpt"} == 1')
    }
    assert {"evaluating", "running"} <= seen_states, f"{seen_states}\n{stack.diagnostics()}"
    assert stack.query_range('training_pace_ratio{run="gpt"}'), "no pace ratio: the baseline never settled"

    # ...and the stall alert fires once the exporter calls the silent run stalled (>= 60 s after its last line).
    def stalled_firing() -> bool:
        return any(
            a["labels"]["alertname"] == "TrainingStalled" and a["labels"].get("run") == "gpt" and a["state"] == "firing"
            for a in stack.alerts()
        )

    wait_until(
        "TrainingStalled firing for run gpt", stalled_firing, timeout=max(5.0, writing_ended + 90 - time.time()),
        interval=1.0,
    )
    assert "stalled" in {s["metric"]["state"] for s in stack.query_range('training_state{run="gpt"} == 1')}

    # The regression alert was never pending or firing, through warm-up, evals and the stall.
    regression = stack.query_range('ALERTS{alertname="TrainingPaceRegressed"}')
    assert not regression, f"TrainingPaceRegressed was active: {regression}"

    # The diverged run's NaN loss fired its alert; the healthy run did not.
    nonfinite = stack.query_range('ALERTS{alertname="TrainingLossNonFinite", alertstate="firing"}')
    assert {s["metric"]["run"] for s in nonfinite} == {"mm"}, f"{nonfinite}\n{stack.diagnostics()}"

    # Every dashboard query returns data from this Prometheus.
    empty = [f"{title}: {expr}" for title, expr in dashboard_queries() if not stack.query_range(expr)]
    assert not empty, "dashboard queries without data:\n" + "\n".join(empty)
