"""Generate the Grafana dashboards (``dashboards/*.json``) from this file: dashboards as code.

    python deploy/grafana/build.py           # rewrite the JSON
    python deploy/grafana/build.py --check   # exit 1 when the committed JSON is stale

Plain Python and the standard library only (no Grafana SDK to pin). The JSON is what Grafana
loads through ``provisioning/dashboards/patrolflow.yml``; every panel uses the provisioned
Prometheus datasource (uid ``patrolflow-prometheus``). Metric names are documented in
``docs/metrics.md``; Faust's sensors (``patrolflow_faust_*``) are milliseconds.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DASHBOARDS = HERE / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "patrolflow-prometheus"}

#: What Grafana substitutes in queries, for running them outside Grafana (tests, curl).
TEST_SUBSTITUTIONS = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$region": ".*",
    "$instance": ".*",
}

Json = dict[str, Any]


# --- Building blocks ------------------------------------------------------------------------


def target(expr: str, legend: str = "", *, instant: bool = False, ref: str = "A") -> Json:
    t: Json = {"refId": ref, "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
    if instant:
        t |= {"instant": True, "range": False, "format": "time_series"}
    else:
        t |= {"instant": False, "range": True}
    return t


def targets(*pairs: tuple[str, str], instant: bool = False) -> list[Json]:
    return [
        target(expr, legend, instant=instant, ref=chr(ord("A") + i))
        for i, (expr, legend) in enumerate(pairs)
    ]


def panel(
    kind: str,
    title: str,
    queries: list[Json],
    *,
    description: str = "",
    unit: str = "short",
    w: int = 12,
    h: int = 8,
    thresholds: list[Json] | None = None,
    options: Json | None = None,
) -> Json:
    steps = thresholds or [{"color": "green", "value": None}]
    p: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"w": w, "h": h},
        "targets": queries,
        "fieldConfig": {
            "defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
            "overrides": [],
        },
        "options": options or {},
    }
    if kind == "timeseries":
        p["options"] = {"legend": {"displayMode": "list", "placement": "bottom"}} | p["options"]
    return p


def timeseries(title: str, queries: list[Json], **kw: Any) -> Json:
    return panel("timeseries", title, queries, **kw)


def stat(title: str, expr: str, *, red_at: float | None = None, **kw: Any) -> Json:
    thresholds = [{"color": "green", "value": None}]
    if red_at is not None:
        thresholds.append({"color": "red", "value": red_at})
    kw.setdefault("w", 6)
    kw.setdefault("h", 4)
    return panel(
        "stat",
        title,
        [target(expr)],
        thresholds=thresholds,
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        **kw,
    )


def zero_is_bad(title: str, expr: str, **kw: Any) -> Json:
    """A stat that is red at 0 and green above."""
    kw.setdefault("w", 6)
    kw.setdefault("h", 4)
    return panel(
        "stat",
        title,
        [target(expr)],
        thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}],
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        **kw,
    )


def table(title: str, queries: list[Json], **kw: Any) -> Json:
    """A table of instant queries: one row per series, its labels as columns."""
    rows = [q | {"format": "table", "instant": True, "range": False} for q in queries]
    kw.setdefault("options", {"showHeader": True})
    p = panel("table", title, rows, **kw)
    # one row per label set (several queries merged), without the evaluation time
    merge = [{"id": "merge", "options": {}}] if len(rows) > 1 else []
    p["transformations"] = [
        *merge,
        {"id": "organize", "options": {"excludeByName": {"Time": True}}},
    ]
    return p


def text(title: str, content: str, *, w: int = 12, h: int = 6) -> Json:
    return {
        "type": "text",
        "title": title,
        "gridPos": {"w": w, "h": h},
        "options": {"mode": "markdown", "content": content},
    }


def row(title: str) -> Json:
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "gridPos": {}}


def quantiles(bucket: str, by: str = "", *, selector: str = "") -> list[Json]:
    """p50 and p99 of a histogram, summed over workers (and ``by`` labels)."""
    group = f"le, {by}" if by else "le"
    legend = "{{" + by + "}} " if by else ""
    return targets(
        *(
            (
                f"histogram_quantile({q}, sum by ({group}) "
                f"(rate({bucket}{selector}[$__rate_interval])))",
                f"{legend}p{int(q * 100)}",
            )
            for q in (0.5, 0.99)
        )
    )


def layout(items: Sequence[Json]) -> list[Json]:
    """Give every panel an id and a grid position: left to right, rows across the width."""
    x = y = line_height = 0
    out = []
    for i, item in enumerate(items, start=1):
        item = dict(item)
        item["id"] = i
        if item["type"] == "row":
            y += line_height
            x = line_height = 0
            item["gridPos"] = {"x": 0, "y": y, "w": 24, "h": 1}
            y += 1
        else:
            w, h = item["gridPos"]["w"], item["gridPos"]["h"]
            if x + w > 24:
                y += line_height
                x = line_height = 0
            item["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
            x += w
            line_height = max(line_height, h)
        out.append(item)
    return out


def variable(name: str, label: str, query: str) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-variable"},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def dashboard(
    uid: str, title: str, description: str, panels: Sequence[Json], variables: list[Json]
) -> Json:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["patrolflow"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": [],
        "panels": layout(panels),
    }


# --- Command centre -------------------------------------------------------------------------

R = 'region=~"$region"'


def command_centre() -> Json:
    panels = [
        row("Now"),
        stat("Open incidents", f"sum(patrolflow_dispatch_open_incidents{{{R}}})"),
        stat(
            "Unassigned incidents waiting",
            f"sum(patrolflow_dispatch_unassigned_incidents{{{R}}})",
            red_at=1,
            description="Open incidents with a run-card slot no unit could fill yet.",
        ),
        zero_is_bad(
            "Police units available",
            f'sum(patrolflow_dispatch_units_available{{{R}, force!~"volunteer|fire"}})',
            description="Free, available, fresh telemetry; volunteers (never sent alone) "
            "and fire units excluded.",
        ),
        stat(
            "Calls received (last hour)",
            'sum(increase(patrolflow_intake_records_total{topic="incidents.reported", '
            'outcome="accepted"}[1h])) or vector(0)',
            description="Incident reports accepted by intake (invalid and non-police calls "
            "included; duplicates too).",
        ),
        row("Incidents and units"),
        timeseries(
            "Open incidents by region",
            targets((f"sum by (region) (patrolflow_dispatch_open_incidents{{{R}}})", "{{region}}")),
        ),
        timeseries(
            "Unassigned incidents by region",
            targets(
                (
                    f"max by (region) (patrolflow_dispatch_unassigned_incidents{{{R}}})",
                    "{{region}}",
                )
            ),
        ),
        panel(
            "bargauge",
            "Units available by force",
            targets(
                (f"sum by (force) (patrolflow_dispatch_units_available{{{R}}})", "{{force}}"),
                instant=True,
            ),
            options={
                "orientation": "horizontal",
                "displayMode": "basic",
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            },
            description="队 swat, 所 station, 社 community, 义 volunteer, plus traffic, armed "
            "police and fire.",
        ),
        timeseries(
            "Units available by region and force",
            targets(
                (
                    f"sum by (region, force) (patrolflow_dispatch_units_available{{{R}}})",
                    "{{region}} {{force}}",
                )
            ),
        ),
        panel(
            "bargauge",
            "Incidents by category (last 24 hours)",
            targets(
                (
                    "sum by (category) (increase(patrolflow_incidents_reported_total[24h]))",
                    "{{category}}",
                ),
                instant=True,
            ),
            options={
                "orientation": "horizontal",
                "displayMode": "basic",
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            },
            description="First reports taken in by the region core (whole city: this counter "
            "has no region label), invalid and non-police calls included.",
        ),
        timeseries(
            "Incidents by category (per hour)",
            targets(
                (
                    "sum by (category) "
                    "(rate(patrolflow_incidents_reported_total[$__rate_interval])) * 3600",
                    "{{category}}",
                )
            ),
        ),
        row("Dispatch"),
        timeseries(
            "Assignments by outcome (per minute)",
            targets(
                (
                    "sum by (outcome) "
                    "(rate(patrolflow_dispatch_assignments_total[$__rate_interval])) * 60",
                    "{{outcome}}",
                )
            ),
            description="One record per dispatch decision; no region label on this counter.",
        ),
        timeseries(
            "Assignments by force (per minute)",
            targets(
                (
                    "sum by (force) (rate(patrolflow_dispatch_assignments_total"
                    '{outcome=~"assigned|manual"}[$__rate_interval])) * 60',
                    "{{force}}",
                )
            ),
        ),
        stat(
            "Unfilled slots (last hour)",
            'sum(increase(patrolflow_dispatch_assignments_total{outcome="unfilled"}[1h])) '
            "or vector(0)",
            red_at=1,
            description="Slots whose dispatch attempts are exhausted: a person must assign them.",
        ),
        stat(
            "Re-dispatches (last hour)",
            "sum(increase(patrolflow_dispatch_redispatches_total[1h])) or vector(0)",
            description="After a decline or an acknowledgement timeout.",
        ),
        timeseries(
            "Dispatch decision time",
            quantiles("patrolflow_dispatch_decision_seconds_bucket"),
            unit="s",
            description="Time to decide an incident's assignments in the region core.",
        ),
        row("Response times"),
        timeseries(
            "Response time by circle tier (p50, p90, last hour)",
            targets(
                *(
                    (
                        f"histogram_quantile({q}, sum by (le, tier) "
                        "(increase(patrolflow_response_seconds_bucket[1h])))",
                        "{{tier}} p" + str(int(q * 100)),
                    )
                    for q in (0.5, 0.9)
                )
            ),
            unit="s",
            description="Report to first arrival (reported, or inferred from GPS), over the "
            "last hour, by quick-response circle tier (1/3/5 minutes, or the zone default).",
        ),
        timeseries(
            "Share of first arrivals within target (last hour)",
            targets(
                (
                    "sum by (tier) (increase(patrolflow_response_arrivals_total"
                    '{within_target="true"}[1h])) / sum by (tier) '
                    "(increase(patrolflow_response_arrivals_total[1h]))",
                    "{{tier}}",
                )
            ),
            unit="percentunit",
        ),
        timeseries(
            "Alerts raised by kind (last hour)",
            targets(
                ("sum by (kind) (increase(patrolflow_response_breaches_total[1h]))", "{{kind}}")
            ),
            description="Each alert condition once (escalations and resolves not counted): "
            "response breaches, predicted breaches, overdue acknowledgements, unassigned "
            "incidents, uncovered posts, stale telemetry.",
        ),
        timeseries(
            "Alert records by severity (last hour)",
            targets(
                (
                    "sum by (severity) (increase(patrolflow_response_alerts_total[1h]))",
                    "{{severity}}",
                )
            ),
            description="Every record on alerts.response: raises, escalations and resolves.",
        ),
        timeseries(
            "Posts covered vs required",
            targets(
                (f"sum(patrolflow_response_posts_required{{{R}}})", "required"),
                (
                    f"sum(patrolflow_response_posts_required{{{R}}})"
                    f" - sum(patrolflow_response_posts_uncovered{{{R}}})",
                    "covered",
                ),
            ),
            description="Fixed posts inside their staffed window now, and those with a unit "
            "near them.",
        ),
        stat(
            "Posts uncovered now",
            f"sum(patrolflow_response_posts_uncovered{{{R}}})",
            red_at=1,
            w=6,
            h=8,
        ),
        timeseries(
            "CAD intervals p90 (last hour)",
            targets(
                (
                    "histogram_quantile(0.9, sum by (le, stage) "
                    "(increase(patrolflow_response_interval_seconds_bucket[1h])))",
                    "{{stage}}",
                )
            ),
            unit="s",
            description="Call processing, acknowledgement, turnout, travel, on scene, total, "
            "feedback.",
            w=18,
        ),
        row("Clearance (whole city)"),
        timeseries(
            "Incident clearance time by category (p50, p90)",
            targets(
                *(
                    (
                        f"histogram_quantile({q}, sum by (le, category) "
                        "(rate(patrolflow_incident_clearance_seconds_bucket[$__rate_interval])))",
                        "{{category}} p" + str(int(q * 100)),
                    )
                    for q in (0.5, 0.9)
                )
            ),
            unit="s",
            description="Report to cleared (traffic: road clear).",
            w=24,
        ),
        table(
            "Clearance rate",
            targets(
                (
                    'max by (window, case_type) (patrolflow_clearance_rate_ratio{scope="all"})',
                    "",
                ),
                instant=True,
            ),
            unit="percentunit",
            description="Cohort method: of the cases filed in the window, the share solved so far.",
            w=8,
        ),
        table(
            "Clearance rate change (points)",
            targets(
                (
                    "max by (window, case_type, basis) "
                    '(patrolflow_clearance_rate_change_points{scope="all"})',
                    "",
                ),
                instant=True,
            ),
            description="Percentage points against the same span a year earlier "
            "(year_on_year, 同比) and the span just before (previous_period, 环比).",
            w=8,
        ),
        table(
            "Cases filed and change (%)",
            targets(
                (
                    'max by (window, case_type) (patrolflow_clearance_cases_filed{scope="all"})',
                    "filed",
                ),
                (
                    "max by (window, case_type, basis) "
                    '(patrolflow_clearance_filed_change_percent{scope="all"})',
                    "change %",
                ),
                instant=True,
            ),
            w=8,
        ),
    ]
    return dashboard(
        "patrolflow-command-centre",
        "patrolflow · Command centre",
        "Incidents, units, dispatch, response and clearance for 110 command-centre staff. "
        "Alerts and their runbooks: deploy/prometheus/rules, docs/runbooks.",
        panels,
        [variable("region", "Region", "label_values(patrolflow_dispatch_open_incidents, region)")],
    )


# --- Operations -----------------------------------------------------------------------------

I = 'instance=~"$instance"'  # noqa: E741
LAG = f"patrolflow_consumer_lag_records{{{I}}}"


def operations() -> Json:
    panels = [
        row("Workers"),
        zero_is_bad("Workers up", 'sum(up{job="patrolflow"})'),
        timeseries(
            "Worker up", targets((f'up{{job="patrolflow", {I}}}', "{{instance}}")), w=18, h=4
        ),
        table(
            "Build",
            targets((f"patrolflow_build_info{{{I}}}", ""), instant=True),
            w=24,
            h=5,
            description="patrolflow and Faust versions, processing guarantee, table store.",
        ),
        timeseries(
            "CPU (cores)",
            targets(
                (
                    f'rate(process_cpu_seconds_total{{job="patrolflow", {I}}}[$__rate_interval])',
                    "{{instance}}",
                )
            ),
        ),
        timeseries(
            "Resident memory",
            targets((f'process_resident_memory_bytes{{job="patrolflow", {I}}}', "{{instance}}")),
            unit="bytes",
        ),
        row("Throughput"),
        timeseries(
            "Input records by topic and outcome",
            targets(
                (
                    "sum by (topic, outcome) "
                    f"(rate(patrolflow_intake_records_total{{{I}}}[$__rate_interval]))",
                    "{{topic}} {{outcome}}",
                )
            ),
            unit="reqps",
        ),
        timeseries(
            "Region events by kind and outcome",
            targets(
                (
                    "sum by (kind, outcome) "
                    f"(rate(patrolflow_region_events_total{{{I}}}[$__rate_interval]))",
                    "{{kind}} {{outcome}}",
                )
            ),
            unit="reqps",
        ),
        timeseries(
            "Messages fetched by topic (Faust)",
            targets(
                (
                    "sum by (topic) (rate(patrolflow_faust_messages_received_per_topic_total"
                    f"{{{I}}}[$__rate_interval]))",
                    "{{topic}}",
                )
            ),
            unit="reqps",
            description="Deployed topic names, internal topics included.",
        ),
        timeseries(
            "Messages sent by topic (Faust)",
            targets(
                (
                    "sum by (topic) (rate(patrolflow_faust_topic_messages_sent_total"
                    f"{{{I}}}[$__rate_interval]))",
                    "{{topic}}",
                )
            ),
            unit="reqps",
            description="Faust labels these `topic.<deployed name>`; changelogs included.",
        ),
        row("Lag and time"),
        timeseries(
            "Consumer lag by topic (records)",
            targets((f"sum by (topic) ({LAG})", "{{topic}}")),
            description="Records not yet committed: broker end offset minus the group's "
            "committed offset, per topic the agents read (input, routing, region stream), "
            "refreshed every 5 s by the worker owning each partition. Without a worker: "
            "`python -m streams.observability.lag`.",
        ),
        timeseries(
            "Consumer lag by partition (records)",
            targets((f"max by (topic, partition) ({LAG})", "{{topic}}/{{partition}}")),
            description="One region is processed by one partition: a single growing line is "
            "a hot region or a slow worker; all of them, too little capacity.",
        ),
        timeseries(
            "Event-time watermark delay",
            targets(
                (
                    f"max by (region) (patrolflow_region_watermark_delay_seconds{{{I}}})",
                    "{{region}}",
                )
            ),
            unit="s",
            description="Wall clock minus each region's watermark; large by design in a replay.",
        ),
        timeseries(
            "Event processing time (Faust, ms)",
            quantiles("patrolflow_faust_events_runtime_ms_bucket", selector=f"{{{I}}}"),
            unit="ms",
            description="Time an agent spends on one stream event. Faust measures milliseconds.",
        ),
        timeseries(
            "Intake decode time",
            quantiles("patrolflow_intake_decode_seconds_bucket", "topic", selector=f"{{{I}}}"),
            unit="s",
        ),
        timeseries(
            "Producer send and commit latency p99 (Faust, ms)",
            targets(
                (
                    "histogram_quantile(0.99, sum by (le) (rate("
                    f"patrolflow_faust_producer_send_latency_bucket{{{I}}}[$__rate_interval])))",
                    "send p99",
                ),
                (
                    "histogram_quantile(0.99, sum by (le) (rate("
                    f"patrolflow_faust_consumer_commit_latency_bucket{{{I}}}[$__rate_interval])))",
                    "commit p99",
                ),
            ),
            unit="ms",
        ),
        timeseries(
            "Event-loop delay",
            targets(
                (
                    "histogram_quantile(0.99, sum by (le, instance) (rate("
                    f"patrolflow_event_loop_delay_seconds_bucket{{{I}}}[$__rate_interval])))",
                    "{{instance}} p99",
                ),
                (
                    f"sum by (instance) (rate(patrolflow_event_loop_delay_seconds_sum{{{I}}}"
                    "[$__rate_interval])) / sum by (instance) (rate("
                    f"patrolflow_event_loop_delay_seconds_count{{{I}}}[$__rate_interval]))",
                    "{{instance}} mean",
                ),
            ),
            unit="s",
            description="How much later than asked a 0.5 s sleep wakes up on the worker's event "
            "loop. Agents, timers and the web server share that loop: a CPU-bound step or a "
            "blocking call delays all of them (and /livez).",
        ),
        timeseries(
            "Scrape duration",
            targets((f'scrape_duration_seconds{{job="patrolflow", {I}}}', "{{instance}}")),
            unit="s",
            description="Time Prometheus takes to scrape /metrics, served on the same event loop.",
        ),
        row("Rebalances and errors"),
        timeseries(
            "Rebalances (per 15 minutes)",
            targets(
                (
                    "sum by (instance) (increase("
                    f"patrolflow_faust_rebalance_done_consumer_latency_count{{{I}}}[15m]))",
                    "{{instance}}",
                )
            ),
            description="Faust's rebalance histogram count: one per rebalance this worker "
            "rejoined after.",
        ),
        timeseries(
            "Rebalance or recovery in progress",
            targets(
                (
                    f"max by (instance) (patrolflow_faust_total_rebalances{{{I}}} "
                    f"+ patrolflow_faust_total_rebalances_recovering{{{I}}})",
                    "{{instance}}",
                )
            ),
        ),
        timeseries(
            "Dead letters by topic and reason (per minute)",
            targets(
                (
                    "sum by (topic, reason) "
                    f"(rate(patrolflow_dead_letters_total{{{I}}}[$__rate_interval])) * 60",
                    "{{topic}} {{reason}}",
                )
            ),
        ),
        timeseries(
            "Send errors and failed clock ticks (per minute)",
            targets(
                (
                    "sum(rate(patrolflow_faust_total_error_messages_sent_total"
                    f"{{{I}}}[$__rate_interval])) * 60",
                    "producer send errors",
                ),
                (
                    f"sum(rate(patrolflow_region_ticks_failed_total{{{I}}}[$__rate_interval]))"
                    " * 60",
                    "clock ticks not sent",
                ),
            ),
        ),
        timeseries(
            "Parked updates and unit handoffs (per minute)",
            targets(
                (
                    f"sum(rate(patrolflow_routing_parked_updates_total{{{I}}}[$__rate_interval]))"
                    " * 60",
                    "parked updates",
                ),
                (
                    f"sum(rate(patrolflow_routing_unit_handoffs_total{{{I}}}[$__rate_interval]))"
                    " * 60",
                    "unit handoffs",
                ),
            ),
        ),
        timeseries(
            "Web responses by status (per second)",
            targets(
                (
                    "sum by (status_code) (rate(patrolflow_faust_http_status_codes_total"
                    f"{{{I}}}[$__rate_interval]))",
                    "{{status_code}}",
                )
            ),
            unit="reqps",
            description="/metrics scrapes, /healthz and /livez probes; 503 on /healthz during "
            "rebalances.",
        ),
    ]
    return dashboard(
        "patrolflow-operations",
        "patrolflow · Operations",
        "Workers, throughput, lag, processing time, rebalances and dead letters for on-call. "
        "Alerts and their runbooks: deploy/prometheus/rules, docs/runbooks.",
        panels,
        [variable("instance", "Worker", 'label_values(up{job="patrolflow"}, instance)')],
    )


# --- Output ---------------------------------------------------------------------------------

BUILDERS = {"command-centre.json": command_centre, "operations.json": operations}


def render(builder_name: str) -> str:
    return json.dumps(BUILDERS[builder_name](), indent=2, ensure_ascii=False) + "\n"


def iter_panels(dash: Json) -> Iterator[Json]:
    """Every panel, those nested in collapsed rows included."""
    for p in dash.get("panels", []):
        yield p
        yield from p.get("panels", [])


def panel_queries(dash: Json) -> list[tuple[str, str]]:
    """``(panel title, expr)`` of every query in a dashboard."""
    return [
        (p["title"], t["expr"])
        for p in iter_panels(dash)
        for t in p.get("targets", [])
        if "expr" in t
    ]


def variable_queries(dash: Json) -> list[tuple[str, str]]:
    """``(variable name, metric selector)`` of every ``label_values(...)`` variable."""
    found = []
    for v in dash.get("templating", {}).get("list", []):
        m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", v.get("definition", ""))
        if m:
            found.append((v["name"], m.group(1)))
    return found


def substitute(expr: str) -> str:
    """A Grafana query as plain PromQL (variables replaced by ``TEST_SUBSTITUTIONS``)."""
    for name in sorted(TEST_SUBSTITUTIONS, key=len, reverse=True):
        expr = expr.replace(name, TEST_SUBSTITUTIONS[name])
    return expr


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the JSON is stale")
    args = parser.parse_args(argv)
    stale = []
    for name in BUILDERS:
        path = DASHBOARDS / name
        text = render(name)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"stale: {', '.join(stale)}; run python deploy/grafana/build.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
