"""Alert rules through the real tools: promtool checks and unit-tests them, Prometheus loads them.

Needs promtool and prometheus (Debian package, ``deploy/prometheus/install.sh``), no broker.
Without them the tests skip, except in CI, where they fail.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from streams.observability.catalogue import collect, known_samples
from tests.support.prometheus import (
    DASHBOARD_DIR,
    PROMETHEUS_DIR,
    REPO,
    RULE_FILES,
    RULE_TESTS,
    PrometheusProcess,
    prometheus_config,
    promql_metric_names,
    require_binary,
)
from tests.support.waiting import eventually


def load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grafana_build", REPO / "deploy/grafana/build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def promtool(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    binary = require_binary("promtool")
    return subprocess.run(
        [binary, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def test_promtool_checks_the_rules() -> None:
    result = promtool("check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_FILES)


@pytest.mark.parametrize(
    "config", [PROMETHEUS_DIR / "prometheus.yml", REPO / "deploy/compose/prometheus.yml"]
)
def test_promtool_checks_the_configs(config: Path) -> None:
    result = promtool("check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    result = promtool("test", "rules", *RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout + result.stderr


def test_a_changed_rule_fails_its_unit_test(tmp_path: Path) -> None:
    """The unit tests bite: a threshold moved or a label dropped is caught."""
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS_DIR / "rules", copy / "rules")
    shutil.copytree(PROMETHEUS_DIR / "tests", copy / "tests")
    ops = copy / "rules" / "patrolflow-ops.rules.yml"
    text = ops.read_text()
    mutated = text.replace("(patrolflow_region_watermark_delay_seconds) > 300", "(...) > 3000", 1)
    mutated = mutated.replace("(...)", "(patrolflow_region_watermark_delay_seconds)")
    assert mutated != text
    ops.write_text(mutated)
    result = promtool("test", "rules", *sorted((copy / "tests").glob("*.test.yml")))
    assert result.returncode != 0
    assert "PatrolflowWatermarkStalled" in result.stdout + result.stderr


def test_a_broken_expression_fails_the_check(tmp_path: Path) -> None:
    broken = tmp_path / "broken.rules.yml"
    broken.write_text(
        RULE_FILES[0].read_text().replace("sum by (region) (", "sum by (region) ((", 1)
    )
    result = promtool("check", "rules", broken)
    assert result.returncode != 0


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    """Each panel query (Grafana variables substituted) as a recording rule for promtool."""
    build = load_build()
    lines = ["groups:", "  - name: dashboard-queries", "    rules:"]
    count = 0
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        dash = json.loads(path.read_text())
        exprs = [expr for _, expr in build.panel_queries(dash)]
        exprs += [selector for _, selector in build.variable_queries(dash)]
        for expr in exprs:
            count += 1
            lines.append(f"      - record: dashboard:query_{count}")
            lines.append(f"        expr: {json.dumps(build.substitute(expr))}")
    rules = tmp_path / "dashboards.rules.yml"
    rules.write_text("\n".join(lines) + "\n")
    result = promtool("check", "rules", rules)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{count} rules found" in result.stdout
    assert count > 30


@pytest.fixture(scope="module")
async def loaded_rules(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The rules as Prometheus itself parsed them (``/api/v1/rules``), with no targets."""
    prometheus = PrometheusProcess(
        tmp_path_factory.mktemp("prometheus-rules"),
        prometheus_config(targets=[], rule_files=RULE_FILES),
    )
    prometheus.start()
    try:
        await prometheus.wait_ready()

        async def evaluated() -> list[dict[str, Any]] | None:
            groups = (await prometheus.get("/api/v1/rules"))["data"]["groups"]
            rules = [r for g in groups for r in g["rules"]]
            done = rules and all(r.get("lastEvaluation", "").startswith("2") for r in rules)
            return rules if done else None

        return await eventually(evaluated, timeout_s=30, what="every rule evaluated once")
    finally:
        prometheus.stop()


async def test_prometheus_loads_and_evaluates_every_rule(
    loaded_rules: list[dict[str, Any]],
) -> None:
    names = [r["name"] for r in loaded_rules]
    in_files = [
        n for p in RULE_FILES for n in re.findall(r"^\s*- alert: (\w+)$", p.read_text(), re.M)
    ]
    assert sorted(names) == sorted(in_files)
    for rule in loaded_rules:
        assert rule["type"] == "alerting", rule["name"]
        assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))


async def test_every_rule_is_labelled_annotated_and_has_its_runbook(
    loaded_rules: list[dict[str, Any]],
) -> None:
    for rule in loaded_rules:
        name = rule["name"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["labels"]["audience"] in {"oncall", "supervisor"}, name
        annotations = rule["annotations"]
        assert annotations["summary"].strip(), name
        assert len(annotations["description"]) > 40, name
        assert annotations["runbook_url"] == f"docs/runbooks/{name}.md"
        assert (REPO / annotations["runbook_url"]).is_file(), name


async def test_every_metric_in_a_rule_expression_is_known(
    loaded_rules: list[dict[str, Any]],
) -> None:
    known = known_samples(collect())
    unknown = {
        rule["name"]: sorted(promql_metric_names(rule["query"]) - known)
        for rule in loaded_rules
        if promql_metric_names(rule["query"]) - known
    }
    assert not unknown, f"not in the catalogue, Faust's sensors or EXPECTED_LATER: {unknown}"
