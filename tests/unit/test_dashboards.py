"""Grafana dashboards as code: committed JSON is the generator's, panels are well formed, and
every metric a panel or an alert rule names exists (or is declared as coming later).

PromQL syntax is checked by promtool (tests/integration/test_prometheus_rules.py) and each query
is run against a real Prometheus scraping a real worker (tests/e2e/).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from streams.observability.catalogue import EXPECTED_LATER, collect, known_samples
from tests.support.prometheus import (
    DASHBOARD_DIR,
    REPO,
    RULE_FILES,
    RULE_TESTS,
    promql_metric_names,
)

GRAFANA = REPO / "deploy" / "grafana"
PROVISIONING = GRAFANA / "provisioning"


def load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grafana_build", GRAFANA / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = load_build()
DASHBOARD_FILES = sorted(DASHBOARD_DIR.glob("*.json"))


@pytest.fixture(scope="module")
def known() -> set[str]:
    return known_samples(collect())


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_the_two_dashboards_are_there() -> None:
    assert [p.name for p in DASHBOARD_FILES] == ["command-centre.json", "operations.json"]
    assert set(build.BUILDERS) == {p.name for p in DASHBOARD_FILES}


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_committed_json_is_what_the_generator_produces(path: Path) -> None:
    assert path.read_text(encoding="utf-8") == build.render(path.name), (
        f"{path.name} is stale: run `python deploy/grafana/build.py`"
    )


def test_the_check_command_agrees() -> None:
    assert build.main(["--check"]) == 0


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_structure(path: Path) -> None:
    dash = load(path)
    assert re.fullmatch(r"patrolflow-[a-z-]+", dash["uid"])
    assert len(dash["uid"]) <= 40
    assert dash["title"].startswith("patrolflow")
    assert isinstance(dash["schemaVersion"], int)
    assert "patrolflow" in dash["tags"]
    panels = list(build.iter_panels(dash))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    titles = [p["title"] for p in panels if p["type"] != "row"]
    assert len(titles) == len(set(titles)), "panel titles are unique"
    occupied: set[tuple[int, int]] = set()
    for p in panels:
        grid = p["gridPos"]
        assert grid["x"] >= 0, p["title"]
        assert grid["x"] + grid["w"] <= 24, p["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"{p['title']} overlaps another panel"
        occupied |= cells
        if p["type"] == "row":
            continue
        if p["type"] == "text":
            assert p["options"]["content"].strip(), p["title"]
            continue
        assert p["datasource"] == build.DATASOURCE, p["title"]
        assert p["targets"], f"{p['title']} has no query"
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["datasource"] == build.DATASOURCE, p["title"]
            assert t["expr"].strip(), p["title"]
            assert t["expr"].count("(") == t["expr"].count(")"), t["expr"]
            assert t["expr"].count("{") == t["expr"].count("}"), t["expr"]


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_variables_use_the_datasource_and_known_metrics(path: Path, known: set[str]) -> None:
    dash = load(path)
    for variable in dash["templating"]["list"]:
        assert variable["datasource"] == build.DATASOURCE
    for name, selector in build.variable_queries(dash):
        assert promql_metric_names(selector) <= known, name
    used = {v["name"] for v in dash["templating"]["list"]}
    for title, expr in build.panel_queries(dash):
        for var in re.findall(r"\$(\w+)", expr):
            assert var.startswith("__") or var in used, f"{title}: ${var} is not defined"


def test_every_panel_query_names_known_metrics(known: set[str]) -> None:
    unknown = {}
    for path in DASHBOARD_FILES:
        for title, expr in build.panel_queries(load(path)):
            missing = promql_metric_names(build.substitute(expr)) - known
            if missing:
                unknown[f"{path.name}: {title}"] = sorted(missing)
    assert not unknown, (
        "metrics neither in the catalogue, Faust's sensors, the standard series nor "
        f"EXPECTED_LATER: {unknown}"
    )


def test_promql_metric_names_reads_what_it_should() -> None:
    expr = (
        'sum by (topic) (rate(patrolflow_intake_records_total{topic="a.b", outcome!~"x|y"}[5m]))'
        " / on (topic) group_left max(up offset 15m) > bool 1e3"
        " and histogram_quantile(0.99, sum by (le) (rate(x_bucket[$__rate_interval]))) or vector(0)"
    )
    assert promql_metric_names(expr) == {"patrolflow_intake_records_total", "up", "x_bucket"}


@pytest.mark.parametrize("path", [*RULE_FILES, *RULE_TESTS], ids=lambda p: p.name)
def test_rules_and_their_tests_name_known_metrics(path: Path, known: set[str]) -> None:
    """Without a YAML parser: every ``patrolflow_*`` token (expressions, annotations, series).

    The integration test checks the parsed rule expressions completely (through Prometheus).
    """
    tokens = set(re.findall(r"\bpatrolflow_[a-z0-9_]+", path.read_text(encoding="utf-8")))
    assert tokens, path
    assert tokens - known == set()


def test_expected_later_names_are_used_somewhere() -> None:
    """An EXPECTED_LATER entry no rule or panel uses should not be there."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in [*RULE_FILES, *DASHBOARD_FILES])
    unused = [e.sample for e in EXPECTED_LATER if e.sample not in text]
    assert not unused


def test_provisioning_points_at_the_dashboards_and_the_datasource_uid() -> None:
    datasource = (PROVISIONING / "datasources" / "prometheus.yml").read_text()
    assert f"uid: {build.DATASOURCE['uid']}" in datasource
    assert "type: prometheus" in datasource
    dashboards = (PROVISIONING / "dashboards" / "patrolflow.yml").read_text()
    assert "path: /var/lib/grafana/dashboards/patrolflow" in dashboards
    compose = (REPO / "deploy" / "compose" / "docker-compose.yml").read_text()
    assert "../grafana/dashboards:/var/lib/grafana/dashboards/patrolflow" in compose
    assert "../grafana/provisioning:/etc/grafana/provisioning" in compose


def test_the_readme_says_how_to_open_each_dashboard_and_where_the_runbooks_are() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "docker compose -f deploy/compose/docker-compose.yml up" in readme
    for path in DASHBOARD_FILES:
        assert f"http://127.0.0.1:3000/d/{load(path)['uid']}" in readme, path.name
    assert "(docs/runbooks/README.md)" in readme
    compose = (REPO / "deploy" / "compose" / "docker-compose.yml").read_text()
    assert '"127.0.0.1:3000:3000"' in compose
