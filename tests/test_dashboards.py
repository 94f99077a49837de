"""The Grafana dashboard and its provisioning, checked without Grafana: structure, variables, units and
descriptions, layout, documented metric names, and PromQL that promtool parses. (The end-to-end test runs every
panel query against a real Prometheus.)"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "dashboards" / "training-eta.json"
PROVISIONING = ROOT / "dashboards" / "provisioning"
METRICS_DOC = ROOT / "docs" / "metrics.md"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Values as Grafana would substitute them with "All" selected; the interval is any valid range.
SUBSTITUTIONS = {"$job": ".*", "$instance": ".*", "$run": ".*", "$__rate_interval": "1m"}


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels() -> list[dict]:
    found = []
    for panel in dashboard()["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return [p for p in found if p["type"] != "row"]


def substitute(expr: str) -> str:
    for variable, value in sorted(SUBSTITUTIONS.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(variable, value)
    return expr


def documented_metrics() -> set[str]:
    return set(re.findall(r"`(training_[a-z0-9_]+)", METRICS_DOC.read_text()))


def test_dashboard_identity_and_no_inputs() -> None:
    board = dashboard()
    text = DASHBOARD.read_text()
    assert re.fullmatch(r"[a-z0-9-]{1,40}", board["uid"])
    assert board["title"]
    assert "__inputs" not in board and "__requires" not in board
    assert "${DS_" not in text, "file provisioning does not resolve import-time datasource inputs"
    assert board.get("id") is None


def test_variables_datasource_job_instance_run() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert list(variables) == ["datasource", "job", "instance", "run"]
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("job", "instance", "run"):
        variable = variables[name]
        assert variable["type"] == "query"
        assert variable["datasource"] == DATASOURCE
        assert variable["query"]["query"].startswith("label_values(")
        assert variable["includeAll"] and variable["allValue"] == ".*"
    assert '$job' in variables["instance"]["query"]["query"]
    assert '$instance' in variables["run"]["query"]["query"]


def test_every_panel_uses_the_datasource_variable_and_has_unit_and_description() -> None:
    ids = [p["id"] for p in panels()]
    assert len(ids) == len(set(ids))
    for panel in panels():
        title = panel["title"]
        assert panel["datasource"] == DATASOURCE, title
        assert panel["description"].strip(), title
        assert panel["fieldConfig"]["defaults"].get("unit"), title
        assert panel["targets"], title
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, title
            assert target["expr"].strip(), title
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), title


def test_queries_filter_by_the_variables() -> None:
    for panel in panels():
        for target in panel["targets"]:
            expr = target["expr"]
            for selector in re.findall(r"\b(?:training_[a-z0-9_]+|up)\{([^}]*)\}", expr):
                assert 'job=~"$job"' in selector and 'instance=~"$instance"' in selector, expr
            for metric in re.findall(r"\b(training_[a-z0-9_]+)", expr):
                assert re.search(rf"{metric}\{{", expr), f"{metric} without a selector in {expr}"
            per_gpu = "training_gpu_" in expr or "collector_up" in expr or re.search(r"\bup\{", expr)
            if not per_gpu:
                assert 'run=~"$run"' in expr, expr


def test_layout_has_no_overlaps_and_fits_the_grid() -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in panels():
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_eta_and_completion_come_first_with_their_range() -> None:
    top = sorted(panels(), key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"]))[:2]
    assert [p["type"] for p in top] == ["stat", "stat"]
    eta, completion = top
    eta_exprs = " ".join(t["expr"] for t in eta["targets"])
    assert {"training_eta_seconds", "training_eta_lower_seconds", "training_eta_upper_seconds"} <= set(
        re.findall(r"training_[a-z_]+", eta_exprs)
    )
    assert "training_estimated_completion_timestamp_seconds" in " ".join(t["expr"] for t in completion["targets"])
    assert completion["fieldConfig"]["defaults"]["unit"].startswith("dateTime")
    assert eta["fieldConfig"]["defaults"]["unit"] in ("dtdurations", "s")


def test_required_views_are_present() -> None:
    by_metric: dict[str, list[dict]] = {}
    for panel in panels():
        for target in panel["targets"]:
            for metric in re.findall(r"\b(training_[a-z0-9_]+|up)\{", target["expr"]):
                by_metric.setdefault(metric, []).append(panel)
    required = {
        "training_progress_ratio", "training_seconds_per_iteration", "training_baseline_seconds_per_iteration",
        "training_pace_ratio", "training_state", "training_diagnosis", "training_gpu_utilization_ratio",
        "training_gpu_utilization_min_ratio", "training_data_loading_ratio", "training_gpu_clocks_event_reason",
        "training_loss", "training_loss_nonfinite", "up", "training_exporter_collector_up",
    }
    assert required <= set(by_metric), required - set(by_metric)
    # seconds/iteration is drawn against its baseline in the same panel
    assert set(map(id, by_metric["training_seconds_per_iteration"])) & set(
        map(id, by_metric["training_baseline_seconds_per_iteration"])
    )
    # GPU mean and minimum in one panel
    assert set(map(id, by_metric["training_gpu_utilization_ratio"])) & set(
        map(id, by_metric["training_gpu_utilization_min_ratio"])
    )
    assert any(p["type"] == "state-timeline" for p in by_metric["training_state"])
    assert any(p["type"] == "timeseries" for p in by_metric["training_eta_seconds"]), "ETA over time"


def test_panels_use_only_documented_metrics() -> None:
    documented = documented_metrics()
    for panel in panels():
        for target in panel["targets"]:
            used = set(re.findall(r"\btraining_[a-z0-9_]+", target["expr"]))
            assert used <= documented, f"{panel['title']}: {used - documented}"


def test_panel_queries_parse_with_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: install Debian's 'prometheus' package (.ci/run does)"
    rules = [
        {"record": f"panel:{panel['id']}:{target['refId']}", "expr": substitute(target["expr"])}
        for panel in panels()
        for target in panel["targets"]
    ]
    for variable in dashboard()["templating"]["list"][1:]:
        match = re.fullmatch(r"label_values\((.*), *\w+\)", substitute(variable["query"]["query"]))
        assert match, variable["name"]
        rules.append({"record": f"variable:{variable['name']}", "expr": match.group(1)})
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_provisioning_files() -> None:
    (datasource_file,) = (PROVISIONING / "datasources").glob("*.yaml")
    datasources = yaml.safe_load(datasource_file.read_text())["datasources"]
    (prometheus,) = datasources
    assert prometheus["type"] == "prometheus" and prometheus["uid"] == "prometheus"
    assert prometheus["url"].startswith("http://prometheus:")
    (provider_file,) = (PROVISIONING / "dashboards").glob("*.yaml")
    (provider,) = yaml.safe_load(provider_file.read_text())["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/")
