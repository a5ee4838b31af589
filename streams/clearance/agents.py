"""Clearance agents: the case ledger in tables, periodic snapshots, and ``GET /clearance``.

Case facts arrive from the region core on ``<app>-cases`` (one partition: a district files a
few hundred cases a month, so one worker holds the whole ledger and answers every query).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime
from typing import Any

from faust import web
from faust.exceptions import SameNode
from faust.web.exceptions import ServiceUnavailable

from schemas import topics as names
from schemas.clearance import ClearanceWindow
from schemas.incidents import CaseType
from streams.app import app, raw_topic, send_from_timer, settings, table_options
from streams.clearance import metrics
from streams.clearance.intake import EXPECTED, apply_fact
from streams.clearance.ledger import CaseLedger, LedgerState
from streams.clearance.periods import Period, local_date
from streams.clearance.publish import rolling_snapshots, snapshot
from streams.region.agents import cases_topic, city
from streams.region.events import LEDGER_FACT, CaseEvent
from streams.transactions import gate

log = logging.getLogger(__name__)

snapshots_topic = raw_topic(names.METRICS_CLEARANCE)


def _ledger_table(name: str, value_type: type) -> Any:
    return app.Table(
        f"clearance-{name}",
        key_type=str,
        value_type=value_type,
        partitions=1,
        options=table_options(settings),
    )


_COUNTS_TABLE = "clearance-counts"
ledger = CaseLedger(
    LedgerState(
        counts=_ledger_table("counts", int),
        series=_ledger_table("series", int),
        meta=_ledger_table("meta", int),
        cases=_ledger_table("cases", str),
        parked=_ledger_table("parked", str),
        facets=_ledger_table("facets", int),
        incidents=_ledger_table("incidents", str),
    )
)
#: The ledger's own clock: the latest case event time seen (event time, not wall time).
_latest: dict[str, datetime] = {}
_pruned: dict[str, date] = {}


def _owns_ledger() -> bool:
    """Only the worker holding the cases partition has the ledger's tables."""
    return any(tp.topic == cases_topic.get_topic_name() for tp in app.consumer.assignment())


@app.agent(cases_topic, name="clearance.ledger")
async def record_cases(stream: Any) -> None:
    async for value in stream:
        async with gate.step():
            case = LEDGER_FACT.validate_json(value)
            day = local_date(case.at, city.timezone)
            outcome = apply_fact(ledger, case, day)
            counter = metrics.CASE_EVENTS if isinstance(case, CaseEvent) else metrics.INCIDENT_FACTS
            counter.labels(case.kind, outcome.value).inc()
            if day > _pruned.get("day", date.min):
                # Tables change only here, in the agent owning their partition: prune on a new day.
                ledger.prune(day)
                _pruned["day"] = day
            if outcome not in EXPECTED:
                log.warning("case %s: %s", case.kind, outcome.value)  # ids only, no personal data
            _latest["at"] = max(_latest.get("at", case.at), case.at)


@app.timer(interval=settings.clearance_snapshot_interval_s, name="clearance.snapshots")  # type: ignore[untyped-decorator]
async def publish_snapshots() -> None:
    """Rolling-window snapshots on ``metrics.clearance`` and as gauges (owner worker only).

    As of today in the city; sent from a timer, so outside any partition's transaction (each
    snapshot is a complete, idempotent statement of figures: a duplicate is harmless). The
    timer only reads the tables: Faust lets only the owning agent change them.
    """
    if not _owns_ledger():
        return
    now = datetime.now(UTC)
    as_of = local_date(now, city.timezone)
    computed_at = _latest.get("at", now)
    records = []
    try:
        for record in rolling_snapshots(
            ledger, as_of, regions=dict(city.regions), computed_at=computed_at
        ):
            records.append(record)
            # ~200 snapshots (windows x case types x scopes): computed in one go they held the
            # event loop for seconds under load, stalling dispatch; each one alone is short.
            await asyncio.sleep(0)
    except Exception:  # a failed snapshot must never take the worker down with it
        log.exception("clearance snapshot failed")
        metrics.SNAPSHOT_FAILURES.inc()
        return
    for record in records:
        try:
            await send_from_timer(
                snapshots_topic, record.kafka_key().encode(), record.to_json_bytes()
            )
        except Exception:  # broker away or the worker stopping: the next interval sends again
            log.exception("clearance snapshot not sent")
            metrics.SNAPSHOT_FAILURES.inc()
            return
        metrics.export(record)


@app.page("/clearance")
async def clearance_view(self: web.View, request: web.Request) -> web.Response:
    """``GET /clearance?from=YYYY-MM-DD&to=YYYY-MM-DD[&as_of=][&case_type=][&region=][&zone=]``
    ``[&include=response]``.

    Defaults: the month to date, as of today (city time zone), criminal cases, whole city.
    ``include=response`` adds ``response`` (first arrivals within target per circle tier) and
    ``incidents`` (reported per category) for the same period and scope; without it the
    answer has neither key, as before.
    """
    if not _owns_ledger():
        # Not ours: forward to the worker holding the ledger. Faust's table_route is not used
        # because it fails with a 500 while the producer's metadata lacks the changelog topic
        # (right after a rebalance); say 503 and let the caller retry instead.
        try:
            routed: web.Response = await app.router.route_req(
                _COUNTS_TABLE, "cases", self.web, request
            )
            return routed
        except SameNode:
            pass
        except (ServiceUnavailable, KeyError, TypeError):
            return self.json({"error": "the ledger's owner is not known yet; retry"}, status=503)
    query = request.query
    try:
        today = local_date(datetime.now(UTC), city.timezone)
        as_of = date.fromisoformat(query["as_of"]) if "as_of" in query else today
        start = date.fromisoformat(query["from"]) if "from" in query else as_of.replace(day=1)
        end = date.fromisoformat(query["to"]) if "to" in query else as_of
        case_type = CaseType(query.get("case_type", CaseType.CRIMINAL.value))
        include_response = "response" in query.get("include", "").split(",")
        period = Period(start, end)
    except (ValueError, KeyError) as exc:
        return self.json({"error": f"bad query: {exc}"}, status=400)
    record = snapshot(
        ledger,
        period,
        as_of,
        case_type,
        window=ClearanceWindow.CUSTOM,
        region=query.get("region"),
        zone=query.get("zone"),
        computed_at=_latest.get("at", datetime.now(UTC)),
        include_response=include_response,
    )
    omitted = set() if include_response else {"response", "incidents"}
    return self.json(record.model_dump(mode="json", exclude=omitted))
