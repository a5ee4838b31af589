"""The worker loads every domain: a lost import would silently drop a whole stage."""

from __future__ import annotations

from streams.app import app
from streams.worker import load_agents


def test_every_stage_and_page_is_registered() -> None:
    load_agents()
    agents = {agent.name for agent in app.agents.values()}
    assert {
        "intake.incidents_reported",
        "intake.incidents_updates",
        "intake.units_telemetry",
        "region.routing",
        "region.process",
        "clearance.ledger",
    } <= agents
    tables = set(app.tables.keys())
    assert {"region-units", "region-incidents", "region-clocks", "clearance-counts"} <= tables
    routes = {
        route.resource.canonical
        for route in app.web.web_app.router.routes()
        if route.resource is not None
    }
    assert {"/healthz", "/livez", "/metrics", "/clearance"} <= routes
    # the consumer-lag timer and the event-loop probe (streams.observability.agents)
    tasks = {getattr(task, "__name__", "") for task in app._app_tasks}
    assert {"export_consumer_lag", "probe_event_loop"} <= tasks
