"""Every dashboard query and alert expression, run by a real Prometheus against a real worker.

Each query must parse and execute; each dashboard query must also return data after the
scripted run, unless it reads a metric that is expected later (``EXPECTED_LATER``: nobody
exports it yet, so it is empty by definition).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from types import ModuleType

import pytest

from schemas.topics import INPUT_TOPICS
from streams.observability.catalogue import EXPECTED_LATER
from tests.e2e.conftest import World
from tests.support.prometheus import (
    DASHBOARD_DIR,
    REPO,
    has_data,
    promql_metric_names,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

LATER = {e.sample for e in EXPECTED_LATER}


def load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grafana_build", REPO / "deploy/grafana/build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = load_build()


def dashboard_queries() -> list[tuple[str, str]]:
    """``(dashboard: panel, PromQL)`` of every panel query and variable, variables substituted."""
    found = []
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        dash = json.loads(path.read_text())
        for title, expr in build.panel_queries(dash):
            found.append((f"{path.stem}: {title}", build.substitute(expr)))
        for name, selector in build.variable_queries(dash):
            found.append((f"{path.stem}: ${name}", selector))
    return found


QUERIES = dashboard_queries()


def why_empty(expr: str) -> str | None:
    later = promql_metric_names(expr) & LATER
    return f"expected later: {sorted(later)}" if later else None


async def test_the_worker_is_a_healthy_target(world: World) -> None:
    async def up() -> bool:
        targets = (await world.prometheus.get("/api/v1/targets"))["data"]["activeTargets"]
        return any(t["health"] == "up" for t in targets)

    async def up_queryable() -> bool:
        # The targets page can say "up" a moment before the scrape's samples are queryable
        # (CI saw the query come back empty right after it): wait for what a user queries.
        return bool((await world.prometheus.query('up{job="patrolflow"} == 1'))["result"])

    await eventually(up, timeout_s=30, what="the worker's scrape target up")
    await eventually(up_queryable, timeout_s=30, what='up{job="patrolflow"} == 1')
    info = (await world.prometheus.query("patrolflow_build_info"))["result"]
    assert info
    assert info[0]["metric"]["version"]
    assert info[0]["metric"]["processing_guarantee"] == "at_least_once"


async def test_every_dashboard_query_executes_and_returns_data(world: World) -> None:
    assert len(QUERIES) > 30
    pending = {label: expr for label, expr in QUERIES if why_empty(expr) is None}
    expected_empty = {label: expr for label, expr in QUERIES if why_empty(expr)}

    async def all_have_data() -> bool:
        for label, expr in list(pending.items()):
            if has_data(await world.prometheus.query(expr)):  # raises on a PromQL error
                del pending[label]
        return not pending

    try:
        await eventually(all_have_data, timeout_s=120, interval_s=1.0, what="data in every panel")
    except AssertionError:
        raise AssertionError(
            f"queries still empty after the scripted run: {json.dumps(pending, indent=1)}\n"
            f"--- worker log ---\n{world.worker.log_tail(40)}\n"
            f"--- prometheus log ---\n{world.prometheus.log_tail()}"
        ) from None
    for label, expr in expected_empty.items():
        await world.prometheus.query(expr)  # still parses and executes
        assert why_empty(expr), label


async def test_every_alert_rule_is_loaded_and_evaluates_against_real_data(world: World) -> None:
    async def evaluated() -> list[dict[str, object]] | None:
        groups = (await world.prometheus.get("/api/v1/rules"))["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        fresh = all(str(r.get("lastEvaluation", "")).startswith("2") for r in rules)
        return rules if rules and fresh else None

    rules = await eventually(evaluated, timeout_s=30, what="every rule evaluated")
    silent = {}
    for rule in rules:
        assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))
        # An alert's expression returns series only while its condition holds; what must hold
        # in every run is that it executes, and that every metric it reads is really exported.
        await world.prometheus.query(str(rule["query"]))
        for name in sorted(promql_metric_names(str(rule["query"])) - LATER):
            if not has_data(await world.prometheus.query(f"count({name})")):
                silent.setdefault(str(rule["name"]), []).append(name)
    assert not silent, f"rules reading metrics the worker did not export in the run: {silent}"
    alerts = (await world.prometheus.get("/api/v1/alerts"))["data"]["alerts"]
    active = {a["labels"]["alertname"] for a in alerts}
    assert not active & {"PatrolflowWorkerDown", "PatrolflowNoWorkerUp"}, alerts


async def test_lag_command_reads_the_worker_group_from_the_broker(world: World) -> None:
    async def committed() -> str | None:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "streams.observability.lag",
            "--group",
            world.settings.app_id,
            "--bootstrap",
            world.settings.bootstrap,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, _ = await asyncio.wait_for(process.communicate(), timeout=60)
        text = stdout.decode()
        ok = process.returncode == 0 and world.settings.topic("units.telemetry") in text
        return text if ok else None

    output = await eventually(committed, timeout_s=60, interval_s=1.0, what="committed offsets")
    assert "lag" in output.splitlines()[0]


async def test_consumer_lag_and_loop_delay_as_prometheus_sees_them(world: World) -> None:
    """The on-call figures after the scripted run: every input topic reported under its
    canonical name, drained to 0 once the run is consumed; the event loop measured."""

    async def drained() -> dict[str, float] | None:
        data = await world.prometheus.query("sum by (topic) (patrolflow_consumer_lag_records)")
        result = data["result"]
        lags = {r["metric"]["topic"]: float(r["value"][1]) for r in result}
        inputs = {topic: lags.get(topic) for topic in INPUT_TOPICS}
        return lags if all(v == 0 for v in inputs.values()) else None

    lags = await eventually(drained, timeout_s=60, interval_s=1.0, what="input lag 0")
    assert f"{world.settings.app_id}-routing" in lags
    assert not any("changelog" in topic for topic in lags)
    delay = await world.prometheus.query(
        "histogram_quantile(0.99, sum by (le) "
        "(rate(patrolflow_event_loop_delay_seconds_bucket[1m])))"
    )
    assert has_data(delay)
    assert 0 <= float(delay["result"][0]["value"][1]) < 5
