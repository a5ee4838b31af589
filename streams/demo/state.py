"""What the demo shows, as a pure fold: records and /metrics text in, KPIs and recent lists out.

No Kafka, no terminal, no clock: :class:`DemoState` is fed the *values* of records read from the
topics (``incidents.reported`` and the three output topics, by canonical topic name) and the
worker's Prometheus text, and answers what the view renders and the summary prints. Unit tests
drive it with hand-made records.

Personal data never enters it: from an incident report it keeps the id, category, zone,
priority and time; ``caller_phone`` and ``summary`` are dropped at decoding.

Delivery is at least once, so the same record may be read twice: assignments are counted once
per ``assignment_id``, alert records once per (``alert_id``, ``kind``, ``severity``).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from schemas import topics
from schemas.alerts import AlertKind, ResponseAlert
from schemas.clearance import ClearanceScope, ClearanceSnapshot, ClearanceWindow
from schemas.dispatch import Assignment
from schemas.incidents import CaseType, IncidentReported

__all__ = [
    "CLEARANCE_SERIES",
    "AlertRow",
    "AssignmentRow",
    "ClearanceRow",
    "DemoState",
    "IncidentRow",
    "WorkerFigures",
    "parse_metrics",
]

#: The clearance series the KPI panel shows: the city's cases of each type, last 30 days.
CLEARANCE_WINDOW, CLEARANCE_SCOPE = ClearanceWindow.DAYS_30, ClearanceScope.ALL
CLEARANCE_SERIES = tuple((CLEARANCE_WINDOW, t, CLEARANCE_SCOPE) for t in CaseType)

ZoneLocator = Callable[[float, float], str | None]


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """An incident as the view shows it: no caller phone, no summary."""

    incident_id: str
    reported_at: datetime
    category: str
    priority: int
    zone_id: str | None


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    incident_id: str
    assigned_at: datetime
    outcome: str
    unit_id: str | None
    force: str | None
    eta_s: float | None
    target_s: int | None
    attempt: int


@dataclass(frozen=True, slots=True)
class AlertRow:
    raised_at: datetime
    kind: str
    severity: str
    zone_id: str | None
    #: The incident, unit or post the alert is about (in that order of preference).
    subject: str
    escalation: bool


@dataclass(frozen=True, slots=True)
class ClearanceRow:
    window: str
    case_type: str
    filed: int
    cleared: int
    #: As published (two decimals), ``None`` while nothing was filed.
    rate_presented: str | None
    computed_at: datetime


@dataclass(frozen=True, slots=True)
class WorkerFigures:
    """The worker's state gauges and counters, summed over regions (one worker owns them all
    in the demo). ``None``: the worker has not exported the figure yet."""

    open_incidents: float | None = None
    arrivals_within: float = 0.0
    arrivals_total: float = 0.0
    posts_required: float | None = None
    posts_uncovered: float | None = None
    records_in: float = 0.0

    @property
    def within_target_share(self) -> float | None:
        return self.arrivals_within / self.arrivals_total if self.arrivals_total else None

    @property
    def posts_covered(self) -> float | None:
        if self.posts_required is None:
            return None
        return self.posts_required - (self.posts_uncovered or 0.0)


def parse_metrics(text: str) -> WorkerFigures:
    """The few figures the KPI panel needs from a worker's Prometheus text."""
    sums: dict[str, float] = {}
    within = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name = sample.name
            sums[name] = sums.get(name, 0.0) + sample.value
            if (
                name == "patrolflow_response_arrivals_total"
                and sample.labels.get("within_target") == "true"
            ):
                within += sample.value

    def gauge(name: str) -> float | None:
        return sums.get(name)

    return WorkerFigures(
        open_incidents=gauge("patrolflow_dispatch_open_incidents"),
        arrivals_within=within,
        arrivals_total=sums.get("patrolflow_response_arrivals_total", 0.0),
        posts_required=gauge("patrolflow_response_posts_required"),
        posts_uncovered=gauge("patrolflow_response_posts_uncovered"),
        records_in=sums.get("patrolflow_intake_records_total", 0.0),
    )


@dataclass
class DemoState:
    """The fold. ``recent``: rows kept per list. ``locate``: (lat, lon) -> zone id, for reports
    that do not name their zone (optional: without it such rows show no zone)."""

    recent: int = 8
    locate: ZoneLocator | None = None
    incidents: deque[IncidentRow] = field(init=False)
    assignments: deque[AssignmentRow] = field(init=False)
    alerts: deque[AlertRow] = field(init=False)
    incident_count: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    #: Distinct alerts by kind (escalations of an alert are counted in ``escalations``).
    alert_kinds: Counter[str] = field(default_factory=Counter)
    escalations: int = 0
    #: The latest snapshot of each :data:`CLEARANCE_SERIES`, by case type.
    clearance: dict[str, ClearanceRow] = field(default_factory=dict)
    worker: WorkerFigures = field(default_factory=WorkerFigures)
    #: Records that did not decode (counted, never fatal: the view keeps going).
    unreadable: int = 0
    _incident_ids: set[str] = field(default_factory=set, repr=False)
    _assignment_ids: set[str] = field(default_factory=set, repr=False)
    _alert_records: set[tuple[str, str, str]] = field(default_factory=set, repr=False)
    _alert_ids: set[tuple[str, str]] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.incidents = deque(maxlen=self.recent)
        self.assignments = deque(maxlen=self.recent)
        self.alerts = deque(maxlen=self.recent)

    # --- records ------------------------------------------------------------------------------

    def apply(self, topic: str, value: bytes) -> None:
        """Fold one record of canonical ``topic`` (others are ignored)."""
        handlers: dict[str, Callable[[bytes], None]] = {
            topics.INCIDENTS_REPORTED: self._incident,
            topics.DISPATCH_ASSIGNMENTS: self._assignment,
            topics.ALERTS_RESPONSE: self._alert,
            topics.METRICS_CLEARANCE: self._clearance,
        }
        handler = handlers.get(topic)
        if handler is None:
            return
        try:
            handler(value)
        except ValidationError:
            self.unreadable += 1

    def apply_all(self, records: Iterable[tuple[str, bytes]]) -> None:
        for topic, value in records:
            self.apply(topic, value)

    def _incident(self, value: bytes) -> None:
        report = IncidentReported.model_validate_json(value)
        if report.incident_id in self._incident_ids:
            return
        self._incident_ids.add(report.incident_id)
        zone = report.zone_id
        if zone is None and self.locate is not None:
            zone = self.locate(report.location.lat, report.location.lon)
        self.incident_count += 1
        self.categories[report.category.value] += 1
        self.incidents.appendleft(
            IncidentRow(
                incident_id=report.incident_id,
                reported_at=report.reported_at,
                category=report.category.value,
                priority=report.priority,
                zone_id=zone,
            )
        )

    def _assignment(self, value: bytes) -> None:
        record = Assignment.model_validate_json(value)
        if record.assignment_id in self._assignment_ids:
            return
        self._assignment_ids.add(record.assignment_id)
        self.outcomes[record.outcome.value] += 1
        self.assignments.appendleft(
            AssignmentRow(
                incident_id=record.incident_id,
                assigned_at=record.assigned_at,
                outcome=record.outcome.value,
                unit_id=record.unit_id,
                force=None if record.force is None else record.force.value,
                eta_s=record.eta_s,
                target_s=record.target_s,
                attempt=record.attempt,
            )
        )

    def _alert(self, value: bytes) -> None:
        alert = ResponseAlert.model_validate_json(value)
        kind, severity = alert.kind.value, alert.severity.value
        if (alert.alert_id, kind, severity) in self._alert_records:
            return
        self._alert_records.add((alert.alert_id, kind, severity))
        escalation = (alert.alert_id, kind) in self._alert_ids
        if escalation:
            self.escalations += 1
        else:
            self._alert_ids.add((alert.alert_id, kind))
            self.alert_kinds[kind] += 1
        subject = alert.incident_id or alert.unit_id or alert.post_id or ""
        self.alerts.appendleft(
            AlertRow(
                raised_at=alert.raised_at,
                kind=kind,
                severity=severity,
                zone_id=alert.zone_id,
                subject=subject,
                escalation=escalation,
            )
        )

    def _clearance(self, value: bytes) -> None:
        snap = ClearanceSnapshot.model_validate_json(value)
        if (snap.window, snap.case_type, snap.scope) not in CLEARANCE_SERIES:
            return
        # The last one read is the latest: a series is one key, so one partition, in order.
        # (Not the largest computed_at: the ledger stamps wall time before its first case
        # event and event time after it, which in a sped-up or replayed run is earlier.)
        self.clearance[snap.case_type.value] = ClearanceRow(
            window=snap.window.value,
            case_type=snap.case_type.value,
            filed=snap.filed,
            cleared=snap.cleared,
            rate_presented=None if snap.rate is None else snap.rate.presented,
            computed_at=snap.computed_at,
        )

    # --- the worker's /metrics ----------------------------------------------------------------

    def apply_metrics(self, text: str) -> None:
        """Take the latest figures from a worker's Prometheus text (bad text: counted)."""
        try:
            self.worker = parse_metrics(text)
        except ValueError:
            self.unreadable += 1

    # --- answers ------------------------------------------------------------------------------

    @property
    def assignment_count(self) -> int:
        return sum(self.outcomes.values())

    @property
    def alert_count(self) -> int:
        return sum(self.alert_kinds.values())

    def alert_total(self, kind: AlertKind | str) -> int:
        return self.alert_kinds[str(kind)]

    def status_line(self, elapsed_s: float) -> str:
        """One plain line of the KPIs and counts (the view without a terminal)."""
        w = self.worker
        return (
            f"[{elapsed_s:6.1f} s] incidents {self.incident_count}"
            f" | assignments {self.assignment_count} ({_counts(self.outcomes) or '-'})"
            f" | alerts {self.alert_count} ({_counts(self.alert_kinds) or '-'})"
            f" | open {_num(w.open_incidents)}"
            f" | within target {_share(w.within_target_share)}"
            f" | posts covered {_posts(w)}"
            f" | clearance {self.clearance_text()}"
        )

    def clearance_text(self) -> str:
        """The latest clearance rates, e.g. ``30d criminal 86.13% (118/137), administrative
        no cases filed``."""
        if not self.clearance:
            return "no snapshot yet"
        parts = []
        for case_type in CaseType:
            c = self.clearance.get(case_type.value)
            if c is None:
                continue
            if c.rate_presented is None:
                parts.append(f"{c.case_type} no cases filed")
            else:
                parts.append(f"{c.case_type} {c.rate_presented}% ({c.cleared}/{c.filed})")
        return f"{CLEARANCE_WINDOW.value} " + ", ".join(parts)

    def summary_lines(self, elapsed_s: float) -> list[str]:
        """The end-of-run summary."""
        return [
            f"incidents: {self.incident_count} ({_counts(self.categories) or 'none'})",
            f"assignments: {self.assignment_count} ({_counts(self.outcomes) or 'none'})",
            f"alerts: {self.alert_count} ({_counts(self.alert_kinds) or 'none'}),"
            f" {self.escalations} escalations",
            f"KPIs: open incidents {_num(self.worker.open_incidents)},"
            f" first arrivals within target {_share(self.worker.within_target_share)},"
            f" posts covered {_posts(self.worker)}, clearance {self.clearance_text()}",
            f"elapsed: {elapsed_s:.1f} s",
        ]


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counter.items(), key=lambda kv: -kv[1]))


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _posts(w: WorkerFigures) -> str:
    covered = w.posts_covered
    if covered is None or w.posts_required is None:
        return "-"
    return f"{covered:g}/{w.posts_required:g}"
