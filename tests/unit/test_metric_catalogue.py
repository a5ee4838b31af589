"""The metric catalogue: complete, conventional, and docs/metrics.md in step with the code."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from faust.sensors.prometheus import FaustMetrics
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from schemas import topics
from streams.intake import metrics as intake_metrics
from streams.intake.decode import RejectReason
from streams.observability import catalogue, lag, loop, series
from streams.observability.catalogue import (
    EXPECTED_LATER,
    FAUST_PREFIX,
    FAUST_SENSORS,
    METRIC_MODULES,
    OPTIONAL_MODULES,
    MetricInfo,
    collect,
    convention_problems,
    render_markdown,
)
from tests.support.waiting import eventually

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def metrics() -> list[MetricInfo]:
    return collect()


def test_docs_metrics_md_is_up_to_date(metrics: list[MetricInfo]) -> None:
    path = REPO / "docs" / "metrics.md"
    assert path.read_text(encoding="utf-8") == render_markdown(metrics), (
        "docs/metrics.md is stale: run `python -m streams.observability.catalogue`"
    )


def test_the_check_command_agrees() -> None:
    assert catalogue.main(["--check"]) == 0


def test_the_catalogue_holds_what_the_issue_asks_for(metrics: list[MetricInfo]) -> None:
    names = {s for m in metrics for s in m.exported}
    assert "patrolflow_build_info" in names
    assert "patrolflow_dead_letters_total" in names
    assert "patrolflow_region_watermark_delay_seconds" in names
    assert "patrolflow_intake_records_total" in names
    lag_gauge = next(m for m in metrics if m.name == "patrolflow_consumer_lag_records")
    assert (lag_gauge.type, lag_gauge.labels) == ("gauge", ("topic", "partition"))
    loop_delay = next(m for m in metrics if m.name == "patrolflow_event_loop_delay_seconds")
    assert (loop_delay.type, loop_delay.unit) == ("histogram", "seconds")
    assert "patrolflow_consumer_lag_records" in catalogue.DERIVED[0].promql
    # Faust's own view of the lag stays documented beside it
    faust = {s for m in FAUST_SENSORS for s in m.exported}
    assert "patrolflow_faust_topic_partition_end_offset" in faust
    assert "patrolflow_faust_topic_partition_offset_commited" in faust


def test_our_metrics_follow_the_conventions(metrics: list[MetricInfo]) -> None:
    assert convention_problems(metrics) == []


def test_faust_sensors_follow_the_conventions_with_their_milliseconds() -> None:
    assert convention_problems(FAUST_SENSORS) == []
    timed = {m.name for m in FAUST_SENSORS if m.unit == "ms"}
    assert timed, "Faust's latencies are documented in ms"
    assert all(m.type == "histogram" for m in FAUST_SENSORS if m.unit == "ms")


def test_faust_table_matches_what_faust_registers() -> None:
    """A Faust upgrade that adds, renames or relabels a sensor fails here."""
    registered = catalogue.registered_faust_names()
    assert registered == {m.name for m in FAUST_SENSORS}
    types = {f.name: f.type for f in REGISTRY.collect() if f.name.startswith(FAUST_PREFIX)}
    assert types == {m.name: m.type for m in FAUST_SENSORS}
    fresh = FaustMetrics.create(CollectorRegistry(), FAUST_PREFIX.rstrip("_"))
    labels = {}
    for metric in fresh:
        for family in metric.describe():
            labels[family.name] = tuple(getattr(metric, "_labelnames", ()))
    assert labels == {m.name: m.labels for m in FAUST_SENSORS}


def test_every_module_is_listed_and_only_optional_ones_may_be_missing() -> None:
    required = [m for m in METRIC_MODULES if m not in OPTIONAL_MODULES]
    assert "streams.intake.metrics" in required
    assert "streams.region.metrics" in required
    assert "streams.dispatch.metrics" in required
    assert "streams.ops" in required
    assert "streams.response.metrics" in required
    assert "streams.clearance.metrics" in required
    assert "streams.observability.metrics" in required
    assert set(OPTIONAL_MODULES) <= set(METRIC_MODULES)
    assert set(METRIC_MODULES) >= OPTIONAL_MODULES


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    package = tmp_path / "pf_fake_metrics"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "broken.py").write_text("import pf_no_such_dependency_xyz\n")
    (package / "good.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "pf_fake_metrics"
    for name in [n for n in sys.modules if n.startswith("pf_fake_metrics")]:
        del sys.modules[name]


def test_a_missing_optional_module_is_skipped(fake_package: str) -> None:
    absent = f"{fake_package}.absent"
    loaded = catalogue.import_metric_modules(
        [f"{fake_package}.good", absent, "pf_no_such_package_xyz.metrics"],
        optional={absent, "pf_no_such_package_xyz.metrics"},
    )
    assert [m.__name__ for m in loaded] == [f"{fake_package}.good"]


def test_a_missing_required_module_fails(fake_package: str) -> None:
    with pytest.raises(ModuleNotFoundError):
        catalogue.import_metric_modules([f"{fake_package}.absent"], optional=())


def test_an_optional_module_that_exists_but_cannot_import_fails(fake_package: str) -> None:
    broken = f"{fake_package}.broken"
    with pytest.raises(ModuleNotFoundError, match="pf_no_such_dependency_xyz"):
        catalogue.import_metric_modules([broken], optional={broken})


def test_a_metric_defined_outside_the_listed_modules_is_an_error() -> None:
    registry = CollectorRegistry()
    Counter("patrolflow_stray_things", "Defined nowhere the catalogue looks.", registry=registry)
    with pytest.raises(catalogue.CatalogueError, match="patrolflow_stray_things"):
        collect(registry, modules=[])


@pytest.mark.parametrize(
    ("metric", "complaint"),
    [
        (MetricInfo("pf_things", "gauge", "", (), "x", "m"), "not prefixed"),
        (MetricInfo("patrolflow_faust_mine", "gauge", "", (), "x", "m"), "reserved"),
        (MetricInfo("patrolflow_open_total", "gauge", "", (), "x", "m"), "only counters"),
        (MetricInfo("patrolflow_decision_ms", "histogram", "ms", (), "x", "m"), "seconds"),
        (MetricInfo("patrolflow_send_latency", "histogram", "", (), "x", "m"), "seconds"),
        (MetricInfo("patrolflow_x", "gauge", "", ("incident_id",), "x", "m"), "personal"),
        (MetricInfo("patrolflow_x", "gauge", "", ("unit_id",), "x", "m"), "personal"),
        (MetricInfo("patrolflow_x", "gauge", "", ("caller",), "x", "m"), "personal"),
        (MetricInfo("patrolflow_x", "gauge", "", ("phone",), "x", "m"), "personal"),
        (MetricInfo("patrolflow_x", "gauge", "", ("caller_phone",), "x", "m"), "personal"),
        (MetricInfo("patrolflow_x", "gauge", "", ("summary",), "x", "m"), "personal"),
        (MetricInfo("patrolflow_x", "gauge", "", ("alert_id",), "x", "m"), "personal"),
        (MetricInfo("patrolflow_x", "gauge", "", ("vehicle",), "x", "m"), "BOUNDED_LABELS"),
        (MetricInfo("patrolflow_x", "gauge", "", (), " ", "m"), "help"),
        (MetricInfo("patrolflow_faust_y_latency", "histogram", "", (), "x", "faust"), "ms"),
    ],
)
def test_the_convention_checks_catch_violations(metric: MetricInfo, complaint: str) -> None:
    problems = convention_problems([metric])
    assert any(complaint in p for p in problems), problems


def test_units_come_from_the_name() -> None:
    assert catalogue.unit_of("patrolflow_dispatch_decision_seconds", "histogram") == "seconds"
    assert catalogue.unit_of("patrolflow_clearance_rate_ratio", "gauge") == "ratio"
    assert catalogue.unit_of("patrolflow_build", "info") == "info"
    assert catalogue.unit_of("patrolflow_dispatch_open_incidents", "gauge") == ""


def test_expected_later_names_are_not_exported_yet(metrics: list[MetricInfo]) -> None:
    exported = {s for m in metrics for s in m.samples}
    arrived = [e.sample for e in EXPECTED_LATER if e.sample in exported]
    assert not arrived, (
        f"{arrived} are exported now: drop them from EXPECTED_LATER "
        "(streams/observability/catalogue.py) and check the rules and dashboards that use them"
    )


def test_importing_the_catalogue_starts_nothing_and_connects_nowhere() -> None:
    """Importing streams.ops builds the Faust app: that must not touch the network."""
    script = textwrap.dedent(
        """
        import socket, threading

        def refuse(*args, **kwargs):
            raise AssertionError(f"network access: {args!r}")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        from streams.observability import catalogue, lag
        metrics = catalogue.collect()
        assert catalogue.registered_faust_names()
        assert threading.active_count() == 1, threading.enumerate()
        print(len(metrics))
        """
    )
    env = {"PATH": "/usr/bin:/bin", "PATROLFLOW_KAFKA_BOOTSTRAP": "203.0.113.1:9092"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.strip().splitlines()[-1]) > 10


# --- Consumer lag (streams/observability/lag.py) ---------------------------------------------


def test_partition_lags_from_end_and_committed_offsets() -> None:
    ends = {("t.a", 1): 10, ("t.a", 0): 7, ("t.b", 0): 5, ("t.c", 0): 3}
    committed = {("t.a", 0): 7, ("t.a", 1): 4, ("t.b", 0): None, ("t.c", 0): 9}
    lags = lag.partition_lags(ends, committed, earliest={("t.b", 0): 2})
    assert [(x.topic, x.partition, x.lag) for x in lags] == [
        ("t.a", 0, 0),
        ("t.a", 1, 6),
        ("t.b", 0, 3),  # nothing committed: from the earliest offset
        ("t.c", 0, 0),  # a stale end offset never gives a negative lag
    ]
    assert lag.partition_lags({("t.d", 0): 4}, {})[0].lag == 4  # nothing known: from 0
    assert lag.total_by_topic(lags) == {"t.a": 6, "t.b": 3, "t.c": 0}


def test_sync_gauge_sets_owned_partitions_and_removes_revoked_ones() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("x_lag_records", "lag", ["topic", "partition"], registry=registry)
    first = lag.partition_lags({("t", 0): 5, ("t", 1): 9}, {("t", 0): 1, ("t", 1): 9})
    exported = lag.sync_gauge(gauge, first, set())
    assert exported == {("t", "0"), ("t", "1")}
    assert registry.get_sample_value("x_lag_records", {"topic": "t", "partition": "0"}) == 4
    exported = lag.sync_gauge(gauge, lag.partition_lags({("t", 1): 12}, {("t", 1): 9}), exported)
    assert exported == {("t", "1")}
    assert registry.get_sample_value("x_lag_records", {"topic": "t", "partition": "0"}) is None
    assert registry.get_sample_value("x_lag_records", {"topic": "t", "partition": "1"}) == 3
    assert lag.sync_gauge(gauge, [], exported) == set()
    assert registry.get_sample_value("x_lag_records", {"topic": "t", "partition": "1"}) is None


def test_format_lags_is_a_table_with_totals() -> None:
    text = lag.format_lags(lag.partition_lags({("t", 0): 5, ("t", 1): 2}, {("t", 0): 1}))
    lines = text.splitlines()
    assert lines[0].split() == ["topic", "partition", "end", "committed", "lag"]
    assert lines[1].split() == ["t", "0", "5", "1", "4"]
    assert lines[-1] == "total t: 6"


# --- Event-loop delay (streams/observability/loop.py) ------------------------------------------


async def test_a_blocked_event_loop_shows_as_delay() -> None:
    """A real loop: a task that blocks it for 0.3 s makes the 0.05 s sleep wake that late."""

    async def block() -> None:
        await asyncio.sleep(0.01)
        time.sleep(0.3)  # noqa: ASYNC251  (a blocking call in a coroutine: what the probe catches)

    blocker = asyncio.create_task(block())
    delay = await loop.measure_delay(0.05)
    await blocker
    assert 0.25 <= delay < 2.0
    assert await loop.measure_delay(0.05) < 0.25  # nothing blocks now


async def test_the_probe_reports_every_measurement_until_cancelled() -> None:
    seen: list[float] = []
    probe = asyncio.create_task(loop.probe_forever(seen.append, interval_s=0.01))

    async def three() -> bool:
        return len(seen) >= 3

    await eventually(three, timeout_s=5, what="3 samples")
    probe.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await probe
    assert all(value >= 0 for value in seen)


# --- Series present from start (streams/observability/series.py) -------------------------------


def test_bounded_counters_exist_at_zero_from_start() -> None:
    created = series.initialise()
    assert created == len(series.initial_series()) > 30
    for reason in RejectReason:
        for topic in topics.INPUT_TOPICS:
            labels = {"topic": topic, "reason": reason.value}
            assert REGISTRY.get_sample_value("patrolflow_dead_letters_total", labels) is not None
    unfilled = {"force": "none", "outcome": "unfilled"}
    assert REGISTRY.get_sample_value("patrolflow_dispatch_assignments_total", unfilled) is not None
    breach = {"kind": "response_breach"}
    assert REGISTRY.get_sample_value("patrolflow_response_breaches_total", breach) is not None
    # never a personal or per-region series
    for counter, values in series.initial_series():
        assert "region" not in getattr(counter, "_labelnames", ())
        assert all(values)


def test_initialising_again_keeps_the_counts() -> None:
    series.initialise()
    labels = ("units.telemetry", RejectReason.NOT_JSON.value)
    before = REGISTRY.get_sample_value(
        "patrolflow_dead_letters_total", dict(zip(("topic", "reason"), labels, strict=True))
    )
    assert before is not None
    intake_metrics.DEAD_LETTERS.labels(*labels).inc()
    series.initialise()
    after = REGISTRY.get_sample_value(
        "patrolflow_dead_letters_total", dict(zip(("topic", "reason"), labels, strict=True))
    )
    assert after == before + 1
