"""Incidents reported and first arrivals in the clearance ledger: counting, dedup, correction,
pruning, the /clearance section, and the facts the region core sends for them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from schemas.clearance import ClearanceSnapshot
from schemas.incidents import CaseType, IncidentCategory, IncidentUpdate, UpdateKind
from schemas.units import Force
from streams.clearance.incidents import IncidentOutcome, ResponseFigures
from streams.clearance.intake import apply_fact
from streams.clearance.ledger import RETAINED_MONTHS, CaseLedger
from streams.clearance.periods import Period
from streams.clearance.publish import snapshot
from streams.region.events import (
    LEDGER_FACT,
    AnyEvent,
    ArrivalFact,
    IncidentEvent,
    IncidentFacts,
    ReportedFact,
    UpdateEvent,
)
from streams.region.processing import RegionOutput
from tests.support.region_core import CENTRE, T0, Harness, s

FEB = Period(date(2025, 2, 1), date(2025, 2, 28))
AS_OF = date(2025, 3, 1)


def arrive(
    ledger: CaseLedger,
    incident_id: str,
    on: str,
    within: bool,
    tier: str = "3min",
    zone: str | None = "z01",
) -> IncidentOutcome:
    return ledger.incidents.first_arrival(
        incident_id, tier, zone, "hailar", date.fromisoformat(on), within
    )


def report(ledger: CaseLedger, incident_id: str, on: str, category: str = "traffic") -> None:
    ledger.incidents.reported(incident_id, category, "z01", "hailar", date.fromisoformat(on))


def test_first_arrivals_within_target_per_tier_and_period() -> None:
    ledger = CaseLedger()
    arrive(ledger, "I1", "2025-02-03", True)
    arrive(ledger, "I2", "2025-02-10", False)
    arrive(ledger, "I3", "2025-02-28", True, tier="1min")
    arrive(ledger, "I4", "2025-03-01", True)  # after the period
    arrive(ledger, "I5", "2025-01-31", False)  # before it
    assert ledger.incidents.response(FEB, AS_OF) == {
        "1min": ResponseFigures(1, 1),
        "3min": ResponseFigures(2, 1),
    }
    # As known on 10 February: the later days are not counted yet.
    assert ledger.incidents.response(FEB, date(2025, 2, 9)) == {"3min": ResponseFigures(1, 1)}


def test_scopes_zone_region_and_unknown_zone() -> None:
    ledger = CaseLedger()
    arrive(ledger, "I1", "2025-02-03", True, zone="z01")
    arrive(ledger, "I2", "2025-02-03", False, zone=None)
    assert ledger.incidents.response(FEB, AS_OF, zone="z01") == {"3min": ResponseFigures(1, 1)}
    assert ledger.incidents.response(FEB, AS_OF, zone="unknown") == {"3min": ResponseFigures(1, 0)}
    assert ledger.incidents.response(FEB, AS_OF, region="hailar") == {"3min": ResponseFigures(2, 1)}
    assert ledger.incidents.response(FEB, AS_OF, region="other") == {}


def test_a_replayed_fact_counts_once_and_a_correction_replaces_the_first() -> None:
    ledger = CaseLedger()
    assert arrive(ledger, "I1", "2025-02-03", False) is IncidentOutcome.COUNTED
    assert arrive(ledger, "I1", "2025-02-03", False) is IncidentOutcome.DUPLICATE
    assert ledger.incidents.response(FEB, AS_OF) == {"3min": ResponseFigures(1, 0)}
    # A late event showed an earlier arrival, within target: the incident is counted once.
    assert arrive(ledger, "I1", "2025-02-03", True) is IncidentOutcome.CORRECTED
    assert ledger.incidents.response(FEB, AS_OF) == {"3min": ResponseFigures(1, 1)}
    report(ledger, "I1", "2025-02-03")
    assert (
        ledger.incidents.reported("I1", "traffic", "z01", "hailar", date(2025, 2, 3))
        is IncidentOutcome.DUPLICATE
    )
    assert ledger.incidents.reported_by_category(FEB, AS_OF) == {"traffic": 1}


def test_incidents_reported_per_category() -> None:
    ledger = CaseLedger()
    for n in range(3):
        report(ledger, f"T{n}", f"2025-02-0{n + 1}")
    report(ledger, "C1", "2025-02-14", category="criminal")
    report(ledger, "X1", "2025-03-14", category="criminal")
    assert ledger.incidents.reported_by_category(FEB, AS_OF) == {"criminal": 1, "traffic": 3}


def test_pruning_drops_old_buckets_and_ids_and_never_writes_before_the_horizon() -> None:
    ledger = CaseLedger()
    arrive(ledger, "OLD", "2023-01-10", True)
    report(ledger, "OLD", "2023-01-10")
    arrive(ledger, "NEW", "2025-02-10", True)
    report(ledger, "NEW", "2025-02-10")
    today = date(2025, 3, 1)
    dropped = ledger.prune(today)
    assert dropped == 2 + 3  # the old incident's 2 ids and its 3 buckets
    horizon = date(2023, 2, 1)  # RETAINED_MONTHS before March 2025
    assert RETAINED_MONTHS == 25
    old = Period(date(2023, 1, 1), date(2023, 1, 31))
    assert ledger.incidents.response(old, today) == {}
    assert ledger.incidents.reported_by_category(old, today) == {}
    assert ledger.incidents.response(FEB, today) == {"3min": ResponseFigures(1, 1)}
    assert all("OLD" not in key for key in ledger.state.incidents)
    # A replay of the old incident after pruning writes nothing before the horizon.
    arrive(ledger, "OLD", "2023-01-10", True)
    assert not [k for k in ledger.state.counts if k.rsplit("|", 1)[1] < horizon.isoformat()]


def test_ids_with_the_separator_are_escaped() -> None:
    ledger = CaseLedger()
    arrive(ledger, "a|b", "2025-02-03", True)
    arrive(ledger, "a", "2025-02-03", True)
    assert ledger.incidents.response(FEB, AS_OF) == {"3min": ResponseFigures(2, 2)}


def test_snapshot_response_section_only_when_asked() -> None:
    ledger = CaseLedger()
    arrive(ledger, "I1", "2025-02-03", True)
    arrive(ledger, "I2", "2025-02-04", True)
    arrive(ledger, "I3", "2025-02-05", False)
    report(ledger, "I1", "2025-02-03")
    at = datetime(2025, 3, 1, tzinfo=UTC)
    plain = snapshot(ledger, FEB, AS_OF, CaseType.CRIMINAL, computed_at=at)
    assert plain.response is None
    assert plain.incidents is None
    full = snapshot(ledger, FEB, AS_OF, CaseType.CRIMINAL, computed_at=at, include_response=True)
    data = full.model_dump(mode="json")
    assert data["response"] == [
        {
            "tier": "3min",
            "first_arrivals": 3,
            "within_target": 2,
            "share": {"exact": "200/3", "value": 200 / 3, "presented": "66.67"},
        }
    ]
    assert data["incidents"] == [{"category": "traffic", "reported": 1}]
    assert ClearanceSnapshot.model_validate(data) == full


def test_facts_decode_from_the_cases_topic_and_apply() -> None:
    ledger = CaseLedger()
    at = datetime(2025, 2, 3, 23, 30, tzinfo=UTC)
    arrival = ArrivalFact(
        incident_id="I1",
        zone_id="z01",
        region_id="hailar",
        at=at,
        tier="1min",
        target_s=60,
        seconds=42.0,
        within_target=True,
    )
    reported = ReportedFact(
        incident_id="I1",
        category=IncidentCategory.FIRE,
        zone_id="z01",
        region_id="hailar",
        at=at,
    )
    for fact in (arrival, reported, arrival):
        decoded = LEDGER_FACT.validate_json(fact.to_bytes())
        assert decoded == fact
        apply_fact(ledger, decoded, date(2025, 2, 4))  # the city's local day
    assert ledger.incidents.response(FEB, AS_OF) == {"1min": ResponseFigures(1, 1)}
    assert ledger.incidents.reported_by_category(FEB, AS_OF) == {"fire": 1}


def _incident(incident_id: str) -> IncidentEvent:
    return IncidentEvent(
        incident=IncidentFacts(
            incident_id=incident_id,
            reported_at=T0 + s(10),
            category=IncidentCategory.PUBLIC_ORDER,
            priority=2,
            lat=CENTRE[0],
            lon=CENTRE[1],
            zone_id=None,
        )
    )


def _arrived(unit_id: str | None, at: timedelta) -> UpdateEvent:
    update = IncidentUpdate(
        incident_id="INC-1", at=T0 + at, kind=UpdateKind.ARRIVED, unit_id=unit_id
    )
    return UpdateEvent(update=update)


def _process(h: Harness, event: AnyEvent) -> list[RegionOutput]:
    return [h.processor.process(routed) for routed in h.router.route(event).forward]


def test_region_core_sends_one_reported_and_one_arrival_fact_per_incident() -> None:
    h = Harness()
    h.unit("st-near", Force.STATION, 200, at=s(0))
    outputs = _process(h, _incident("INC-1"))
    (reported,) = [fact for output in outputs for fact in output.cases]
    assert isinstance(reported, ReportedFact)
    assert (reported.incident_id, reported.zone_id, reported.region_id, reported.at) == (
        "INC-1",
        "z05",
        "hailar",
        T0 + s(10),
    )
    assert [f for o in _process(h, _incident("INC-1")) for f in o.cases] == []  # a repeat
    (record,) = [a for output in outputs for a in output.dispatch.assignments]
    (fact,) = [f for o in _process(h, _arrived(record.unit_id, s(40))) for f in o.cases]
    assert isinstance(fact, ArrivalFact)
    assert (fact.incident_id, fact.within_target, fact.seconds, fact.tier) == (
        "INC-1",
        True,
        30.0,
        h.processor.state("hailar").response.incidents["INC-1"].tier,
    )
    assert (fact.target_s, fact.at, fact.zone_id) == (record.target_s, T0 + s(10), "z05")
    # A later arrival changes nothing: the first arrival stands, no second fact.
    assert [f for o in _process(h, _arrived(record.unit_id, s(50))) for f in o.cases] == []
