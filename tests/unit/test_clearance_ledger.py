"""The case ledger: cohort counting, anomalies, out-of-order solves, retention, key scheme."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.incidents import CaseType
from streams.clearance.figures import ClearanceFigures
from streams.clearance.ledger import (
    ANOMALIES,
    RETAINED_MONTHS,
    CaseLedger,
    CaseOutcome,
    CaseRecord,
    LedgerState,
)
from streams.clearance.periods import Period, previous_period, year_on_year
from streams.clearance.publish import snapshot

CRIMINAL = "criminal"
ADMINISTRATIVE = "administrative"


def day(text: str) -> date:
    return date.fromisoformat(text)


def span(start: str, end: str) -> Period:
    return Period(day(start), day(end))


def file(
    ledger: CaseLedger,
    case_id: str,
    filed_on: str,
    zone: str | None = "z01",
    region: str | None = "hailar",
    case_type: str = CRIMINAL,
) -> CaseOutcome:
    return ledger.case_filed(case_id, case_type, zone, region, day(filed_on))


# -- counting -------------------------------------------------------------------------------


def test_filed_cleared_and_solved_in_period() -> None:
    ledger = CaseLedger()
    assert file(ledger, "A1", "2025-02-03") is CaseOutcome.FILED
    assert file(ledger, "A2", "2025-02-10") is CaseOutcome.FILED
    assert file(ledger, "A0", "2025-01-20") is CaseOutcome.FILED
    assert ledger.case_solved("A1", day("2025-02-05")) is CaseOutcome.SOLVED
    assert ledger.case_solved("A0", day("2025-02-07")) is CaseOutcome.SOLVED

    february = span("2025-02-01", "2025-02-28")
    figures = ledger.figures(february, day("2025-03-01"), CRIMINAL)
    # A1 and A2 filed in February, A1 solved; A1 and A0 (a January case) solved in February
    assert figures == ClearanceFigures(filed=2, cleared=1, solved_in_period=2)
    assert figures.rate == Fraction(1, 2)


def test_a_late_solve_restates_its_filing_period() -> None:
    ledger = CaseLedger()
    file(ledger, "A1", "2025-02-03")
    ledger.case_solved("A1", day("2025-06-10"))
    february = span("2025-02-01", "2025-02-28")
    assert ledger.figures(february, day("2025-06-09"), CRIMINAL).cleared == 0
    assert ledger.figures(february, day("2025-06-10"), CRIMINAL).cleared == 1
    # solved in June, so it is not among February's solves
    assert ledger.figures(february, day("2025-06-10"), CRIMINAL).solved_in_period == 0
    june = span("2025-06-01", "2025-06-30")
    assert ledger.figures(june, day("2025-06-30"), CRIMINAL).solved_in_period == 1


def test_figures_are_as_known_on_the_as_of_day() -> None:
    """Filings and solves after as_of are not yet known, so cleared never exceeds filed."""
    ledger = CaseLedger()
    file(ledger, "A1", "2025-02-03")
    file(ledger, "A2", "2025-02-20")
    ledger.case_solved("A1", day("2025-02-21"))
    figures = ledger.figures(span("2025-02-01", "2025-02-28"), day("2025-02-10"), CRIMINAL)
    assert figures == ClearanceFigures(filed=1, cleared=0, solved_in_period=0)
    assert ledger.figures(span("2025-02-01", "2025-02-28"), day("2025-01-31"), CRIMINAL) == (
        ClearanceFigures(0, 0, 0)
    )


def test_cohort_walks_solve_days_from_either_end() -> None:
    """as_of near the filing day walks forward; as_of near the latest solve walks back."""
    ledger = CaseLedger()
    solves = {"A": "2025-01-02", "B": "2025-01-20", "C": "2025-02-27", "D": "2025-03-01"}
    for case_id, solved in solves.items():
        file(ledger, case_id, "2025-01-01")
        ledger.case_solved(case_id, day(solved))
    january_first = span("2025-01-01", "2025-01-01")
    expected = {
        "2025-01-01": 0,
        "2025-01-02": 1,  # forward walk
        "2025-01-19": 1,
        "2025-01-20": 2,
        "2025-02-26": 2,  # backward walk from 1 March
        "2025-02-27": 3,  # ... which keeps the solves of the as-of day itself
        "2025-02-28": 3,
        "2025-03-01": 4,  # at the latest solve: the running total
        "2026-01-01": 4,
    }
    for as_of, cleared in expected.items():
        assert ledger.figures(january_first, day(as_of), CRIMINAL).cleared == cleared, as_of


def test_case_types_are_counted_apart() -> None:
    ledger = CaseLedger()
    file(ledger, "C1", "2025-02-03", case_type=CRIMINAL)
    file(ledger, "X1", "2025-02-03", case_type=ADMINISTRATIVE)
    file(ledger, "X2", "2025-02-04", case_type=ADMINISTRATIVE)
    ledger.case_solved("X1", day("2025-02-04"))
    february = span("2025-02-01", "2025-02-28")
    assert ledger.figures(february, day("2025-03-01"), CRIMINAL) == ClearanceFigures(1, 0, 0)
    assert ledger.figures(february, day("2025-03-01"), ADMINISTRATIVE) == ClearanceFigures(2, 1, 1)


def test_zones_regions_and_the_unknown_zone() -> None:
    ledger = CaseLedger()
    file(ledger, "A1", "2025-02-03", zone="z01", region="hailar")
    file(ledger, "A2", "2025-02-03", zone="z02", region="hailar")
    file(ledger, "A3", "2025-02-03", zone=None, region="hailar")
    file(ledger, "A4", "2025-02-03", zone="z01", region="manzhouli")
    file(ledger, "A5", "2025-02-03", zone=None, region=None)
    ledger.case_solved("A3", day("2025-02-04"))
    february, as_of = span("2025-02-01", "2025-02-28"), day("2025-03-01")

    def filed(zone: str | None = None, region: str | None = None) -> int:
        return ledger.figures(february, as_of, CRIMINAL, zone=zone, region=region).filed

    assert filed() == 5  # the unknown zone and the unknown region are in the totals
    assert filed(zone="unknown") == 2
    assert ledger.figures(february, as_of, CRIMINAL, zone="unknown").cleared == 1
    assert filed(zone="z01") == 2
    assert filed(region="hailar") == 3
    assert filed(region="unknown") == 1
    assert filed(zone="z01", region="hailar") == 1
    assert filed(zone="z99") == 0


# -- anomalies and order --------------------------------------------------------------------


def test_a_second_solve_is_counted_once_as_an_anomaly() -> None:
    ledger = CaseLedger()
    file(ledger, "A1", "2025-02-03")
    assert ledger.case_solved("A1", day("2025-02-05")) is CaseOutcome.SOLVED
    assert ledger.case_solved("A1", day("2025-02-05")) is CaseOutcome.DUPLICATE_SOLVE
    assert ledger.case_solved("A1", day("2025-02-09")) is CaseOutcome.DUPLICATE_SOLVE
    february = span("2025-02-01", "2025-02-28")
    assert ledger.figures(february, day("2025-03-01"), CRIMINAL) == ClearanceFigures(1, 1, 1)
    assert ledger.anomalies()[CaseOutcome.DUPLICATE_SOLVE] == 2


def test_a_second_filing_changes_nothing() -> None:
    ledger = CaseLedger()
    file(ledger, "A1", "2025-02-03", zone="z01")
    assert file(ledger, "A1", "2025-03-03", zone="z02") is CaseOutcome.DUPLICATE_FILING
    assert ledger.figures(span("2025-02-01", "2025-03-31"), day("2025-04-01"), CRIMINAL) == (
        ClearanceFigures(1, 0, 0)
    )
    assert ledger.figures(span("2025-03-01", "2025-03-31"), day("2025-04-01"), CRIMINAL).filed == 0
    assert ledger.anomalies()[CaseOutcome.DUPLICATE_FILING] == 1


def test_a_solve_before_its_filing_arrives_is_parked_then_applied() -> None:
    ledger = CaseLedger()
    assert ledger.case_solved("A1", day("2025-02-09")) is CaseOutcome.UNKNOWN_CASE
    assert ledger.parked_solves == 1
    assert ledger.case_solved("A1", day("2025-02-11")) is CaseOutcome.DUPLICATE_SOLVE
    february = span("2025-02-01", "2025-02-28")
    assert ledger.figures(february, day("2025-03-01"), CRIMINAL) == ClearanceFigures(0, 0, 0)

    assert file(ledger, "A1", "2025-02-03") is CaseOutcome.FILED_AND_SOLVED
    assert ledger.parked_solves == 0
    assert ledger.figures(february, day("2025-03-01"), CRIMINAL) == ClearanceFigures(1, 1, 1)
    # the first solve wins: solved on the 9th, not the 11th
    assert ledger.figures(february, day("2025-02-10"), CRIMINAL).cleared == 1
    assert ledger.anomalies()[CaseOutcome.UNKNOWN_CASE] == 1  # counted once
    assert ledger.anomalies()[CaseOutcome.DUPLICATE_SOLVE] == 1


def test_a_solve_dated_before_its_filing_counts_on_the_filing_day() -> None:
    ledger = CaseLedger()
    file(ledger, "A1", "2025-02-03")
    assert ledger.case_solved("A1", day("2025-01-30")) is CaseOutcome.SOLVED_BEFORE_FILED
    assert ledger.figures(span("2025-01-01", "2025-01-31"), day("2025-03-01"), CRIMINAL) == (
        ClearanceFigures(0, 0, 0)
    )
    assert ledger.figures(span("2025-02-03", "2025-02-03"), day("2025-02-03"), CRIMINAL) == (
        ClearanceFigures(1, 1, 1)
    )
    assert ledger.anomalies()[CaseOutcome.SOLVED_BEFORE_FILED] == 1


def test_every_anomaly_kind_is_reported_even_when_zero() -> None:
    assert CaseLedger().anomalies() == {
        CaseOutcome.DUPLICATE_FILING: 0,
        CaseOutcome.SOLVED_BEFORE_FILED: 0,
        CaseOutcome.DUPLICATE_SOLVE: 0,
        CaseOutcome.UNKNOWN_CASE: 0,
    }


# -- state and key scheme -------------------------------------------------------------------


def test_state_is_plain_dicts_under_the_documented_keys() -> None:
    ledger = CaseLedger()
    file(ledger, "A1", "2025-02-03", zone="z07", region="hailar")
    ledger.case_solved("A1", day("2025-02-10"))
    ledger.case_solved("B9", day("2025-02-11"))
    state = ledger.state
    assert state.counts == {
        "filed|criminal|hailar|z07|2025-02-03": 1,
        "cleared|criminal|hailar|z07|2025-02-03": 1,
        "cleared_on|criminal|hailar|z07|2025-02-03|2025-02-10": 1,
        "solved|criminal|hailar|z07|2025-02-10": 1,
    }
    assert state.series == {"criminal|hailar|z07": 1}
    assert state.cases == {"A1": "criminal|hailar|z07|2025-02-03|2025-02-10"}
    assert state.parked == {"B9": "2025-02-11"}
    assert state.meta == {
        "latest_solve": date(2025, 2, 10).toordinal(),
        "anomaly|unknown_case": 1,
    }


def test_ids_with_the_separator_are_escaped() -> None:
    ledger = CaseLedger()
    file(ledger, "A1", "2025-02-03", zone="a|b%7C", region="r|1")
    ledger.case_solved("A1", day("2025-02-04"))
    february, as_of = span("2025-02-01", "2025-02-28"), day("2025-03-01")
    assert ledger.figures(february, as_of, CRIMINAL, zone="a|b%7C", region="r|1") == (
        ClearanceFigures(1, 1, 1)
    )
    assert ledger.figures(february, as_of, CRIMINAL, zone="a").filed == 0
    record = CaseRecord("t|x", "r%|", "%7C", day("2025-02-03"), None)
    assert CaseRecord.decode(record.encode()) == record


def test_a_ledger_rebuilt_from_its_serialised_state_answers_the_same() -> None:
    """What Faust tables will do: the dicts survive a JSON round trip and a restart."""
    ledger = CaseLedger()
    for index in range(30):
        file(ledger, f"A{index}", (day("2025-01-01") + timedelta(days=index)).isoformat())
        if index % 3:
            ledger.case_solved(f"A{index}", day("2025-01-01") + timedelta(days=2 * index))
    ledger.case_solved("ghost", day("2025-01-05"))
    restored = CaseLedger(LedgerState(**json.loads(json.dumps(asdict(ledger.state)))))
    for as_of in ("2025-01-15", "2025-02-10", "2025-03-31"):
        period = span("2025-01-01", "2025-01-31")
        assert restored.figures(period, day(as_of), CRIMINAL) == ledger.figures(
            period, day(as_of), CRIMINAL
        )
    assert restored.anomalies() == ledger.anomalies()
    assert restored.case_solved("A1", day("2025-03-01")) is CaseOutcome.DUPLICATE_SOLVE
    assert file(restored, "ghost", "2025-01-03") is CaseOutcome.FILED_AND_SOLVED


# -- retention ------------------------------------------------------------------------------


def test_prune_keeps_25_months_and_open_cases() -> None:
    assert RETAINED_MONTHS == 25
    ledger = CaseLedger()
    file(ledger, "old-solved", "2023-03-15")
    ledger.case_solved("old-solved", day("2023-03-20"))
    file(ledger, "old-open", "2023-03-10")
    file(ledger, "kept", "2023-04-02")
    file(ledger, "straddling", "2023-03-25")
    ledger.case_solved("straddling", day("2023-04-05"))
    ledger.case_solved("ghost", day("2023-01-01"))
    retained = span("2023-04-01", "2025-05-14")
    before = ledger.figures(retained, day("2025-05-14"), CRIMINAL)

    # today 2025-05-14: the horizon is 1 April 2023, 25 months before 1 May 2025
    dropped = ledger.prune(day("2025-05-14"))
    # old-solved: 4 buckets and its case record; old-open: its filed bucket; the parked ghost;
    # straddling: its cohort's 3 buckets, but not its solve in April nor its record
    assert dropped == 4 + 1 + 1 + 1 + 3
    assert set(ledger.state.cases) == {"old-open", "kept", "straddling"}
    assert ledger.figures(span("2023-04-01", "2023-04-30"), day("2025-05-14"), CRIMINAL) == (
        ClearanceFigures(filed=1, cleared=0, solved_in_period=1)
    )
    assert ledger.parked_solves == 0
    assert ledger.figures(retained, day("2025-05-14"), CRIMINAL) == before
    assert ledger.covers(retained)
    assert not ledger.covers(span("2023-03-31", "2023-04-30"))

    # a cold case solved today still counts among today's solves; its pruned cohort stays gone
    assert ledger.case_solved("old-open", day("2025-05-14")) is CaseOutcome.SOLVED
    assert ledger.figures(span("2025-05-01", "2025-05-31"), day("2025-05-14"), CRIMINAL) == (
        ClearanceFigures(0, 0, 1)
    )
    assert not any("2023-03-10" in key for key in ledger.state.counts)

    # a filing older than the horizon is remembered but writes no bucket
    assert file(ledger, "late-old", "2023-02-01") is CaseOutcome.FILED
    assert not any("2023-02-01" in key for key in ledger.state.counts)
    assert "late-old" in ledger.state.cases


def test_prune_is_idempotent_and_never_moves_the_horizon_back() -> None:
    ledger = CaseLedger()
    file(ledger, "A1", "2023-03-15")
    assert ledger.prune(day("2025-05-14")) == 1
    assert ledger.prune(day("2025-05-14")) == 0
    ledger.prune(day("2024-01-01"))
    assert not ledger.covers(span("2023-03-31", "2023-03-31"))


def test_a_year_long_period_and_its_comparisons_fit_in_retained_history() -> None:
    today = day("2025-05-14")
    ledger = CaseLedger()
    ledger.prune(today)
    last_twelve_months = span("2024-05-01", "2025-04-30")
    report = ledger.report(last_twelve_months, today, CRIMINAL)
    assert report.complete
    assert report.year_on_year.period == span("2023-05-01", "2024-04-30")
    too_old = span("2023-05-01", "2024-04-30")
    assert not ledger.report(too_old, today, CRIMINAL).complete


# -- the bureau's February-April --------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    case_id: str
    filed_on: date
    solved_on: date | None


def spread_cases(
    prefix: str, period: Period, filed: int, solved_by: date, cleared: int, late: int
) -> list[Case]:
    """``filed`` cases spread over the period's days and zones: ``cleared`` of them solved
    a week after filing (and by ``solved_by``), ``late`` more solved after ``solved_by``."""
    days = list(period.each_day())
    cases = []
    for index in range(filed):
        filed_on = days[index * len(days) // filed]
        if index < cleared:
            solved_on: date | None = min(filed_on + timedelta(days=7), solved_by)
        elif index < cleared + late:
            solved_on = solved_by + timedelta(days=10)
        else:
            solved_on = None
        cases.append(Case(f"{prefix}-{index}", filed_on, solved_on))
    return cases


def test_bureau_february_to_april() -> None:
    as_of = day("2025-05-01")
    period = span("2025-02-01", "2025-04-30")
    assert year_on_year(period) == span("2024-02-01", "2024-04-30")
    assert previous_period(period) == span("2024-11-01", "2025-01-31")
    cases = (
        spread_cases("now", period, filed=137, solved_by=as_of, cleared=118, late=4)
        + spread_cases("yoy", year_on_year(period), filed=192, solved_by=as_of, cleared=132, late=0)
        + spread_cases(
            "prev", previous_period(period), filed=161, solved_by=as_of, cleared=113, late=6
        )
    )
    ledger = CaseLedger()
    zones: Sequence[str | None] = [f"z{n:02d}" for n in range(1, 18)] + [None]
    for index, case in enumerate(cases):
        ledger.case_filed(
            case.case_id, CRIMINAL, zones[index % len(zones)], "hailar", case.filed_on
        )
    for case in cases:
        if case.solved_on is not None:
            ledger.case_solved(case.case_id, case.solved_on)

    report = ledger.report(period, as_of, CRIMINAL)
    solved_in_feb_to_april = sum(
        1 for case in cases if case.solved_on is not None and case.solved_on in period
    )
    assert report.figures == ClearanceFigures(137, 118, solved_in_feb_to_april)
    assert report.figures.rate_presented == Decimal("86.13")
    assert report.year_on_year.figures.filed == 192
    assert report.year_on_year.figures.cleared == 132
    assert report.previous_period.figures.filed == 161
    assert report.previous_period.figures.cleared == 113
    yoy, previous = report.year_on_year.change, report.previous_period.change
    assert (yoy.filed.presented, yoy.rate.presented) == (Decimal("-28.65"), Decimal("17.38"))
    assert (previous.filed.presented, previous.rate.presented) == (
        Decimal("-14.91"),
        Decimal("15.94"),
    )
    assert previous.rate.exact == Fraction(351700, 22057)  # 15.945..: see the figures tests
    assert report.complete

    # ten days on, the late solves restate both periods
    later = ledger.report(period, as_of + timedelta(days=10), CRIMINAL)
    assert later.figures.cleared == 118 + 4
    assert later.previous_period.figures.cleared == 113 + 6


# -- against a simple reference -------------------------------------------------------------

FIRST_DAY = date(2024, 1, 1)


@dataclass(frozen=True)
class Filing:
    case_id: str
    case_type: str
    zone: str | None
    region: str | None
    offset: int  # days after FIRST_DAY

    @property
    def filed_on(self) -> date:
        return FIRST_DAY + timedelta(days=self.offset)


@dataclass(frozen=True)
class Solve:
    case_id: str
    offset: int

    @property
    def solved_on(self) -> date:
        return FIRST_DAY + timedelta(days=self.offset)


Event = Filing | Solve

case_ids = st.sampled_from([f"c{n}" for n in range(12)])
case_types = st.sampled_from([CRIMINAL, ADMINISTRATIVE])
event_days = st.integers(0, 40)  # a short span, so that days collide often
events = st.lists(
    st.one_of(
        st.builds(
            Filing,
            case_ids,
            case_types,
            st.sampled_from([None, "z1", "z2"]),
            st.sampled_from([None, "r1", "r2"]),
            event_days,
        ),
        st.builds(Solve, case_ids, event_days),
    ),
    max_size=60,
)


def apply(ledger: CaseLedger, event: Event) -> CaseOutcome:
    if isinstance(event, Filing):
        return ledger.case_filed(
            event.case_id, event.case_type, event.zone, event.region, event.filed_on
        )
    return ledger.case_solved(event.case_id, event.solved_on)


@dataclass
class Reference:
    """The rules spelled out case by case, with no buckets: first filing and first solve win,
    a solve dated before its filing counts on the filing day."""

    filings: dict[str, Filing]
    first_solve: dict[str, date]
    anomalies: dict[CaseOutcome, int]

    @classmethod
    def of(cls, history: Sequence[Event]) -> Reference:
        filings: dict[str, Filing] = {}
        first_solve: dict[str, date] = {}
        anomalies = dict.fromkeys(ANOMALIES, 0)
        for event in history:
            if isinstance(event, Filing):
                if event.case_id in filings:
                    anomalies[CaseOutcome.DUPLICATE_FILING] += 1
                else:
                    filings[event.case_id] = event
            elif event.case_id in first_solve:
                anomalies[CaseOutcome.DUPLICATE_SOLVE] += 1
            else:
                if event.case_id not in filings:
                    anomalies[CaseOutcome.UNKNOWN_CASE] += 1
                first_solve[event.case_id] = event.solved_on
        for case_id, solved_on in first_solve.items():
            if case_id in filings and solved_on < filings[case_id].filed_on:
                anomalies[CaseOutcome.SOLVED_BEFORE_FILED] += 1
        return cls(filings, first_solve, anomalies)

    def figures(
        self, period: Period, as_of: date, case_type: str, zone: str | None, region: str | None
    ) -> ClearanceFigures:
        first, last = period.start, min(period.end, as_of)
        filed = cleared = solved = 0
        for case_id, filing in self.filings.items():
            if filing.case_type != case_type:
                continue
            if zone not in (None, filing.zone or "unknown"):
                continue
            if region not in (None, filing.region or "unknown"):
                continue
            solved_on = self.first_solve.get(case_id)
            if solved_on is not None:
                solved_on = max(solved_on, filing.filed_on)
            if first <= filing.filed_on <= last:
                filed += 1
                if solved_on is not None and solved_on <= as_of:
                    cleared += 1
            if solved_on is not None and first <= solved_on <= last:
                solved += 1
        return ClearanceFigures(filed, cleared, solved)


queries = st.tuples(
    st.integers(0, 45),  # period start, days after FIRST_DAY
    st.integers(0, 40),  # period length - 1
    st.integers(0, 60),  # as_of, days after FIRST_DAY
    case_types,
    st.sampled_from([None, "unknown", "z1", "z2"]),
    st.sampled_from([None, "unknown", "r1"]),
)


@settings(max_examples=300, deadline=None)
@given(events, st.lists(queries, max_size=8))
def test_ledger_agrees_with_a_case_by_case_reference(
    history: list[Event], asked: list[tuple[int, int, int, str, str | None, str | None]]
) -> None:
    ledger = CaseLedger()
    for event in history:
        apply(ledger, event)
    reference = Reference.of(history)
    assert ledger.anomalies() == reference.anomalies
    assert ledger.parked_solves == len(set(reference.first_solve) - set(reference.filings))
    for start, length, as_of, case_type, zone, region in asked:
        first = FIRST_DAY + timedelta(days=start)
        period = Period(first, first + timedelta(days=length))
        as_of_day = FIRST_DAY + timedelta(days=as_of)
        figures = ledger.figures(period, as_of_day, case_type, zone, region)
        assert figures == reference.figures(period, as_of_day, case_type, zone, region)
        assert figures.rate is None or 0 <= figures.rate <= 1


@settings(deadline=None)
@given(events)
def test_every_event_gets_an_outcome_and_each_anomaly_is_counted(history: list[Event]) -> None:
    ledger = CaseLedger()
    outcomes = [apply(ledger, event) for event in history]
    named = sum(1 for outcome in outcomes if outcome in ANOMALIES)
    # A parked solve applied at filing may be dated before it: one more anomaly than named.
    late_applied = outcomes.count(CaseOutcome.FILED_AND_SOLVED)
    assert named <= sum(ledger.anomalies().values()) <= named + late_applied


def test_a_snapshot_reaching_before_the_retained_history_says_it_is_incomplete() -> None:
    ledger = CaseLedger()
    file(ledger, "kept", "2024-05-02")
    ledger.prune(day("2025-05-14"))  # horizon: 1 April 2023
    now = datetime(2025, 5, 14, 12, tzinfo=UTC)

    def complete(start: str, end: str) -> bool:
        period = span(start, end)
        return snapshot(
            ledger, period, day("2025-05-14"), CaseType.CRIMINAL, computed_at=now
        ).complete

    assert complete("2024-05-01", "2024-05-31")  # it, a year before, the month before: kept
    assert not complete("2024-03-01", "2024-03-31")  # its year-on-year base (March 2023) is gone
    assert not complete("2023-03-01", "2023-03-31")  # the period itself is gone
