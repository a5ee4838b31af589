"""The demo's screen, its simulator configuration and its deployment (no broker, no worker)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console

from schemas import topics
from streams.demo import DemoOptions
from streams.demo.deployment import new_deployment
from streams.demo.feeds import sim_config
from streams.demo.state import DemoState
from streams.demo.view import Header, render, rows_for
from streams.settings import Settings
from streams.sim.generator import START_MARGIN_S
from tests.unit.test_demo_state import METRICS, PHONE, alert, assignment, report

NOW = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


def screen(state: DemoState, rows: int = 8) -> str:
    console = Console(record=True, width=160, file=io.StringIO())
    header = Header(
        city="Hailar",
        tz=ZoneInfo("Asia/Shanghai"),
        speed="5x",
        elapsed_s=12.0,
        duration_s=90.0,
        metrics_url="http://127.0.0.1:6066/metrics",
        clearance_url="http://127.0.0.1:6066/clearance",
        events_sent=1234,
        event_time=NOW,
    )
    console.print(render(state, header, rows))
    return console.export_text()


def test_the_screen_shows_incidents_assignments_alerts_and_kpis_without_personal_data() -> None:
    state = DemoState()
    state.apply(topics.INCIDENTS_REPORTED, report(7, caller_phone=PHONE, summary="help"))
    state.apply(topics.DISPATCH_ASSIGNMENTS, assignment("HLR-20250501-000007", 0, 1))
    state.apply(topics.ALERTS_RESPONSE, alert("response_breach", "HLR-20250501-000007"))
    state.apply_metrics(METRICS)

    text = screen(state)
    assert "HLR-20250501-000007" in text
    assert "dispute" in text  # category
    for shown in ("u-station-03-2", "142 s", "180 s"):  # unit, ETA, target
        assert shown in text
    for shown in ("response_breach", "warning"):
        assert shown in text
    assert "14:00:00" in text  # event time in the city's zone
    assert "50% of 8" in text  # first arrivals within target
    assert "21 / 23" in text  # posts covered
    assert "http://127.0.0.1:6066/metrics" in text
    assert PHONE not in text


def test_tables_show_at_most_the_rows_that_fit() -> None:
    state = DemoState()
    for n in range(1, 9):
        state.apply(topics.INCIDENTS_REPORTED, report(n))
    text = screen(state, rows=3)
    assert "HLR-20250501-000008" in text
    assert "HLR-20250501-000006" in text
    assert "HLR-20250501-000005" not in text
    assert rows_for(24, 8) == 2
    assert rows_for(50, 8) == 8


def test_event_time_never_overtakes_wall_time() -> None:
    options = DemoOptions(speed=5.0, duration_s=90.0)
    config = sim_config(options, now=NOW)
    assert config.duration_s == 450.0  # 90 s at 5x
    # published from NOW on at 5x, the last event is due at NOW + 90 s:
    last_event = config.end
    assert last_event <= NOW + timedelta(seconds=90) - timedelta(seconds=START_MARGIN_S)
    open_ended = sim_config(DemoOptions(speed=5.0), now=NOW)
    assert open_ended.end <= NOW + timedelta(seconds=open_ended.duration_s / 5.0)


def test_each_run_is_its_own_deployment_and_owns_only_its_topics(tmp_path: Path) -> None:
    settings = Settings(kafka_bootstrap="127.0.0.1:9999", topic_prefix="team.")
    one = new_deployment(
        settings, data_dir=tmp_path, web_port=6100, snapshot_interval_s=15, live_window_s=5
    )
    two = new_deployment(
        settings, data_dir=tmp_path, web_port=6100, snapshot_interval_s=15, live_window_s=5
    )
    assert one.topic_prefix != two.topic_prefix
    assert one.topic_prefix.startswith("team.demo-")
    assert one.owns(one.settings.topic(topics.DISPATCH_ASSIGNMENTS))
    assert one.owns(f"{one.app_id}-region-clocks-changelog")  # the worker's tables
    assert not one.owns(settings.topic(topics.DISPATCH_ASSIGNMENTS))
    assert not one.owns(two.settings.topic(topics.DISPATCH_ASSIGNMENTS))
    env = one.worker_env({"PATH": "/bin", "PATROLFLOW_TOPIC_PREFIX": "ignored."})
    assert env["PATH"] == "/bin"
    assert env["PATROLFLOW_TOPIC_PREFIX"] == one.topic_prefix
    assert env["PATROLFLOW_KAFKA_BOOTSTRAP"] == "127.0.0.1:9999"
    assert env["PATROLFLOW_WEB_PORT"] == "6100"
    assert env["PATROLFLOW_LIVE_WINDOW_S"] == "5"
    assert all(isinstance(v, str) for v in env.values())
