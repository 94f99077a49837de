"""deploy/kubernetes: manifests parse, the exporter is a native sidecar sharing the log volume, the PodMonitor
selects the Job's pods, and the PrometheusRule is exactly what the generator makes from the rules file."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
KUBE = ROOT / "deploy" / "kubernetes"
RULES = ROOT / "alerts" / "training-eta.rules.yml"


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_prometheusrule", ROOT / "deploy" / "generate_prometheusrule.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def documents() -> dict[str, dict]:
    """Every manifest in deploy/kubernetes keyed by kind."""
    found: dict[str, dict] = {}
    for path in sorted(KUBE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert doc and doc.get("apiVersion") and doc.get("kind"), path
            assert doc["kind"] not in found, f"two {doc['kind']} manifests"
            found[doc["kind"]] = doc
    return found


def pod_spec() -> dict:
    return documents()["Job"]["spec"]["template"]["spec"]


def exporter_container() -> dict:
    (sidecar,) = [c for c in pod_spec()["initContainers"] if c["name"] == "eta-exporter"]
    return sidecar


def test_all_kinds_present() -> None:
    assert set(documents()) == {"Job", "PodMonitor", "PrometheusRule"}


def test_exporter_is_a_native_sidecar_and_the_job_can_complete() -> None:
    spec = pod_spec()
    sidecar = exporter_container()
    assert sidecar["restartPolicy"] == "Always", "a native sidecar is an init container with restartPolicy Always"
    assert spec["restartPolicy"] in ("Never", "OnFailure")
    assert all(c["name"] != "eta-exporter" for c in spec["containers"])
    assert sidecar["args"][0] == "serve"
    security = sidecar["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
    assert security["readOnlyRootFilesystem"] is True
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert sidecar[probe]["httpGet"]["path"] == "/healthz"


def test_log_volume_is_a_shared_emptydir_read_only_in_the_exporter() -> None:
    spec = pod_spec()
    volumes = {v["name"]: v for v in spec["volumes"]}
    containers = spec["initContainers"] + spec["containers"]
    for container in containers:
        for mount in container.get("volumeMounts", []):
            assert mount["name"] in volumes, f"{container['name']} mounts undeclared volume {mount['name']}"
    sidecar = exporter_container()
    (trainer,) = spec["containers"]
    exp_mount, state_mount = sidecar["volumeMounts"]
    assert f"--state.directory={state_mount['mountPath']}" in sidecar["args"] and not state_mount.get("readOnly")
    assert "emptyDir" in volumes[state_mount["name"]]  # survives a restart of the exporter container in the pod
    (train_mount,) = trainer["volumeMounts"]
    assert exp_mount["name"] == train_mount["name"]
    assert "emptyDir" in volumes[exp_mount["name"]]
    assert exp_mount.get("readOnly") is True and not train_mount.get("readOnly")

    log_arg = next(a for a in sidecar["args"] if a.startswith("--log="))
    log_path = log_arg.split("=")[-1]
    assert log_path.startswith(exp_mount["mountPath"].rstrip("/") + "/")
    trainer_command = " ".join(trainer.get("command", []) + trainer.get("args", []))
    assert log_path in trainer_command, "the trainer must write the file the exporter follows"


def test_run_label_comes_from_an_existing_pod_label() -> None:
    sidecar = exporter_container()
    env = {e["name"]: e for e in sidecar["env"]}
    field_path = env["RUN_NAME"]["valueFrom"]["fieldRef"]["fieldPath"]
    label = re.fullmatch(r"metadata\.labels\['(.+)'\]", field_path).group(1)
    assert label in documents()["Job"]["spec"]["template"]["metadata"]["labels"]
    assert any("$(RUN_NAME)" in a for a in sidecar["args"])


def test_podmonitor_selects_the_job_pods_and_the_metrics_port() -> None:
    docs = documents()
    monitor = docs["PodMonitor"]
    pod_labels = docs["Job"]["spec"]["template"]["metadata"]["labels"]
    for key, value in monitor["spec"]["selector"]["matchLabels"].items():
        assert pod_labels.get(key) == value
    ports = {p["name"]: p["containerPort"] for p in exporter_container()["ports"]}
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] in ports
    assert ports[endpoint["port"]] == 9787
    assert "rank" in {r["targetLabel"] for r in endpoint["relabelings"]}


def test_prometheusrule_is_in_sync_with_the_rules_file() -> None:
    generator = load_generator()
    committed = (KUBE / "prometheusrule.yaml").read_text()
    assert committed == generator.render(RULES.read_text()), "run: python deploy/generate_prometheusrule.py"
    assert yaml.safe_load(committed)["spec"] == yaml.safe_load(RULES.read_text())


def test_generator_check_mode_detects_a_stale_file(tmp_path: Path) -> None:
    generator = load_generator()
    output = tmp_path / "rule.yaml"
    assert generator.main(["-o", str(output), "--check"]) == 1
    assert generator.main(["-o", str(output)]) == 0
    assert generator.main(["-o", str(output), "--check"]) == 0
    output.write_text(output.read_text().replace("for: 5m", "for: 1m", 1))
    assert generator.main(["-o", str(output), "--check"]) == 1


def test_generator_makes_runbook_urls_absolute_on_request() -> None:
    generator = load_generator()
    text = generator.render(RULES.read_text(), runbook_base_url="https://git.example/o/r/blob/main")
    urls = [
        rule["annotations"]["runbook_url"]
        for group in yaml.safe_load(text)["spec"]["groups"]
        for rule in group["rules"]
    ]
    assert urls and all(u.startswith("https://git.example/o/r/blob/main/alerts/runbook.md#") for u in urls)


@pytest.mark.parametrize("bad", ["", "groups: []\n", "- a\n", "groups: [\n"])
def test_generator_rejects_a_bad_rules_file(tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    generator = load_generator()
    rules = tmp_path / "rules.yml"
    rules.write_text(bad)
    assert generator.main(["--rules", str(rules), "-o", "-"]) == 2
    assert str(rules) in capsys.readouterr().err
