"""Alert rules: promtool check/test, naming and annotation conventions, runbook anchors, metric names.

promtool is a hard requirement (``.ci/run`` installs Debian's ``prometheus``): a missing binary fails the suite
rather than skipping the rules' only behavioural check.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "alerts" / "training-eta.rules.yml"
RULE_TESTS = sorted((ROOT / "alerts" / "tests").glob("*.yml"))
RUNBOOK = ROOT / "alerts" / "runbook.md"
METRICS_DOC = ROOT / "docs" / "metrics.md"
PREFIX = "Training"
SEVERITIES = {"critical", "warning", "info"}


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool not found: install Debian's 'prometheus' package (.ci/run does)"
    return path


def alert_rules() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def documented_metrics() -> set[str]:
    """Metric names in docs/metrics.md, including both halves of ``a` / `b`` rows."""
    return set(re.findall(r"`(training_[a-z0-9_]+)", METRICS_DOC.read_text()))


def github_anchors(markdown: str) -> set[str]:
    """Anchors GitHub generates for headings: lower case, punctuation dropped, spaces to dashes."""
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_promtool_check_rules_is_clean() -> None:
    result = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    assert RULE_TESTS, "no promtool test files in alerts/tests/"
    result = subprocess.run(
        [promtool(), "test", "rules", *map(str, RULE_TESTS)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_prefix_severity_and_annotations() -> None:
    rules = alert_rules()
    assert len(rules) >= 9
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), "duplicate alert names"
    for rule in rules:
        name = rule["alert"]
        assert re.fullmatch(PREFIX + r"[A-Z][A-Za-z]+", name), name
        assert rule["labels"]["severity"] in SEVERITIES, name
        annotations = rule["annotations"]
        assert set(annotations) >= {"summary", "description", "runbook_url"}, name
        assert "{{" not in annotations["summary"], f"{name}: summary must be a stable sentence"
        assert "{{ $labels." in annotations["description"] or "{{ $value" in annotations["description"], name
        assert "for" in rule, f"{name}: an alert without 'for' fires on a single evaluation"


def test_required_alerts_exist_with_their_severity() -> None:
    by_name = {rule["alert"]: rule for rule in alert_rules()}
    expected = {
        "TrainingStalled": "critical",
        "TrainingPaceRegressed": "warning",
        "TrainingInputBound": "warning",
        "TrainingGpuThrottled": "warning",
        "TrainingEtaSlipping": "warning",
        "TrainingPastDeadline": "critical",
        "TrainingLossNonFinite": "critical",
        "TrainingExporterDown": "warning",
        "TrainingLogMissing": "warning",
        "TrainingLogNotParsed": "warning",
    }
    for name, severity in expected.items():
        assert name in by_name, name
        assert by_name[name]["labels"]["severity"] == severity, name
    regression = by_name["TrainingPaceRegressed"]
    assert "keep_firing_for" in regression, "the regression alert must not flap when the pace hovers at the threshold"
    # Warm-up and stalls are excluded; evals are not (the ratio never includes eval time, and a run evaluating
    # every 30 s would restart `for:` at every eval).
    assert 'state=~"running|regressed|evaluating"' in regression["expr"], "warm-up and stall states must be excluded"


def test_runbook_has_one_section_per_alert_and_urls_point_at_them() -> None:
    anchors = github_anchors(RUNBOOK.read_text())
    names = {rule["alert"] for rule in alert_rules()}
    for rule in alert_rules():
        url = rule["annotations"]["runbook_url"]
        path, _, anchor = url.partition("#")
        assert path == "alerts/runbook.md", url
        assert anchor == rule["alert"].lower(), url
        assert anchor in anchors, f"runbook has no section for {rule['alert']}"
    sections = set(re.findall(r"^## (\S+)\s*$", RUNBOOK.read_text(), flags=re.M))
    assert sections == names, f"runbook sections without an alert or alerts without a section: {sections ^ names}"


def test_rules_use_only_documented_metrics() -> None:
    documented = documented_metrics()
    assert "training_pace_ratio" in documented
    for rule in alert_rules():
        used = set(re.findall(r"\btraining_[a-z0-9_]+", rule["expr"]))
        assert used, rule["alert"]
        assert used <= documented, f"{rule['alert']} uses undocumented metrics {used - documented}"


def test_each_alert_has_a_firing_and_a_silent_promtool_case() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names <= firing, f"alerts never shown to fire: {names - firing}"
    assert names <= silent, f"alerts never shown to stay silent: {names - silent}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("## TrainingStalled", {"trainingstalled"}), ("# Runbook: a b", {"runbook-a-b"})],
)
def test_github_anchor_helper(text: str, expected: set[str]) -> None:
    assert github_anchors(text) == expected
