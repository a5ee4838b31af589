"""The bench's pure parts: percentiles, histogram quantiles, the load mix, the target verdicts."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from schemas import topics
from schemas.incidents import IncidentReported, IncidentUpdate
from schemas.units import UnitTelemetry
from streams.bench import load, report
from streams.bench.stats import histogram_quantile, percentile, summary_ms
from streams.city.model import load_city

CITY = load_city(None)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    summary = summary_ms([0.010, 0.020, 0.030])
    assert summary["p50_ms"] == pytest.approx(20.0)
    assert summary["max_ms"] == pytest.approx(30.0)
    assert summary["mean_ms"] == pytest.approx(20.0)


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    # 10 observations <= 1 ms, 10 more between 1 and 2 ms, nothing above.
    buckets = [(0.001, 10.0), (0.002, 20.0), (math.inf, 20.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.001)
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.0015)
    # Everything in +Inf: the highest finite bound, as Prometheus answers.
    assert histogram_quantile(0.99, [(0.001, 0.0), (math.inf, 5.0)]) == pytest.approx(0.001)
    assert math.isnan(histogram_quantile(0.5, [(0.001, 0.0), (math.inf, 0.0)]))


def test_mixed_load_has_the_asked_mix_and_valid_records() -> None:
    end = datetime.now(UTC)
    units = load.fleet(40, CITY, random.Random(1))
    records = load.mixed(5_000, units=units, city=CITY, telemetry_per_incident=200, end=end)
    counts = load.counts(records)
    assert len(records) == 5_000
    assert counts[topics.INCIDENTS_REPORTED] == counts[topics.UNITS_TELEMETRY] // 200
    # Every incident but the last few is closed CLOSE_AFTER records later.
    assert counts[topics.INCIDENTS_UPDATES] >= counts[topics.INCIDENTS_REPORTED] - 1
    models = {
        topics.UNITS_TELEMETRY: UnitTelemetry,
        topics.INCIDENTS_REPORTED: IncidentReported,
        topics.INCIDENTS_UPDATES: IncidentUpdate,
    }
    stamps = []
    for record in records:
        event = models[record.topic].model_validate_json(record.value)
        # Keyed as upstream keys them: by unit, or by incident.
        if isinstance(event, UnitTelemetry):
            assert record.key.decode() == event.unit_id
            stamps.append(event.at)
        else:
            assert isinstance(event, IncidentReported | IncidentUpdate)
            assert record.key.decode() == event.incident_id
            stamps.append(event.at if isinstance(event, IncidentUpdate) else event.reported_at)
    assert stamps == sorted(stamps)
    assert stamps[-1] <= end
    assert end - stamps[0] <= timedelta(seconds=5.1)


def test_units_are_spread_over_every_region_of_the_city() -> None:
    units = load.fleet(400, CITY, random.Random(2))
    regions = {CITY.zone_at(u.lat, u.lon).region_id for u in units}  # type: ignore[union-attr]
    assert regions == set(CITY.regions)


def _results(*, ratio: float, alo_p99: float, missing: int, rss: float) -> dict[str, object]:
    return {
        "throughput": {"ratio_to_ceiling": ratio},
        "latency": [
            {
                "guarantee": "at_least_once",
                "telemetry_per_s_target": 2000.0,
                "missing": 0,
                "p99_ms": alo_p99,
            },
            {
                "guarantee": "exactly_once",
                "telemetry_per_s_target": 2000.0,
                "missing": missing,
                "p99_ms": 100.0,
            },
        ],
        "scale": {
            "decisions": [{"units": 100, "p99_us": 50.0}, {"units": 10_000, "p99_us": 100.0}],
            "steps": [{"units": 10_000, "open_incidents": 50_000, "rss_mb": rss}],
        },
    }


def test_targets_are_judged_from_the_figures() -> None:
    rows = report.targets(_results(ratio=0.5, alo_p99=20.0, missing=0, rss=300.0))
    assert [r["verdict"] for r in rows] == ["met"] * 5
    rows = report.targets(_results(ratio=0.1, alo_p99=80.0, missing=3, rss=900.0))
    assert [r["verdict"] for r in rows] == ["missed", "missed", "missed", "met", "missed"]
    assert report.targets({})[0]["verdict"] == "not measured"
