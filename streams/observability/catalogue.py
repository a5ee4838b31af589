"""The metric catalogue: every metric patrolflow exports, with its type, unit, labels and meaning.

Our own metrics are collected from prometheus_client's registry after importing the modules in
``METRIC_MODULES``: a module added there (or an optional one that appears) is picked up without
touching anything else. Faust's sensors are a curated table (their help texts say little, and
their units are **milliseconds**); a test keeps that table equal to what Faust registers.

``python -m streams.observability.catalogue`` rewrites ``docs/metrics.md``; ``--check`` exits 1
when it is stale. ``collect()`` imports the metrics modules, and ``streams.ops`` imports the Faust
app: that builds the app object and its sensors but starts nothing and connects nowhere (a test
checks it with the network refused).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

PREFIX = "patrolflow_"
#: Faust's sensors: ``streams.app`` registers them with this prefix (``setup_prometheus_sensors``).
FAUST_PREFIX = "patrolflow_faust_"

#: Every module that defines patrolflow metrics at module level. Order is the order of the docs.
METRIC_MODULES: tuple[str, ...] = (
    "streams.ops",
    "streams.intake.metrics",
    "streams.region.metrics",
    "streams.dispatch.metrics",
    "streams.response.metrics",
    "streams.clearance.metrics",
    "streams.observability.metrics",
)
#: Modules of ``METRIC_MODULES`` that may not exist yet: skipped, and only when *they* are missing.
OPTIONAL_MODULES: frozenset[str] = frozenset()

#: Label names allowed on any metric, with what bounds their values. A new label is a decision:
#: add it here with its bound (the docs print this table), never an id or personal data.
BOUNDED_LABELS: Mapping[str, str] = {
    "topic": "canonical topic names (`schemas.topics`); on the lag gauge also the internal "
    "topics agents read (`<app_id>-routing`, `-region-events`, `-cases`); Faust's: deployed "
    "topic names",
    "partition": "partition numbers of the deployed topics",
    "outcome": "a fixed set per metric (e.g. accepted/dead_lettered, assignment outcomes)",
    "reason": "dead-letter reasons (`RejectReason`)",
    "kind": "event or alert kinds (fixed enums)",
    "region": "dispatch regions of the city file",
    "zone": "patrol zones of the city file (17 in the demo city)",
    "area": "with `scope`: `all`, a region or a zone of the city file (`unknown` zone)",
    "force": "unit forces (`Force`) plus `none`",
    "category": "incident categories (`IncidentCategory`)",
    "tier": "quick-response circle tiers: one per configured circle (`1min`...), `zone_default`",
    "severity": "alert severities (`Severity`)",
    "within_target": "`true` or `false`",
    "case_type": "case types (`CaseType`)",
    "window": "clearance windows (`ClearanceWindow`)",
    "scope": "clearance scopes (`ClearanceScope`)",
    "basis": "clearance comparisons (`ComparisonBasis`): year_on_year, previous_period",
    "stage": "CAD intervals (`IntervalKind`: call_processing, turnout, travel...)",
    # build info: one sample per worker
    "version": "build info: one value per deployed build",
    "faust_version": "build info: one value per deployed build",
    "processing_guarantee": "build info: at_least_once or exactly_once",
    "store": "build info: rocksdb or memory",
    # Faust's sensors
    "stream": "Faust: one per agent stream",
    "table": "Faust: one per table",
    "operation": "Faust: keys_retrieved/keys_updated/keys_deleted, completed/error",
    "metric": "Faust: its internal counter names",
    "status_code": "Faust: HTTP status codes of the worker's web server",
}

#: Never a label: unbounded ids and personal data.
FORBIDDEN_LABELS: frozenset[str] = frozenset(
    {
        "incident_id",
        "unit_id",
        "post_id",
        "alert_id",
        "assignment_id",
        "event_id",
        "case_id",
        "caller",
        "caller_phone",
        "phone",
        "summary",
        "name",
        "address",
        "location",
        "lat",
        "lon",
    }
)
#: Substrings that mark a label as personal data or an unbounded id.
FORBIDDEN_LABEL_PARTS: tuple[str, ...] = ("phone", "caller", "summary", "address", "_id")

#: Suffixes that name a unit; time must be ``_seconds`` (Faust's own ``ms`` are the exception).
UNIT_SUFFIXES: tuple[str, ...] = (
    "seconds",
    "bytes",
    "ratio",
    "percent",
    "points",
    "records",
    "meters",
    "ms",
    "info",
)
#: Name parts that mean a metric measures time, so its name must end in ``_seconds``.
TIME_WORDS: frozenset[str] = frozenset(
    {"latency", "duration", "delay", "elapsed", "time", "ms", "millis", "milliseconds", "minutes"}
    | {"hours", "seconds"}
)

#: The sample names each metric type puts on /metrics (suffixes of the family name).
SAMPLE_SUFFIXES: Mapping[str, tuple[str, ...]] = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "stateset": ("",),
}
#: The sample names a reader uses (the docs print these).
MAIN_SUFFIXES: Mapping[str, tuple[str, ...]] = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
    "info": ("_info",),
    "stateset": ("",),
}

#: Series every Prometheus or prometheus_client target has; dashboards may use these too.
STANDARD_SERIES: Mapping[str, str] = {
    "up": "Prometheus: 1 when the last scrape of the target succeeded",
    "scrape_duration_seconds": "Prometheus: how long the last scrape took",
    "process_cpu_seconds_total": "prometheus_client process collector: CPU time",
    "process_resident_memory_bytes": "prometheus_client process collector: resident memory",
    "process_open_fds": "prometheus_client process collector: open file descriptors",
    "process_start_time_seconds": "prometheus_client process collector: start time",
}


class CatalogueError(RuntimeError):
    """The registry holds a metric the catalogue cannot describe."""


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """One metric family as exported on /metrics."""

    name: str
    type: str
    unit: str
    labels: tuple[str, ...]
    help: str
    source: str

    @property
    def samples(self) -> tuple[str, ...]:
        """Every sample name this family may put on /metrics."""
        return tuple(self.name + s for s in SAMPLE_SUFFIXES.get(self.type, ("",)))

    @property
    def exported(self) -> tuple[str, ...]:
        """The sample names queries use (``_total`` of a counter, ``_bucket``... of a histogram)."""
        return tuple(self.name + s for s in MAIN_SUFFIXES.get(self.type, ("",)))


@dataclass(frozen=True, slots=True)
class ExpectedMetric:
    """A metric that dashboards or rules already use but no module exports yet."""

    sample: str
    type: str
    labels: tuple[str, ...]
    owner: str
    meaning: str


@dataclass(frozen=True, slots=True)
class Derived:
    """A quantity the issue asks for that is a PromQL expression over exported metrics."""

    name: str
    promql: str
    notes: str


def unit_of(name: str, metric_type: str) -> str:
    """The unit named by the family name's suffix (``""`` when it names none)."""
    if metric_type == "info":
        return "info"
    for suffix in UNIT_SUFFIXES:
        if name.endswith("_" + suffix):
            return suffix
    return ""


# --- Faust's sensors --------------------------------------------------------------------------


def _faust(
    name: str, metric_type: str, unit: str, labels: tuple[str, ...], meaning: str
) -> MetricInfo:
    return MetricInfo(FAUST_PREFIX + name, metric_type, unit, labels, meaning, "faust")


_TP = ("topic", "partition")

#: What ``faust.sensors.prometheus.FaustMetrics`` registers under our prefix (faust-streaming
#: 0.15). Every latency is in **milliseconds**. Topic labels carry deployed topic names
#: (with ``PATROLFLOW_TOPIC_PREFIX``), internal and changelog topics included.
FAUST_SENSORS: tuple[MetricInfo, ...] = (
    _faust("messages_received", "counter", "", (), "Messages fetched from Kafka (all topics)."),
    _faust("active_messages", "gauge", "", (), "Messages fetched and not yet acknowledged."),
    _faust("messages_received_per_topic", "counter", "", ("topic",), "Messages fetched, by topic."),
    _faust(
        "messages_received_per_topics_partition",
        "gauge",
        "",
        _TP,
        "Offset of the last message read (an offset, not a count). Cleared on rebalance.",
    ),
    _faust(
        "events_runtime_ms",
        "histogram",
        "ms",
        (),
        "Time an agent spent on one stream event: processing time.",
    ),
    _faust("total_events", "counter", "", (), "Stream events started."),
    _faust("total_active_events", "gauge", "", (), "Stream events being processed now."),
    _faust(
        "total_events_per_stream",
        "counter",
        "",
        ("stream",),
        "Stream events started, by stream (`stream.<agent>.events`).",
    ),
    _faust(
        "table_operations",
        "counter",
        "",
        ("table", "operation"),
        "Table key reads, writes and deletes (`table.<name>`).",
    ),
    _faust(
        "topic_messages_sent",
        "counter",
        "",
        ("topic",),
        "Messages handed to the producer, by topic (label `topic.<deployed name>`).",
    ),
    _faust("total_sent_messages", "counter", "", (), "Sends the broker acknowledged."),
    _faust(
        "producer_send_latency", "histogram", "ms", (), "Producer send to broker acknowledgement."
    ),
    _faust("total_error_messages_sent", "counter", "", (), "Sends that failed."),
    _faust("producer_error_send_latency", "histogram", "ms", (), "Time until a send failed."),
    _faust(
        "assignment_operations",
        "counter",
        "",
        ("operation",),
        "Partition assignor runs, completed or error (on the group leader).",
    ),
    _faust("assign_latency", "histogram", "ms", (), "Partition assignor run time."),
    _faust(
        "total_rebalances",
        "gauge",
        "",
        (),
        "1 while a rebalance is under way (up at start, down when the consumer rejoined): "
        "not a counter despite its name.",
    ),
    _faust(
        "total_rebalances_recovering",
        "gauge",
        "",
        (),
        "1 while tables recover after a rebalance.",
    ),
    _faust(
        "rebalance_done_consumer_latency",
        "histogram",
        "ms",
        (),
        "Rebalances this worker rejoined after: use `_count` (rebalances); Faust observes ~0 ms.",
    ),
    _faust(
        "rebalance_done_latency",
        "histogram",
        "ms",
        (),
        "Rebalances completed including recovery: use `_count`; Faust observes ~0 ms.",
    ),
    _faust("metrics_by_name", "gauge", "", ("metric",), "Faust's internal named counters."),
    _faust(
        "http_status_codes",
        "counter",
        "",
        ("status_code",),
        "Web server responses by status (/metrics, /healthz, /livez).",
    ),
    _faust(
        "http_latency",
        "histogram",
        "ms",
        (),
        "Web requests: use `_count`; Faust observes ~0 ms (measured from the end).",
    ),
    _faust(
        "topic_partition_end_offset",
        "gauge",
        "",
        _TP,
        "High-water mark seen when a record of the partition was last fetched (not refreshed "
        "while nothing is fetched). Cleared on rebalance.",
    ),
    _faust(
        "topic_partition_offset_commited",
        "gauge",
        "",
        _TP,
        "(sic) Last committed offset, the next one to read. Cleared on rebalance.",
    ),
    _faust("consumer_commit_latency", "histogram", "ms", (), "Offset commit time."),
)

# --- Metrics used before they exist -----------------------------------------------------------

#: Sample names that rules or dashboards use ahead of the code that exports them. The tests
#: accept them in queries and fail once a module exports them (then drop them from here).
EXPECTED_LATER: tuple[ExpectedMetric, ...] = ()

#: Wanted by the issue or a dashboard, proposed names, not used in any query yet.
WANTED: tuple[ExpectedMetric, ...] = ()

# --- Derived quantities -------------------------------------------------------------------------

LAG_PROMQL = "sum by (topic) (patrolflow_consumer_lag_records)"
#: The same from Faust's sensors: refreshed only when a record of the partition is fetched.
FAUST_LAG_PROMQL = (
    "sum by (topic, partition) (patrolflow_faust_topic_partition_end_offset"
    " - patrolflow_faust_topic_partition_offset_commited)"
)

DERIVED: tuple[Derived, ...] = (
    Derived(
        "consumer lag per topic (records)",
        LAG_PROMQL,
        "Broker end offset minus the group's committed offset, refreshed every 5 s and when a "
        "rebalance completes by the worker that owns the partition; the topics agents read, "
        "changelogs excluded. A partition nobody owns (all workers down) has no series: "
        "`PatrolflowNoWorkerUp` covers that. Faust's own view, "
        f"`{FAUST_LAG_PROMQL}`, goes stale while a worker fetches nothing and is cleared on "
        "every rebalance. Without a worker: `python -m streams.observability.lag`.",
    ),
    Derived(
        "event-loop delay p99 (seconds)",
        "histogram_quantile(0.99, sum by (le, instance) "
        "(rate(patrolflow_event_loop_delay_seconds_bucket[5m])))",
        "How late a 0.5 s sleep wakes up on each worker's event loop, which every agent, timer "
        "and the web server share: a blocked loop delays all of them.",
    ),
    Derived(
        "event-time watermark delay (seconds)",
        "max by (region) (patrolflow_region_watermark_delay_seconds)",
        "Wall clock minus the region's watermark, set on every clock tick by the owning "
        "worker. In a replay of old data it is large by design.",
    ),
    Derived(
        "dead-letter rate (records/s)",
        "sum by (topic, reason) (rate(patrolflow_dead_letters_total[5m]))",
        "Share of input: divide by `sum by (topic) (rate(patrolflow_intake_records_total[5m]))`.",
    ),
    Derived(
        "rebalances (count in a window)",
        "sum by (instance) (increase(patrolflow_faust_rebalance_done_consumer_latency_count[15m]))",
        "Faust exports no rebalance counter; the histogram's `_count` is one.",
    ),
    Derived(
        "build and version",
        "patrolflow_build_info",
        "Value 1; labels version, faust_version, processing_guarantee, store.",
    ),
)


# --- Collecting -------------------------------------------------------------------------------


def import_metric_modules(
    modules: Sequence[str] = METRIC_MODULES, optional: Iterable[str] = OPTIONAL_MODULES
) -> list[ModuleType]:
    """Import every metrics module; an optional one is skipped only when it does not exist."""
    optional = frozenset(optional)
    imported: list[ModuleType] = []
    for name in modules:
        try:
            imported.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            # The module itself (or its package) is absent: fine if optional. A module that
            # exists but imports something missing is a real error, optional or not.
            if name in optional and (name == missing or name.startswith(missing + ".")):
                continue
            raise
    return imported


def _collectors(modules: Iterable[ModuleType]) -> dict[str, tuple[MetricWrapperBase, str]]:
    """Module-level metric objects by family name, with the module that defines them."""
    found: dict[str, tuple[MetricWrapperBase, str]] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                for family in value.describe():
                    found.setdefault(family.name, (value, module.__name__))
    return found


def collect(
    registry: CollectorRegistry = REGISTRY, modules: Sequence[str] = METRIC_MODULES
) -> list[MetricInfo]:
    """Our metrics (not Faust's), in module order, each described from the registry."""
    loaded = import_metric_modules(modules)
    collectors = _collectors(loaded)
    order = {module.__name__: i for i, module in enumerate(loaded)}
    result: list[MetricInfo] = []
    for family in registry.collect():
        name = family.name
        if not name.startswith(PREFIX) or name.startswith(FAUST_PREFIX):
            continue
        if name not in collectors:
            raise CatalogueError(
                f"{name} is registered but not defined at module level in any of "
                f"METRIC_MODULES; define it in a metrics module and list that module"
            )
        collector, source = collectors[name]
        labels = tuple(getattr(collector, "_labelnames", ()))
        if family.type == "info":  # an Info's keys are the labels of its one sample
            labels = tuple(sorted({k for s in family.samples for k in s.labels}))
        result.append(
            MetricInfo(
                name=name,
                type=family.type,
                unit=unit_of(name, family.type),
                labels=labels,
                help=family.documentation,
                source=source,
            )
        )
    result.sort(key=lambda m: (order[m.source], m.name))
    return result


def registered_faust_names(registry: CollectorRegistry = REGISTRY) -> set[str]:
    """Faust sensor families in the registry (for checking ``FAUST_SENSORS``)."""
    import streams.app  # noqa: F401  (registers the sensors)

    return {f.name for f in registry.collect() if f.name.startswith(FAUST_PREFIX)}


def known_samples(metrics: Iterable[MetricInfo]) -> set[str]:
    """Every sample name a query may use: ours, Faust's, standard, and expected later."""
    names = {s for m in metrics for s in m.samples}
    names |= {s for m in FAUST_SENSORS for s in m.samples}
    names |= set(STANDARD_SERIES)
    names |= {e.sample for e in EXPECTED_LATER}
    return names


# --- Conventions --------------------------------------------------------------------------------


def convention_problems(metrics: Iterable[MetricInfo]) -> list[str]:
    """What breaks our conventions, one line per problem (empty: all good)."""
    problems: list[str] = []
    for m in metrics:
        own = m.source != "faust"
        if not m.name.startswith(PREFIX):
            problems.append(f"{m.name}: not prefixed {PREFIX}")
        if own and m.name.startswith(FAUST_PREFIX):
            problems.append(f"{m.name}: {FAUST_PREFIX} is reserved for Faust's sensors")
        if m.type == "counter" and not m.exported[0].endswith("_total"):
            problems.append(f"{m.name}: a counter's sample must end in _total")
        if m.type != "counter" and m.name.endswith("_total"):
            problems.append(f"{m.name}: only counters end in _total")
        timed = bool(TIME_WORDS & set(m.name.removeprefix(PREFIX).split("_")))
        if own and timed and not m.name.endswith("_seconds"):
            problems.append(f"{m.name}: time is measured in seconds (name it ..._seconds)")
        if not own and timed and m.unit != "ms":
            problems.append(f"{m.name}: Faust's timings are milliseconds: say so (unit ms)")
        for label in m.labels:
            if label in FORBIDDEN_LABELS or any(p in label for p in FORBIDDEN_LABEL_PARTS):
                problems.append(f"{m.name}: label {label!r} is an id or personal data")
            elif label not in BOUNDED_LABELS:
                problems.append(
                    f"{m.name}: label {label!r} is not in BOUNDED_LABELS (add it with its bound)"
                )
        if not m.help.strip():
            problems.append(f"{m.name}: no help text")
    return problems


# --- Rendering ----------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _names(samples: Iterable[str]) -> str:
    return "<br>".join(f"`{s}`" for s in samples)


def _labels(labels: Iterable[str]) -> str:
    return ", ".join(f"`{label}`" for label in labels) or "—"


def render_markdown(metrics: Sequence[MetricInfo]) -> str:
    lines = [
        "# Metrics",
        "",
        "<!-- Generated by `python -m streams.observability.catalogue`; do not edit by hand."
        " A test fails when this file is stale. -->",
        "",
        "Every worker serves Prometheus text on `http://<web_host>:<web_port>/metrics`"
        " (default `127.0.0.1:6066`). Conventions, checked by"
        " `tests/unit/test_metric_catalogue.py`:",
        "",
        "- one prefix, `patrolflow_`; Faust's own sensors are `patrolflow_faust_*`;",
        "- base units: time in **seconds** (`_seconds`), except Faust's sensors, which Faust"
        " observes in **milliseconds** (unit `ms` below; their names do not say so);",
        "- counters end in `_total`; rates and ratios are computed in PromQL from counters;",
        "- bounded labels only (table below): no ids, no personal data (`caller_phone`,"
        " `summary`); state gauges (open incidents, units available) are exported per region by"
        " the worker that owns the region and cleared when its partitions are revoked, so"
        " `sum by (region)` across workers is the city's figure.",
        "",
        "## patrolflow",
        "",
        "| metric | type | unit | labels | meaning | defined in |",
        "|---|---|---|---|---|---|",
    ]
    for m in metrics:
        lines.append(
            f"| {_names(m.exported)} | {m.type} | {m.unit or '—'} | {_labels(m.labels)}"
            f" | {_cell(m.help)} | `{m.source}` |"
        )
    lines += [
        "",
        "## Faust's sensors (milliseconds)",
        "",
        'Registered by `setup_prometheus_sensors(app, name_prefix="patrolflow_faust")` in'
        " `streams/app.py`. Topic labels carry deployed names (with `PATROLFLOW_TOPIC_PREFIX`),"
        " internal and changelog topics included.",
        "",
        "| metric | type | unit | labels | meaning |",
        "|---|---|---|---|---|",
    ]
    for m in FAUST_SENSORS:
        lines.append(
            f"| {_names(m.exported)} | {m.type} | {m.unit or '—'} | {_labels(m.labels)}"
            f" | {_cell(m.help)} |"
        )
    lines += [
        "",
        "## Derived in PromQL",
        "",
        "| what | PromQL | notes |",
        "|---|---|---|",
    ]
    for d in DERIVED:
        lines.append(f"| {d.name} | `{_cell(d.promql)}` | {_cell(d.notes)} |")
    lines += [
        "",
        "## Expected later (already used by rules or dashboards)",
        "",
        "| metric | type | labels | owner | meaning |",
        "|---|---|---|---|---|",
    ]
    for e in EXPECTED_LATER:
        lines.append(
            f"| `{e.sample}` | {e.type} | {_labels(e.labels)} | {e.owner} | {_cell(e.meaning)} |"
        )
    if not EXPECTED_LATER:
        lines.append("| none at the moment | | | | |")
    lines += [
        "",
        "## Wanted (proposed names, not used in queries yet)",
        "",
        "| metric | type | labels | owner | meaning |",
        "|---|---|---|---|---|",
    ]
    for e in WANTED:
        lines.append(
            f"| `{e.sample}` | {e.type} | {_labels(e.labels)} | {e.owner} | {_cell(e.meaning)} |"
        )
    if not WANTED:
        lines.append("| none at the moment | | | | |")
    lines += [
        "",
        "## Present from start (at 0)",
        "",
        "A labelled counter has no series until its first increment, which `rate()` and"
        " `increase()` cannot see; these label combinations (fixed enums) are created at 0 when a"
        " worker starts (`streams/observability/series.py`), so queries over them return 0, not"
        " nothing. Per-region gauges are not: only the region's owner exports them.",
        "",
        "| metric | series | label values |",
        "|---|---|---|",
    ]
    for sample, count, values in initial_series_summary():
        described = "; ".join(
            f"`{label}`: {', '.join(f'`{v}`' for v in vals)}" for label, vals in values
        )
        lines.append(f"| `{sample}` | {count} | {_cell(described)} |")
    lines += [
        "",
        "## Bounded labels",
        "",
        "| label | values |",
        "|---|---|",
    ]
    for label, bound in BOUNDED_LABELS.items():
        lines.append(f"| `{label}` | {_cell(bound)} |")
    lines += [
        "",
        "Alert rules: `deploy/prometheus/rules/`; runbooks: [`docs/runbooks/`](runbooks/README.md);"
        " dashboards: `deploy/grafana/dashboards/`.",
        "",
    ]
    return "\n".join(lines)


def initial_series_summary() -> list[tuple[str, int, list[tuple[str, list[str]]]]]:
    """``(sample, how many series, [(label, values)])`` of the series created at start."""
    from streams.observability.series import initial_series

    by_counter: dict[str, tuple[tuple[str, ...], list[tuple[str, ...]]]] = {}
    for counter, values in initial_series():
        name = next(iter(counter.describe())).name + "_total"
        labels = tuple(getattr(counter, "_labelnames", ()))
        by_counter.setdefault(name, (labels, []))[1].append(values)
    summary = []
    for name, (labels, combos) in by_counter.items():
        per_label = [
            (label, list(dict.fromkeys(combo[i] for combo in combos)))
            for i, label in enumerate(labels)
        ]
        summary.append((name, len(combos), per_label))
    return summary


DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render docs/metrics.md from the registry.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--output", type=Path, default=DOCS_PATH)
    args = parser.parse_args(argv)
    text = render_markdown(collect())
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if current != text:
            print(f"{args.output} is stale: run python -m streams.observability.catalogue")
            return 1
        return 0
    if current != text:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
