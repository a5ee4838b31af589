"""Response-time metrics. Labels are bounded: alert kinds, severities, circle tiers, categories."""

from __future__ import annotations

from collections import OrderedDict

from prometheus_client import Counter, Gauge, Histogram

from schemas.alerts import AlertKind
from streams.response.engine import ResponseEffects
from streams.response.intervals import IntervalKind

_SECONDS = (15, 30, 60, 90, 120, 180, 240, 300, 420, 600, 900, 1800, 3600)

ALERTS = Counter(
    "patrolflow_response_alerts",
    "Alert records on alerts.response (raises, escalations, resolves), by kind and severity.",
    ["kind", "severity"],
)
BREACHES = Counter(
    "patrolflow_response_breaches",
    "Alert conditions raised (first record of each alert id; escalations not counted again).",
    ["kind"],
)
RESPONSE_SECONDS = Histogram(
    "patrolflow_response_seconds",
    "Response time: report to first arrival (reported or inferred from GPS).",
    ["tier", "category"],
    buckets=_SECONDS,
)
ARRIVALS = Counter(
    "patrolflow_response_arrivals",
    "First arrivals, by circle tier and whether they came within the target.",
    ["tier", "within_target"],
)
STAGE_SECONDS = Histogram(
    "patrolflow_response_interval_seconds",
    "CAD intervals other than response: call processing, acknowledgement, turnout, travel, "
    "on scene, total, feedback.",
    ["stage"],
    buckets=_SECONDS,
)
INFERRED_ARRIVALS = Counter(
    "patrolflow_response_inferred_arrivals", "Arrivals inferred from GPS (none was reported)."
)
ARRIVAL_MISMATCHES = Counter(
    "patrolflow_response_arrival_mismatches", "Reported arrivals far from the unit's last fix."
)
LATE_EVENTS = Counter(
    "patrolflow_response_late_events",
    "Events older than the watermark: applied (they correct intervals) and counted.",
)
POSTS_REQUIRED = Gauge(
    "patrolflow_response_posts_required",
    "Fixed posts inside their staffed window now, by region (owned regions only).",
    ["region"],
)
POSTS_UNCOVERED = Gauge(
    "patrolflow_response_posts_uncovered",
    "Posts inside their staffed window with no unit near them now, by region.",
    ["region"],
)

#: Alert ids already counted as raised (bounded: the oldest are forgotten first).
_seen: OrderedDict[str, None] = OrderedDict()
_SEEN_MAX = 100_000


def observe(effects: ResponseEffects) -> None:
    for alert in effects.alerts:
        ALERTS.labels(alert.kind.value, alert.severity.value).inc()
        if alert.kind is not AlertKind.RESOLVED and alert.alert_id not in _seen:
            _seen[alert.alert_id] = None
            if len(_seen) > _SEEN_MAX:
                _seen.popitem(last=False)
            BREACHES.labels(alert.kind.value).inc()
    for interval in effects.intervals:
        if interval.corrected:
            continue  # a histogram cannot take an observation back
        if interval.kind is IntervalKind.RESPONSE:
            RESPONSE_SECONDS.labels(interval.tier, interval.category).observe(interval.seconds)
            if interval.within_target is not None:
                ARRIVALS.labels(interval.tier, str(interval.within_target).lower()).inc()
        else:
            STAGE_SECONDS.labels(interval.kind.value).observe(interval.seconds)
    INFERRED_ARRIVALS.inc(effects.inferred_arrivals)
    ARRIVAL_MISMATCHES.inc(effects.arrival_mismatches)
    LATE_EVENTS.inc(effects.late_events)


def clear_region_gauges() -> None:
    POSTS_REQUIRED.clear()
    POSTS_UNCOVERED.clear()
