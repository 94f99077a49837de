"""docker-compose.yml (+ the GPU override), the Dockerfile and the configs they mount: compose-spec schema,
pinned images, references between services, volumes and repository files, and the log path shared by the
trainer and the exporter."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
GPU_OVERRIDE = ROOT / "docker-compose.gpu.yml"
SCHEMA = Path(__file__).resolve().parent / "data" / "deploy_compose-spec.json"
DOCKERFILE = ROOT / "Dockerfile"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def compose() -> dict:
    return load(COMPOSE)


def parse_volume(entry: str | dict) -> tuple[str, str, bool]:
    """(source, target, read_only) of a short- or long-syntax service volume."""
    if isinstance(entry, dict):
        return entry.get("source", ""), entry["target"], bool(entry.get("read_only"))
    parts = entry.split(":")
    source, target = parts[0], parts[1]
    return source, target, len(parts) > 2 and "ro" in parts[2].split(",")


def is_bind(source: str) -> bool:
    return source.startswith(("./", "../", "/", "$", "~"))


def flag_value(command: list[str], flag: str) -> str:
    for index, arg in enumerate(command):
        if arg == flag:
            return command[index + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{flag} not in {command}")


@pytest.mark.parametrize("path", [COMPOSE, GPU_OVERRIDE], ids=lambda p: p.name)
def test_validates_against_the_compose_spec(path: Path) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(load(path)), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_schema_rejects_a_broken_file() -> None:
    """The schema check above can fail: an unknown service key is an error."""
    broken = compose()
    broken["services"]["exporter"]["helthcheck"] = broken["services"]["exporter"].pop("healthcheck")
    assert list(jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(broken))


def test_services_present() -> None:
    assert set(compose()["services"]) == {"trainer", "exporter", "prometheus", "grafana", "alertmanager"}


@pytest.mark.parametrize("path", [COMPOSE, GPU_OVERRIDE], ids=lambda p: p.name)
def test_images_are_pinned(path: Path) -> None:
    for name, service in load(path)["services"].items():
        image = service.get("image")
        if image is None:
            continue
        match = re.fullmatch(r"(?:\$\{\w+:-)?([^:{}]+):([^:{}]+?)\}?", image)
        assert match, f"{name}: {image} has no tag"
        assert match.group(2) != "latest" and re.search(r"\d", match.group(2)), f"{name}: {image} is not pinned"
    dockerfile_from = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), flags=re.M)
    assert dockerfile_from and all(re.search(r":\d", ref) for ref in dockerfile_from)


def test_references_between_services_volumes_and_files() -> None:
    doc = compose()
    services = doc["services"]
    declared = set(doc.get("volumes", {}))
    for name, service in services.items():
        depends = service.get("depends_on", {})
        for dependency in depends if isinstance(depends, (list, dict)) else []:
            assert dependency in services, f"{name} depends on unknown service {dependency}"
        for entry in service.get("volumes", []):
            source, target, _ = parse_volume(entry)
            assert PurePosixPath(target).is_absolute(), f"{name}: {target}"
            if is_bind(source):
                assert source.startswith("./"), f"{name}: bind mounts are repository-relative: {source}"
                assert (ROOT / source).exists(), f"{name} mounts missing repository path {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
    used = {
        parse_volume(entry)[0]
        for service in services.values()
        for entry in service.get("volumes", [])
        if not is_bind(parse_volume(entry)[0])
    }
    assert declared == used, f"declared but unused volumes: {declared - used}"


def test_no_dependency_cycle_with_the_gpu_override() -> None:
    edges: dict[str, set[str]] = {}
    for doc in (compose(), load(GPU_OVERRIDE)):
        for name, service in doc["services"].items():
            targets = edges.setdefault(name, set())
            depends = service.get("depends_on", {})
            targets.update(depends if isinstance(depends, (list, dict)) else [])
            for key in ("pid", "network_mode", "ipc"):
                if str(service.get(key, "")).startswith("service:"):
                    targets.add(service[key].split(":", 1)[1])
    assert set(load(GPU_OVERRIDE)["services"]) <= set(compose()["services"])

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"dependency cycle {' -> '.join(path + (node,))}"
        for target in edges.get(node, ()):
            visit(target, path + (node,))

    for node in edges:
        visit(node, ())


def test_exporter_reads_the_trainers_log_read_only_as_non_root() -> None:
    services = compose()["services"]
    trainer, exporter = services["trainer"], services["exporter"]
    trainer_command = trainer["entrypoint"] + trainer["command"]
    assert trainer_command[:3] == ["python", "-m", "exporter.simulator"]
    trainer_log = flag_value(trainer_command, "--log")
    exporter_log = flag_value(exporter["command"], "--log").split("=", 1)[-1]
    assert exporter_log == trainer_log

    (trainer_volume,) = [parse_volume(v) for v in trainer["volumes"]]
    exporter_volume, state_volume = [parse_volume(v) for v in exporter["volumes"]]
    state_flag = exporter["command"].index("--state.directory")
    assert state_volume[1] == exporter["command"][state_flag + 1] and state_volume[2] is False  # its own, writable
    assert trainer_volume[0] == exporter_volume[0], "trainer and exporter must share one named volume"
    assert exporter_volume[2] is True and trainer_volume[2] is False
    assert PurePosixPath(trainer_log).is_relative_to(trainer_volume[1])
    assert PurePosixPath(exporter_log).is_relative_to(exporter_volume[1])

    assert not exporter["user"].startswith("0") and not exporter["user"].startswith("root")
    assert trainer["image"] == exporter["image"] and "build" in exporter
    test = exporter["healthcheck"]["test"]
    # The image's own health check command (HTTP, else HTTPS: it keeps working once TLS is on).
    assert test[:3] == ["CMD", "training-eta-exporter", "healthcheck"]
    port = flag_value(exporter["command"], "--web.listen-address").rsplit(":", 1)[1]
    assert flag_value(test, "--port") == port
    # Admin surfaces are published on this machine only, and Prometheus's lifecycle API is off.
    for service in ("prometheus", "alertmanager", "grafana", "exporter"):
        assert all(str(p).startswith("127.0.0.1:") for p in services[service]["ports"]), service
    assert "--web.enable-lifecycle" not in services["prometheus"]["command"]


def test_gpu_override_reserves_gpus_and_writes_the_same_log() -> None:
    override = load(GPU_OVERRIDE)["services"]
    base = compose()["services"]
    for name in ("trainer", "exporter"):
        (device,) = override[name]["deploy"]["resources"]["reservations"]["devices"]
        assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    log = flag_value(base["trainer"]["entrypoint"] + base["trainer"]["command"], "--log")
    assert log in " ".join(override["trainer"]["command"])
    assert flag_value(override["exporter"]["command"], "--log").split("=", 1)[-1] == log
    assert override["exporter"]["pid"] == "service:trainer"


def test_prometheus_mounts_rules_and_scrapes_the_exporter() -> None:
    services = compose()["services"]
    mounts = {parse_volume(v)[1]: parse_volume(v)[0] for v in services["prometheus"]["volumes"]}
    config_target = next(a.split("=", 1)[1] for a in services["prometheus"]["command"] if a.startswith("--config.file="))
    config = load(ROOT / mounts[config_target])
    rule_globs = config["rule_files"]
    rules_mounted = [t for t, s in mounts.items() if s == "./alerts/training-eta.rules.yml"]
    assert rules_mounted and any(PurePosixPath(rules_mounted[0]).match(g) for g in rule_globs)
    targets = [t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    port = flag_value(services["exporter"]["command"], "--web.listen-address").rsplit(":", 1)[1]
    assert f"exporter:{port}" in targets
    alertmanagers = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert alertmanagers == ["alertmanager:9093"]


def test_grafana_provisioning_matches_the_mounts() -> None:
    grafana = compose()["services"]["grafana"]
    mounts = {parse_volume(v)[1]: parse_volume(v)[0] for v in grafana["volumes"]}
    assert mounts["/etc/grafana/provisioning/datasources"].startswith("./dashboards/provisioning/")
    provider_dir = ROOT / mounts["/etc/grafana/provisioning/dashboards"]
    (provider,) = yaml.safe_load(next(provider_dir.glob("*.yaml")).read_text())["providers"]
    dashboard_targets = [t for t, s in mounts.items() if s.endswith(".json")]
    assert dashboard_targets and all(PurePosixPath(t).parent == PurePosixPath(provider["options"]["path"]) for t in dashboard_targets)
    assert grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] in dashboard_targets
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    datasources = ROOT / mounts["/etc/grafana/provisioning/datasources"]
    (datasource,) = yaml.safe_load(next(datasources.glob("*.yaml")).read_text())["datasources"]
    assert datasource["url"] == "http://prometheus:9090"


def test_alertmanager_config_routes_to_declared_receivers() -> None:
    services = compose()["services"]
    mounts = {parse_volume(v)[1]: parse_volume(v)[0] for v in services["alertmanager"]["volumes"]}
    config = load(ROOT / mounts["/etc/alertmanager/alertmanager.yml"])
    receivers = {r["name"] for r in config["receivers"]}

    def walk(route: dict) -> None:
        if "receiver" in route:
            assert route["receiver"] in receivers, route["receiver"]
        for child in route.get("routes", []):
            walk(child)

    assert config["route"]["receiver"] in receivers
    walk(config["route"])
    assert "run" in config["route"]["group_by"]


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    text = DOCKERFILE.read_text()
    (user,) = re.findall(r"^USER\s+(\S+)", text, flags=re.M)
    assert user.split(":")[0] not in ("0", "root")
    assert "EXPOSE 9787" in text
    assert re.search(r"^HEALTHCHECK .*\n?.*training-eta-exporter\", \"healthcheck", text, flags=re.M)
    assert "chown 10001:10001 /logs" in text
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignore and "!exporter" in ignore and "!pyproject.toml" in ignore
    readme = re.search(r'readme\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert readme is None or f"!{readme.group(1)}" in ignore, "pip install . needs the readme in the context"
