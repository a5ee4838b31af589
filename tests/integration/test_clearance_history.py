"""Clearance over a generated 30-month history, checked against a separate reference.

A seeded random history of cases (both case types, zones in both regions, solves days to a
year after filing, event times near midnight) goes through the real broker into a running
worker as incidents and ``case_filed``/``case_solved`` updates with their original times.
The expected ``/clearance`` answers are computed here from the generated list with plain
loops (:class:`Reference`), never with ``streams.clearance``, and compared field by field,
exact fractions and presented decimals included, for spans of a month, a quarter, a year, a
span across a year end, February of a leap year and the February after it, and spans ending
and starting on 29 February.

Then, as a bureau sees it: a solve arriving late restates its filing period; a second worker
joins, the partitions split, and both workers answer the same figures (the ledger is one
partition: the worker without it routes every query to the one holding it, seen in each
worker's ``patrolflow_consumer_lag_records`` series); a second late solve arrives while they
share the work; and when the ledger's owner leaves, the other worker recovers the ledger from
its changelogs and answers the same figures itself.

The history ends on 28 February 2025: the ledger keeps 25 months before the latest event's
month, so from 1 January 2023, and every queried span and comparison span lies after that.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from schemas import topics
from streams.city.model import load_city
from streams.settings import Settings
from tests.support.waiting import eventually
from tests.support.worker_process import WorkerProcess, free_port

pytestmark = pytest.mark.integration

CITY = load_city(None)
TZ = ZoneInfo("Asia/Shanghai")  # the demo city's time zone: local days are counted in it
FIRST, LAST = date(2022, 9, 1), date(2025, 2, 28)
REGION_OF = {zone: region for region, zones in CITY.regions.items() for zone in zones}
#: Zones with cases and their weights: z17 is sparse, so zero bases occur.
ZONE_WEIGHTS = {"z01": 3, "z02": 5, "z05": 2, "z09": 2, "z14": 1, "z15": 3, "z16": 2, "z17": 1}
CASES = 420
SEED = 20240229
CASE_EVENTS = "patrolflow_clearance_case_events_total"

SPANS = {
    "month": (date(2024, 10, 1), date(2024, 10, 31)),
    "quarter": (date(2024, 4, 1), date(2024, 6, 30)),
    "year": (date(2024, 1, 1), date(2024, 12, 31)),
    "across year end": (date(2024, 12, 10), date(2025, 1, 20)),
    "leap February": (date(2024, 2, 1), date(2024, 2, 29)),
    "to 29 February": (date(2024, 2, 10), date(2024, 2, 29)),
    # Whole months map to whole months: its year-on-year base includes 29 February 2024.
    "February after a leap year": (date(2025, 2, 1), date(2025, 2, 28)),
    "from 29 February": (date(2024, 2, 29), date(2024, 3, 10)),
}
SCOPES: tuple[dict[str, str], ...] = (
    {},
    {"region": "hailar"},
    {"region": "hailar-east"},
    {"zone": "z02"},
    {"zone": "z16"},
    {"zone": "z17"},
)


# -- the history ------------------------------------------------------------------------------


@dataclass
class Case:
    case_id: str
    incident_id: str
    case_type: str
    zone: str
    reported: datetime  # local wall time in TZ
    filed: datetime
    solved: datetime | None  # the solve that counts (the first one sent)
    late: bool = False  # its solve is withheld until the rest has been counted

    @property
    def region(self) -> str:
        return REGION_OF[self.zone]


@dataclass
class History:
    cases: list[Case]
    #: (local time, topic, key, body) of everything but the late solves, in time order.
    events: list[tuple[datetime, str, str, dict[str, object]]] = field(default_factory=list)
    case_events: int = 0  # updates the ledger applies (filings, solves, repeat, ghost)


def _local(day: date, minute: int) -> datetime:
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=TZ)


def _random_time(rng: random.Random, day: date) -> datetime:
    # One in four at an edge of the local day. Times go out in UTC, the worker counts local
    # days: before 08:00 local the UTC date is the day before (a third of all times).
    minute = rng.choice((rng.randrange(0, 40), rng.randrange(1400, 1440)))
    return _local(day, minute if rng.random() < 0.25 else rng.randrange(0, 1440))


def generate(run: str) -> History:
    rng = random.Random(SEED)
    zones, weights = list(ZONE_WEIGHTS), list(ZONE_WEIGHTS.values())
    span_days = (LAST - FIRST).days + 1
    cases = []
    for n in range(CASES):
        case_type = "criminal" if rng.random() < 0.65 else "administrative"
        filed = _random_time(rng, FIRST + timedelta(days=rng.randrange(span_days)))
        solved: datetime | None = None
        if rng.random() < (0.6 if case_type == "criminal" else 0.85):
            lag_days = rng.randrange(0, 30) if rng.random() < 0.6 else rng.randrange(30, 400)
            solved = max(_random_time(rng, filed.date() + timedelta(days=lag_days)), filed)
            if solved == filed:
                solved += timedelta(minutes=1)  # same minute: still after the filing
            if solved.date() > LAST:
                solved = None  # beyond the history: still open
        reported = filed - timedelta(minutes=rng.randrange(10, 3 * 24 * 60))
        zone = rng.choices(zones, weights)[0]
        cases.append(Case(f"C-{run}-{n}", f"I-{run}-{n}", case_type, zone, reported, filed, solved))
    # Two cases solved late, after the rest has been counted: one filed on 29 February 2024
    # just before local midnight, one in October 2024 in the other region.
    cases.append(
        Case(
            f"C-{run}-late-1",
            f"I-{run}-late-1",
            "criminal",
            "z02",
            _local(date(2024, 2, 29), 23 * 60),
            _local(date(2024, 2, 29), 23 * 60 + 50),
            _local(date(2025, 2, 20), 10 * 60),
            late=True,
        )
    )
    cases.append(
        Case(
            f"C-{run}-late-2",
            f"I-{run}-late-2",
            "criminal",
            "z16",
            _local(date(2024, 10, 14), 8 * 60),
            _local(date(2024, 10, 15), 9 * 60),
            _local(date(2025, 1, 5), 0 * 60 + 10),
            late=True,
        )
    )
    history = History(cases)
    for case in cases:
        history.events.append((case.reported, *_incident(case)))
        history.events.append((case.filed, *_update(case, "case_filed", case.filed)))
        history.case_events += 1
        if case.solved is not None and not case.late:
            history.events.append((case.solved, *_update(case, "case_solved", case.solved)))
            history.case_events += 1
    # A repeated solve (a later day: counting it, or letting it win, would change figures)
    # and a solve of a case nobody filed, on a known incident.
    repeated = next(
        c for c in cases if c.solved and date(2024, 3, 1) <= c.solved.date() <= date(2024, 12, 1)
    )
    assert repeated.solved is not None
    again = repeated.solved + timedelta(days=3)
    history.events.append((again, *_update(repeated, "case_solved", again)))
    ghost = replace(repeated, case_id=f"C-{run}-ghost", case_type="criminal")
    history.events.append((again, *_update(ghost, "case_solved", again)))
    history.case_events += 2
    history.events.sort(key=lambda event: event[0])
    return history


def _incident(case: Case) -> tuple[str, str, dict[str, object]]:
    lat, lon = CITY.zones[case.zone].interior_point
    body: dict[str, object] = {
        "incident_id": case.incident_id,
        "reported_at": case.reported.astimezone(UTC).isoformat(),
        "category": "criminal",
        "priority": 3,
        "location": {"lat": lat, "lon": lon},
        "source": "hailar-110",
    }
    return topics.INCIDENTS_REPORTED, case.incident_id, body


def _update(case: Case, kind: str, at: datetime) -> tuple[str, str, dict[str, object]]:
    body: dict[str, object] = {
        "incident_id": case.incident_id,
        "at": at.astimezone(UTC).isoformat(),  # sent in UTC: the worker finds the local day
        "kind": kind,
        "case_id": case.case_id,
        "case_type": case.case_type,
    }
    return topics.INCIDENTS_UPDATES, case.incident_id, body


# -- the reference ----------------------------------------------------------------------------


def _presented(value: Fraction) -> str:
    """Two decimals, half away from zero, via a 60-digit decimal (not the product's ints)."""
    with localcontext() as ctx:
        ctx.prec = 60
        decimal = Decimal(value.numerator) / Decimal(value.denominator)
        shown = decimal.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return "0.00" if shown == 0 else str(shown)


def _figure(value: Fraction, presented: str | None = None) -> dict[str, object]:
    return {"exact": str(value), "value": float(value), "presented": presented or _presented(value)}


def _month_end(day: date) -> date:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def _is_whole_months(start: date, end: date) -> bool:
    return start.day == 1 and (end + timedelta(days=1)).day == 1


def _year_before(day: date) -> date:
    return (
        date(day.year - 1, 2, 28)
        if (day.month, day.day) == (2, 29)
        else day.replace(year=day.year - 1)
    )


def year_on_year(start: date, end: date) -> tuple[date, date]:
    if _is_whole_months(start, end):
        return start.replace(year=start.year - 1), _month_end(end.replace(year=end.year - 1, day=1))
    return _year_before(start), _year_before(end)


def previous_period(start: date, end: date) -> tuple[date, date]:
    if _is_whole_months(start, end):
        first = start
        months = (end.year - start.year) * 12 + end.month - start.month + 1
        for _ in range(months):
            first = (first - timedelta(days=1)).replace(day=1)
        return first, start - timedelta(days=1)
    return start - timedelta(days=(end - start).days + 1), start - timedelta(days=1)


@dataclass
class Reference:
    """Expected ``/clearance`` answers from the generated cases, by plain loops."""

    cases: list[Case]
    late_sent: set[str] = field(default_factory=set)

    def _solved_day(self, case: Case) -> date | None:
        if case.solved is None or (case.late and case.case_id not in self.late_sent):
            return None
        return case.solved.date()

    def counts(
        self, start: date, end: date, as_of: date, case_type: str, scope: dict[str, str]
    ) -> tuple[int, int, int]:
        """(filed, cleared, solved in period), as known on ``as_of``."""
        filed = cleared = solved = 0
        for case in self.cases:
            if case.case_type != case_type:
                continue
            if scope.get("zone", case.zone) != case.zone:
                continue
            if scope.get("region", case.region) != case.region:
                continue
            solved_on = self._solved_day(case)
            if start <= case.filed.date() <= end and case.filed.date() <= as_of:
                filed += 1
                if solved_on is not None and solved_on <= as_of:
                    cleared += 1
            if solved_on is not None and start <= solved_on <= end and solved_on <= as_of:
                solved += 1
        return filed, cleared, solved

    def answer(
        self, start: date, end: date, as_of: date, case_type: str, scope: dict[str, str]
    ) -> dict[str, object]:
        filed, cleared, solved = self.counts(start, end, as_of, case_type, scope)
        rate = Fraction(100 * cleared, filed) if filed else None

        def comparison(basis: str, span: tuple[date, date]) -> dict[str, object]:
            base_filed, base_cleared, _ = self.counts(*span, as_of, case_type, scope)
            base_rate = Fraction(100 * base_cleared, base_filed) if base_filed else None
            filed_change = (
                _figure(Fraction(100 * (filed - base_filed), base_filed)) if base_filed else None
            )
            rate_change = None
            if rate is not None and base_rate is not None:
                shown = Decimal(_presented(rate)) - Decimal(_presented(base_rate))
                rate_change = _figure(rate - base_rate, "0.00" if shown == 0 else str(shown))
            return {
                "basis": basis,
                "start": span[0].isoformat(),
                "end": span[1].isoformat(),
                "filed": base_filed,
                "cleared": base_cleared,
                "rate": None if base_rate is None else _figure(base_rate),
                "filed_change": _change("percent", filed_change),
                "rate_change": _change("points", rate_change),
            }

        scope_name = "zone" if "zone" in scope else "region" if "region" in scope else "all"
        return {
            "window": "custom",
            "start": start.isoformat(),
            "end": end.isoformat(),
            "as_of": as_of.isoformat(),
            "case_type": case_type,
            "scope": scope_name,
            "region_id": scope.get("region") if scope_name == "region" else None,
            "zone_id": scope.get("zone") if scope_name == "zone" else None,
            "filed": filed,
            "cleared": cleared,
            "solved_in_period": solved,
            "rate": None if rate is None else _figure(rate),
            "year_on_year": comparison("year_on_year", year_on_year(start, end)),
            "previous_period": comparison("previous_period", previous_period(start, end)),
            # Every span queried here, comparisons included, starts within the 25 months of
            # history the ledger keeps (from 2023-01-01 on): none of them misses a day.
            "complete": True,
        }


def _change(unit: str, figure: dict[str, object] | None) -> dict[str, object]:
    return {"unit": unit, "status": "undefined" if figure is None else "defined", "figure": figure}


# -- queries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    start: date
    end: date
    as_of: date | None  # None: the endpoint's default, today (after the whole history)
    case_type: str
    scope: tuple[tuple[str, str], ...]

    @property
    def path(self) -> str:
        args = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.as_of is not None:
            args["as_of"] = self.as_of.isoformat()
        args |= {"case_type": self.case_type, **dict(self.scope)}
        return "/clearance?" + "&".join(f"{k}={v}" for k, v in args.items())


def queries() -> Iterator[Query]:
    for start, end in SPANS.values():
        for case_type in ("criminal", "administrative"):
            for scope in SCOPES:
                yield Query(start, end, LAST, case_type, tuple(scope.items()))
    # As of a day inside the year and after the quarter; and as of today (the default).
    for start, end in (SPANS["quarter"], SPANS["year"]):
        yield Query(start, end, date(2024, 8, 15), "criminal", ())
        yield Query(start, end, None, "criminal", (("zone", "z02"),))


def expected(reference: Reference, query: Query) -> dict[str, object]:
    today = datetime.now(UTC).astimezone(TZ).date()
    as_of = query.as_of or today
    return reference.answer(query.start, query.end, as_of, query.case_type, dict(query.scope))


async def answer(worker: WorkerProcess, query: Query) -> dict[str, Any] | None:
    """The worker's answer (``computed_at`` dropped); None while it says 503 (rebalancing)."""
    try:
        status, body = await worker.get(query.path)
    except (aiohttp.ClientError, TimeoutError):
        return None
    if status == 503:
        return None
    assert status == 200, f"{query.path}: {status} {body}"
    data: dict[str, Any] = orjson.loads(body)
    data.pop("computed_at")
    return data


async def assert_all_match(worker: WorkerProcess, reference: Reference) -> None:
    """Every query's answer equals the reference's, field by field; else all that differ."""
    wrong = []
    for query in queries():
        got = await eventually(
            partial(answer, worker, query), timeout_s=30, what=f"200 from {query.path}"
        )
        want = expected(reference, query)
        if got != want:
            wrong.append(f"{query.path}\n  got  {got}\n  want {want}")
    assert not wrong, f"{len(wrong)} answers differ from the reference:\n" + "\n".join(wrong)


async def series(worker: WorkerProcess, name: str, *labels: str) -> dict[tuple[str, ...], float]:
    _, text = await worker.get("/metrics")
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sample.labels.get(label, "") for label in labels)] = sample.value
    return found


async def wait_counted(worker: WorkerProcess, events: int) -> None:
    async def counted() -> bool:
        return sum((await series(worker, CASE_EVENTS, "kind", "outcome")).values()) >= events

    await eventually(counted, timeout_s=60, interval_s=0.5, what=f"{events} case events applied")


# -- the test ---------------------------------------------------------------------------------


async def test_generated_history_matches_reference_on_one_worker_then_two(
    deployment_factory: Callable[..., Awaitable[Settings]],
    worker_factory: Callable[[Settings], Awaitable[WorkerProcess]],
    producer: AIOKafkaProducer,
) -> None:
    settings = await deployment_factory()
    history = generate(uuid.uuid4().hex[:6])
    reference = Reference(history.cases)
    late_1, late_2 = (c for c in history.cases if c.late)
    # The reference itself must exercise what the test claims: zero bases, no rate.
    # (29 February 2024: the first late case is filed then.)
    all_expected = [expected(reference, q) for q in queries()]
    assert any(e["year_on_year"]["filed_change"]["status"] == "undefined" for e in all_expected)  # type: ignore[index]
    assert any(e["rate"] is None for e in all_expected)

    async def send(topic: str, key: str, body: dict[str, object]) -> None:
        await producer.send(settings.topic(topic), key=key.encode(), value=orjson.dumps(body))

    first = await worker_factory(settings)
    for _, topic, key, body in history.events:
        await send(topic, key, body)
    await producer.flush()
    await wait_counted(first, history.case_events)

    counted = await series(first, CASE_EVENTS, "kind", "outcome")
    outcomes = {labels: value for labels, value in counted.items() if value}
    solves = sum(1 for c in history.cases if c.solved and not c.late)
    assert outcomes == {
        ("case_filed", "filed"): len(history.cases),
        ("case_solved", "solved"): solves,
        ("case_solved", "duplicate_solve"): 1,
        ("case_solved", "unknown_case"): 1,
    }
    await assert_all_match(first, reference)

    # The late solve restates February 2024 (and the year, the quarter's year-on-year base ...).
    leap_feb = Query(*SPANS["leap February"], LAST, "criminal", (("zone", "z02"),))
    before = expected(reference, leap_feb)
    assert late_1.solved is not None
    await send(*_update(late_1, "case_solved", late_1.solved))
    reference.late_sent.add(late_1.case_id)
    restated = expected(reference, leap_feb)
    assert restated["cleared"] == before["cleared"] + 1  # type: ignore[operator]
    await wait_counted(first, history.case_events + 1)
    assert await answer(first, leap_feb) == restated
    await assert_all_match(first, reference)

    # A second worker: the partitions split; the ledger (one partition) lives on one of them.
    second = await worker_factory(settings.model_copy(update={"web_port": free_port()}))
    lag = "patrolflow_consumer_lag_records"
    cases_partition = (f"{settings.app_id}-cases", "0")

    async def split() -> tuple[WorkerProcess, WorkerProcess] | None:
        a, b = (
            await series(first, lag, "topic", "partition"),
            await series(second, lag, "topic", "partition"),
        )
        if not a or not b or set(a) & set(b) or cases_partition not in set(a) | set(b):
            return None
        for worker in (first, second):
            if (await worker.get("/healthz"))[0] != 200:
                return None
        return (first, second) if cases_partition in a else (second, first)

    owner, router = await eventually(split, timeout_s=90, interval_s=0.5, what="partitions split")

    # A late solve in the other region while two workers share the work.
    assert late_2.solved is not None
    await send(*_update(late_2, "case_solved", late_2.solved))
    reference.late_sent.add(late_2.case_id)
    october = Query(*SPANS["month"], LAST, "criminal", (("region", "hailar-east"),))
    restated_october = expected(reference, october)
    for worker in (owner, router):
        await eventually(
            partial(_equals, worker, october, restated_october),
            timeout_s=60,
            what="the late October solve restated on both workers",
        )
    await assert_all_match(router, reference)
    await assert_all_match(owner, reference)

    # The ledger's owner leaves: the other worker takes the partition over, recovers the
    # ledger from its changelogs and answers the same figures itself.
    owner.stop()

    async def took_over() -> bool:
        owned = await series(router, lag, "topic", "partition")
        return cases_partition in owned and (await router.get("/healthz"))[0] == 200

    await eventually(took_over, timeout_s=60, interval_s=0.5, what="the ledger taken over")
    await assert_all_match(router, reference)


async def _equals(worker: WorkerProcess, query: Query, want: dict[str, object]) -> bool:
    return await answer(worker, query) == want
