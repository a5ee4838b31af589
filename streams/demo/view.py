"""The demo's live terminal view (rich): a header, a KPI panel and three recent-record tables.

Rendering only: :func:`render` turns a :class:`~streams.demo.state.DemoState` and a
:class:`Header` into a rich renderable; :mod:`streams.demo.run` refreshes it in a
``rich.live.Live``. Times are shown in the city's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from itertools import islice

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from streams.demo.state import DemoState

__all__ = ["Header", "render", "rows_for"]

_OUTCOME_STYLE = {
    "assigned": "green",
    "manual": "green",
    "unassigned": "yellow",
    "unfilled": "red",
    "out_of_area": "magenta",
    "not_dispatched": "dim",
}
_SEVERITY_STYLE = {"info": "cyan", "warning": "yellow", "critical": "bold red"}


@dataclass(frozen=True)
class Header:
    city: str
    tz: tzinfo
    speed: str
    elapsed_s: float
    duration_s: float | None
    metrics_url: str
    clearance_url: str
    events_sent: int
    event_time: datetime | None


def _clock(at: datetime | None, tz: tzinfo) -> str:
    return "--:--:--" if at is None else at.astimezone(tz).strftime("%H:%M:%S")


def _header(h: Header) -> RenderableType:
    limit = f" of {h.duration_s:g} s" if h.duration_s is not None else ""
    line = Text.assemble(
        ("patrolflow demo", "bold"),
        f"  {h.city}  ·  {h.speed}  ·  event time {_clock(h.event_time, h.tz)}",
        f"  ·  {h.events_sent:,} events sent  ·  {h.elapsed_s:.0f} s{limit}  ·  ",
        ("Ctrl-C stops", "bold"),
    )
    links = Text(f"metrics {h.metrics_url}    clearance {h.clearance_url}", style="dim")
    return Group(line, links)


def _kpis(state: DemoState) -> RenderableType:
    w = state.worker
    share = w.within_target_share
    covered, required = w.posts_covered, w.posts_required
    cells: list[tuple[str, str]] = [
        ("open incidents", "-" if w.open_incidents is None else f"{w.open_incidents:g}"),
        (
            "first arrivals within target",
            "-" if share is None else f"{share:.0%} of {w.arrivals_total:g}",
        ),
        (
            "posts covered",
            "-" if covered is None or required is None else f"{covered:g} / {required:g}",
        ),
        ("clearance", state.clearance_text()),
        ("incidents", str(state.incident_count)),
        ("assignments", str(state.assignment_count)),
        ("alerts", str(state.alert_count)),
    ]
    table = Table(box=box.ROUNDED, title="KPIs", title_justify="left")
    for name, _ in cells:
        table.add_column(name, no_wrap=True)
    table.add_row(*(Text(value, style="bold") for _, value in cells))
    return table


def _incidents(state: DemoState, tz: tzinfo, rows: int) -> Table:
    table = Table(title="incidents", title_justify="left", box=box.SIMPLE_HEAD)
    for name in ("time", "incident", "category", "zone", "prio"):
        table.add_column(name, no_wrap=True)
    for row in islice(state.incidents, rows):
        table.add_row(
            _clock(row.reported_at, tz),
            row.incident_id,
            row.category,
            row.zone_id or "-",
            str(row.priority),
        )
    return table


def _assignments(state: DemoState, tz: tzinfo, rows: int) -> Table:
    table = Table(title="assignments", title_justify="left", box=box.SIMPLE_HEAD)
    for name in ("time", "incident", "unit", "outcome", "ETA", "target"):
        table.add_column(name, no_wrap=True)
    for row in islice(state.assignments, rows):
        table.add_row(
            _clock(row.assigned_at, tz),
            row.incident_id,
            row.unit_id or "-",
            Text(row.outcome, style=_OUTCOME_STYLE.get(row.outcome, "")),
            "-" if row.eta_s is None else f"{row.eta_s:.0f} s",
            "-" if row.target_s is None else f"{row.target_s} s",
        )
    return table


def _alerts(state: DemoState, tz: tzinfo, rows: int) -> Table:
    table = Table(title="alerts", title_justify="left", box=box.SIMPLE_HEAD)
    for name in ("time", "kind", "severity", "zone", "about"):
        table.add_column(name, no_wrap=True)
    for row in islice(state.alerts, rows):
        severity = row.severity + (" ↑" if row.escalation else "")
        table.add_row(
            _clock(row.raised_at, tz),
            row.kind,
            Text(severity, style=_SEVERITY_STYLE.get(row.severity, "")),
            row.zone_id or "-",
            row.subject,
        )
    return table


#: Lines the screen needs besides the table rows (header, KPIs, table titles and heads).
_FIXED_LINES = 20


def rows_for(height: int, most: int) -> int:
    """Rows per table so that the screen fits a terminal of ``height`` lines."""
    return max(2, min(most, (height - _FIXED_LINES) // 3))


def render(state: DemoState, header: Header, rows: int = 8) -> RenderableType:
    """The whole screen, with at most ``rows`` rows per recent-records table."""
    return Group(
        _header(header),
        _kpis(state),
        _incidents(state, header.tz, rows),
        _assignments(state, header.tz, rows),
        _alerts(state, header.tz, rows),
    )
