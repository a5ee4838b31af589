"""deploy/ kept consistent with the code: settings names, ports, probe paths, files, runbooks.

The compose file, the container image and the Kubernetes manifests cannot run here; these
checks are what keeps them honest. YAML syntax is checked when PyYAML is importable (it is not
a project dependency); everything else reads the text.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from streams.settings import Settings
from tests.support.prometheus import REPO, RULE_FILES, RULE_TESTS

DEPLOY = REPO / "deploy"
RUNBOOKS = REPO / "docs" / "runbooks"
COMPOSE = DEPLOY / "compose" / "docker-compose.yml"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "container" / "Dockerfile"
OUR_YAML = sorted(
    p
    for p in DEPLOY.rglob("*")
    if p.suffix in {".yml", ".yaml"} and "kafka" not in p.relative_to(DEPLOY).parts
)
ENV_FILES = [
    COMPOSE,
    DOCKERFILE,
    K8S / "configmap.yaml",
    K8S / "secret.yaml",
    K8S / "deployment.yaml",
]


def alerts(path: Path) -> list[tuple[str, str]]:
    """``(alertname, its block of text)`` for every alerting rule in a rules file."""
    text = path.read_text(encoding="utf-8")
    parts = re.split(r"^\s*- alert: ", text, flags=re.MULTILINE)[1:]
    return [(part.split(None, 1)[0], part) for part in parts]


ALL_ALERTS = [name for path in RULE_FILES for name, _ in alerts(path)]


def test_there_are_rules_and_tests() -> None:
    assert [p.name for p in RULE_FILES] == [
        "patrolflow-command.rules.yml",
        "patrolflow-ops.rules.yml",
    ]
    assert RULE_TESTS
    assert len(ALL_ALERTS) == len(set(ALL_ALERTS)) >= 10


def _yaml_loader() -> list[str] | None:
    """A command that parses YAML from stdin: this Python's PyYAML, else the system python3's."""
    try:
        import yaml  # noqa: F401
    except ImportError:
        pass
    else:
        return [sys.executable]
    system = shutil.which("python3", path="/usr/bin:/bin")
    if system and subprocess.run([system, "-c", "import yaml"], check=False).returncode == 0:
        return [system]
    return None


@pytest.mark.parametrize("path", OUR_YAML, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_parses(path: Path) -> None:
    python = _yaml_loader()
    if python is None:
        pytest.skip("no PyYAML here nor in the system python3 (PyYAML is not a project dependency)")
    script = (
        "import sys, yaml\n"
        "docs = [d for d in yaml.safe_load_all(sys.stdin) if d is not None]\n"
        "assert docs and all(isinstance(d, dict) for d in docs), docs\n"
    )
    result = subprocess.run(
        [*python, "-c", script],
        input=path.read_text(encoding="utf-8"),
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, f"{path}: {result.stderr[-2000:]}"


def test_yaml_files_use_spaces_and_no_tabs() -> None:
    for path in OUR_YAML:
        assert "\t" not in path.read_text(encoding="utf-8"), path


@pytest.mark.parametrize(("path", "block"), [b for p in RULE_FILES for b in alerts(p)])
def test_every_alert_has_severity_annotations_and_a_runbook(path: str, block: str) -> None:
    name = path
    assert re.fullmatch(r"Patrolflow[A-Z][A-Za-z]+", name)
    assert re.search(r"^\s+severity: (warning|critical)$", block, re.MULTILINE), name
    assert re.search(r"^\s+audience: (oncall|supervisor)$", block, re.MULTILINE), name
    assert re.search(r"^\s+summary: \S", block, re.MULTILINE), name
    assert re.search(r"^\s+description: \S", block, re.MULTILINE), name
    runbook = re.search(r"^\s+runbook_url: (\S+)$", block, re.MULTILINE)
    assert runbook, name
    assert runbook.group(1) == f"docs/runbooks/{name}.md", name
    page = REPO / runbook.group(1)
    assert page.is_file(), f"{page} is missing"
    text = page.read_text(encoding="utf-8")
    assert text.startswith(f"# {name}\n")
    for section in ("## What it means", "## How to check", "## How to fix"):
        assert section in text, f"{page.name}: {section}"


def test_every_runbook_belongs_to_an_alert_and_the_index_lists_them_all() -> None:
    pages = {p.stem for p in RUNBOOKS.glob("*.md")} - {"README"}
    assert pages == set(ALL_ALERTS)
    index = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    for name in ALL_ALERTS:
        assert f"[{name}]({name}.md)" in index, name


def test_every_alert_has_a_firing_and_a_quiet_promtool_test() -> None:
    """Layout of the test files: ``alertname: X``, then ``exp_alerts: []`` or a list."""
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        text = path.read_text(encoding="utf-8")
        for name, empty in re.findall(r"alertname: (\w+)\s*\n\s*exp_alerts:[ ]*(\[\])?", text):
            (quiet if empty else firing).add(name)
    assert set(ALL_ALERTS) - firing == set(), "alerts without a firing test"
    assert set(ALL_ALERTS) - quiet == set(), "alerts without a not-firing test"
    assert (firing | quiet) - set(ALL_ALERTS) == set(), "tests of alerts that do not exist"


def test_rule_tests_load_the_rule_files_relative_to_themselves() -> None:
    for path in RULE_TESTS:
        for rel in re.findall(r"^\s+- (\.\./rules/\S+)$", path.read_text(), re.MULTILINE):
            assert (path.parent / rel).is_file(), rel


def test_prometheus_config_scrapes_the_default_worker_port_and_loads_the_rules() -> None:
    text = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    assert f"127.0.0.1:{Settings.model_fields['web_port'].default}" in text
    assert "job_name: patrolflow" in text
    for path in RULE_FILES:
        assert f"rules/{path.name}" in text
    compose = (DEPLOY / "compose" / "prometheus.yml").read_text()
    assert "job_name: patrolflow" in compose
    assert "port: 6066" in compose


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_patrolflow_variable_is_a_setting(path: Path) -> None:
    known = {f"PATROLFLOW_{name.upper()}" for name in Settings.model_fields}
    used = set(re.findall(r"\bPATROLFLOW_[A-Z0-9_]+\b", path.read_text(encoding="utf-8")))
    assert used, path
    assert used - known == set(), f"{path.name} names settings the code does not read"


def test_the_worker_port_is_the_same_everywhere() -> None:
    port = Settings.model_fields["web_port"].default
    assert port == 6066
    assert f"PATROLFLOW_WEB_PORT={port}" in DOCKERFILE.read_text()
    assert f"EXPOSE {port}" in DOCKERFILE.read_text()
    assert f'PATROLFLOW_WEB_PORT: "{port}"' in COMPOSE.read_text()
    assert f":{port}/healthz" in COMPOSE.read_text()
    assert f"containerPort: {port}" in (K8S / "deployment.yaml").read_text()
    assert f"port: {port}" in (K8S / "service.yaml").read_text()
    assert f'PATROLFLOW_WEB_PORT: "{port}"' in (K8S / "configmap.yaml").read_text()


def test_probes_use_the_endpoints_the_worker_serves() -> None:
    ops = (REPO / "streams" / "ops.py").read_text()
    assert '@app.page("/healthz")' in ops
    assert '@app.page("/livez")' in ops
    deployment = (K8S / "deployment.yaml").read_text()
    assert re.search(r"readinessProbe:\s*\n\s*httpGet: \{path: /healthz,", deployment)
    assert re.search(r"livenessProbe:\s*\n\s*httpGet: \{path: /livez,", deployment)
    assert re.search(r"startupProbe:\s*\n\s*httpGet: \{path: /livez,", deployment)
    assert "fieldPath: status.podIP" in deployment  # PATROLFLOW_WEB_HOST: bind the pod IP
    assert "requests:" in deployment


def test_kustomization_lists_every_manifest() -> None:
    listed = re.findall(r"^\s+- (\S+\.yaml)$", (K8S / "kustomization.yaml").read_text(), re.M)
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(listed) == present


def test_the_image_copies_what_exists_and_runs_the_cli() -> None:
    text = DOCKERFILE.read_text()
    for source in re.findall(r"^COPY (.+) \S+$", text, re.MULTILINE):
        for part in source.split():
            assert (REPO / part).exists(), part
    assert 'ENTRYPOINT ["patrolflow"]' in text
    assert "patrolflow = " in (REPO / "pyproject.toml").read_text()  # the console script


def test_compose_mounts_exist() -> None:
    text = COMPOSE.read_text()
    for source in re.findall(r"^\s+- (\.{1,2}/[^:]+):", text, re.MULTILINE):
        assert (COMPOSE.parent / source).exists(), source
    assert "dockerfile: deploy/container/Dockerfile" in text
    assert "PATROLFLOW_KAFKA_BOOTSTRAP: kafka:9092" in text


def test_install_script_is_executable_and_non_interactive() -> None:
    script = DEPLOY / "prometheus" / "install.sh"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert "set -euo pipefail" in text
    assert "DEBIAN_FRONTEND=noninteractive" in text
    assert "--no-install-recommends prometheus" in text
    makefile = (REPO / "Makefile").read_text()
    assert "bash deploy/prometheus/install.sh" in makefile
    assert re.search(r"^test: .*\btools\b", makefile, re.MULTILINE)
