"""One fact from ``<app>-cases`` applied to the ledger. Pure: the agent passes its tables."""

from __future__ import annotations

from datetime import date
from typing import Final

from streams.clearance.incidents import IncidentOutcome
from streams.clearance.ledger import CaseLedger, CaseOutcome
from streams.region.events import ArrivalFact, CaseEvent, LedgerFact

#: Outcomes worth a log line: a case anomaly. A repeated incident fact is what a replay
#: after a restart sends (at-least-once), so it is only counted in the metric.
EXPECTED: Final = frozenset(
    {
        CaseOutcome.FILED,
        CaseOutcome.SOLVED,
        CaseOutcome.FILED_AND_SOLVED,
        IncidentOutcome.COUNTED,
        IncidentOutcome.CORRECTED,
        IncidentOutcome.DUPLICATE,
    }
)


def apply_fact(ledger: CaseLedger, fact: LedgerFact, day: date) -> CaseOutcome | IncidentOutcome:
    """Apply ``fact``, whose event time falls on local day ``day``; never raises."""
    if isinstance(fact, CaseEvent):
        if fact.kind == "case_filed":
            return ledger.case_filed(
                fact.case_id, fact.case_type.value, fact.zone_id, fact.region_id, day
            )
        return ledger.case_solved(fact.case_id, day)
    if isinstance(fact, ArrivalFact):
        return ledger.incidents.first_arrival(
            fact.incident_id, fact.tier, fact.zone_id, fact.region_id, day, fact.within_target
        )
    return ledger.incidents.reported(
        fact.incident_id, fact.category.value, fact.zone_id, fact.region_id, day
    )
