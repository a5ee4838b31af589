"""The case ledger: filings and solves in daily buckets, queried per period in O(days).

Pure and in memory; the agents will back each dict of :class:`LedgerState` with a Faust table.
Days are local calendar days in the city's time zone (convert event times with
:func:`~streams.clearance.periods.local_date` first).

Key scheme
----------
Every dict is keyed by a string of ``|``-separated fields; days are ISO dates (they sort as
strings). Ids are escaped (``%`` -> ``%25``, ``|`` -> ``%7C``) so a field never contains the
separator. A *series* is ``<case_type>|<region>|<zone>``; a case with no known zone (or
region) is counted under ``unknown``, and so in every total as well.

``counts`` (int), the daily buckets::

    filed|<series>|<F>            cases filed on day F
    cleared|<series>|<F>          of those, solved so far (on any day)
    cleared_on|<series>|<F>|<S>   of those, solved on day S (S >= F)
    solved|<series>|<S>           cases solved on day S, whatever their filing day

``series`` (int): ``<series>`` -> cases filed in it; the index that lets a query visit only the
series that exist instead of scanning every key.

``meta`` (int): ``latest_solve`` and ``horizon`` (date ordinals), ``anomaly|<outcome>``
(anomalous events by :class:`CaseOutcome`).

``cases`` (str): ``<case_id>`` -> ``<case_type>|<region>|<zone>|<F>|<S or empty>``.

``parked`` (str): ``<case_id>`` -> ``<S>``, a solve that arrived before its case's filing.

``facets`` and ``incidents``, and more ``counts``: incidents reported and first arrivals
within target (:mod:`streams.clearance.incidents`, reached as :attr:`CaseLedger.incidents`).

Rules
-----
- Cohort clearance as of day D: of the cases filed in the period, those solved on or before D.
  Figures are as known on D: filings after D and solves after D are not counted, so cleared
  never exceeds filed. ``cleared`` per filing day keeps the common query (D at or after the
  latest solve) to one lookup per day; an earlier D walks the ``cleared_on`` days from
  whichever end is nearer.
- The first filing of a case wins; a second is a ``duplicate_filing`` anomaly and changes
  nothing. The first solve wins; a second is a ``duplicate_solve`` anomaly.
- A solve for a case not (yet) filed is an ``unknown_case`` anomaly, counted once, and is
  parked: if the filing arrives later the solve is applied then (outcome ``filed_and_solved``).
  A further solve for a parked case is a ``duplicate_solve``.
- A solve dated before its filing is a ``solved_before_filed`` anomaly and counts as solved on
  the filing day: a case cannot be cleared before it exists, and the cohort stays within 0-100%.
- Pruning keeps at least :data:`RETAINED_MONTHS` months: :meth:`CaseLedger.prune` sets the
  horizon to the first day of the month that many months before today's month, drops buckets
  whose (first) day is before it, solved cases solved before it and parked solves dated before
  it. Open cases are kept whatever their age, so a cold case solved years later still counts
  as solved on its solve day. Nothing is written for days before the horizon.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

from schemas.clearance import UNKNOWN_ZONE
from streams.clearance.figures import ClearanceFigures, FiguresChange, compare
from streams.clearance.incidents import IncidentCounts
from streams.clearance.periods import (
    ONE_DAY,
    Period,
    first_of_month_shifted,
    previous_period,
    year_on_year,
)

#: History kept by :meth:`CaseLedger.prune`, in months before the current month: enough for
#: a period of up to a year, its year-on-year span and its previous period, with a month spare.
RETAINED_MONTHS: Final = 25

#: Region under which a case with no known region is counted (like ``UNKNOWN_ZONE``).
UNKNOWN_REGION: Final = "unknown"

_SEP: Final = "|"
_LATEST_SOLVE: Final = "latest_solve"
_HORIZON: Final = "horizon"


class CaseOutcome(StrEnum):
    """What the ledger did with a case event. A fixed set: it is a metric label."""

    FILED = "filed"
    FILED_AND_SOLVED = "filed_and_solved"
    DUPLICATE_FILING = "duplicate_filing"
    SOLVED = "solved"
    SOLVED_BEFORE_FILED = "solved_before_filed"
    DUPLICATE_SOLVE = "duplicate_solve"
    UNKNOWN_CASE = "unknown_case"


#: Outcomes counted as anomalies in ``meta`` (``anomaly|<outcome>``).
ANOMALIES: Final = frozenset(
    {
        CaseOutcome.DUPLICATE_FILING,
        CaseOutcome.SOLVED_BEFORE_FILED,
        CaseOutcome.DUPLICATE_SOLVE,
        CaseOutcome.UNKNOWN_CASE,
    }
)


def _escape(part: str) -> str:
    return part.replace("%", "%25").replace(_SEP, "%7C")


def _unescape(part: str) -> str:
    return part.replace("%7C", _SEP).replace("%25", "%")


def _key(*parts: str) -> str:
    return _SEP.join(parts)


def _series(case_type: str, region: str, zone: str) -> str:
    return _key(_escape(case_type), _escape(region), _escape(zone))


def _split_series(series: str) -> tuple[str, str, str]:
    case_type, region, zone = (_unescape(part) for part in series.split(_SEP))
    return case_type, region, zone


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """What the ledger remembers of one case (its value in ``cases``)."""

    case_type: str
    region: str
    zone: str
    filed_on: date
    solved_on: date | None = None

    @property
    def series(self) -> str:
        return _series(self.case_type, self.region, self.zone)

    def encode(self) -> str:
        solved = self.solved_on.isoformat() if self.solved_on else ""
        return _key(self.series, self.filed_on.isoformat(), solved)

    @classmethod
    def decode(cls, text: str) -> CaseRecord:
        case_type, region, zone, filed, solved = text.split(_SEP)
        return cls(
            case_type=_unescape(case_type),
            region=_unescape(region),
            zone=_unescape(zone),
            filed_on=date.fromisoformat(filed),
            solved_on=date.fromisoformat(solved) if solved else None,
        )


@dataclass(frozen=True, slots=True)
class LedgerState:
    """The ledger's whole state: plain dicts keyed by strings (see the module docstring)."""

    counts: MutableMapping[str, int] = field(default_factory=dict)
    series: MutableMapping[str, int] = field(default_factory=dict)
    meta: MutableMapping[str, int] = field(default_factory=dict)
    cases: MutableMapping[str, str] = field(default_factory=dict)
    parked: MutableMapping[str, str] = field(default_factory=dict)
    facets: MutableMapping[str, int] = field(default_factory=dict)
    incidents: MutableMapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Comparison:
    """A comparison span, its figures (as of the report's day) and the changes from them."""

    period: Period
    figures: ClearanceFigures
    change: FiguresChange


@dataclass(frozen=True, slots=True)
class ClearanceReport:
    """A period's figures with year-on-year (同比) and previous-period (环比) comparisons.

    All three spans are evaluated as of the same day, as the wire contract says of a
    comparison's ``cleared`` (schemas/clearance.py): last year's cohort has had a year longer
    to be solved, which is what "its rate as restated today" means. ``complete`` is false
    when part of a span lies before the pruning horizon, so some of its history is gone.
    """

    period: Period
    as_of: date
    figures: ClearanceFigures
    year_on_year: Comparison
    previous_period: Comparison
    complete: bool


def _days(first: date, last: date) -> Iterator[str]:
    """ISO days from ``first`` to ``last`` inclusive (none when ``last`` is earlier)."""
    for offset in range((last - first).days + 1):
        yield (first + timedelta(days=offset)).isoformat()


class CaseLedger:
    """Counts case filings and solves; answers cohort clearance figures for any period."""

    def __init__(self, state: LedgerState | None = None) -> None:
        self.state = state if state is not None else LedgerState()
        s = self.state
        #: Incidents reported and first arrivals, in the same buckets and horizon.
        self.incidents = IncidentCounts(s.counts, s.facets, s.incidents, s.meta)

    # -- events ---------------------------------------------------------------------------

    def case_filed(
        self,
        case_id: str,
        case_type: str,
        zone_id: str | None,
        region_id: str | None,
        filed_on: date,
    ) -> CaseOutcome:
        """Record a filing (立案/受理) on local day ``filed_on``."""
        if case_id in self.state.cases:
            return self._anomaly(CaseOutcome.DUPLICATE_FILING)
        record = CaseRecord(
            case_type=case_type,
            region=region_id or UNKNOWN_REGION,
            zone=zone_id or UNKNOWN_ZONE,
            filed_on=filed_on,
        )
        self.state.cases[case_id] = record.encode()
        self.state.series[record.series] = self.state.series.get(record.series, 0) + 1
        self._add(_key("filed", record.series, filed_on.isoformat()), filed_on)
        parked = self.state.parked.pop(case_id, None)
        if parked is None:
            return CaseOutcome.FILED
        self._solve(case_id, record, date.fromisoformat(parked))
        return CaseOutcome.FILED_AND_SOLVED

    def case_solved(self, case_id: str, solved_on: date) -> CaseOutcome:
        """Record a solve (破案) on local day ``solved_on``; never raises."""
        encoded = self.state.cases.get(case_id)
        if encoded is None:
            if case_id in self.state.parked:
                return self._anomaly(CaseOutcome.DUPLICATE_SOLVE)
            self.state.parked[case_id] = solved_on.isoformat()
            return self._anomaly(CaseOutcome.UNKNOWN_CASE)
        record = CaseRecord.decode(encoded)
        if record.solved_on is not None:
            return self._anomaly(CaseOutcome.DUPLICATE_SOLVE)
        return self._solve(case_id, record, solved_on)

    def _solve(self, case_id: str, record: CaseRecord, solved_on: date) -> CaseOutcome:
        outcome = CaseOutcome.SOLVED
        if solved_on < record.filed_on:
            outcome = self._anomaly(CaseOutcome.SOLVED_BEFORE_FILED)
            solved_on = record.filed_on
        self.state.cases[case_id] = CaseRecord(
            record.case_type, record.region, record.zone, record.filed_on, solved_on
        ).encode()
        filed, solved = record.filed_on.isoformat(), solved_on.isoformat()
        self._add(_key("cleared", record.series, filed), record.filed_on)
        self._add(_key("cleared_on", record.series, filed, solved), record.filed_on)
        self._add(_key("solved", record.series, solved), solved_on)
        meta = self.state.meta
        meta[_LATEST_SOLVE] = max(meta.get(_LATEST_SOLVE, 0), solved_on.toordinal())
        return outcome

    def _add(self, key: str, day: date) -> None:
        horizon = self.state.meta.get(_HORIZON)
        if horizon is not None and day.toordinal() < horizon:
            return  # pruned history: writing it would resurrect a partial bucket
        self.state.counts[key] = self.state.counts.get(key, 0) + 1

    def _anomaly(self, outcome: CaseOutcome) -> CaseOutcome:
        key = _key("anomaly", outcome.value)
        self.state.meta[key] = self.state.meta.get(key, 0) + 1
        return outcome

    # -- queries --------------------------------------------------------------------------

    def figures(
        self,
        period: Period,
        as_of: date,
        case_type: str,
        zone: str | None = None,
        region: str | None = None,
    ) -> ClearanceFigures:
        """Filed, cohort cleared as of ``as_of`` and solved in ``period`` for one case type,
        over all zones or one zone (``"unknown"`` included) and/or one region."""
        last = min(period.end, as_of)
        filed = cleared = solved = 0
        for series in self._matching_series(case_type, zone, region):
            for day in _days(period.start, last):
                filed += self.state.counts.get(_key("filed", series, day), 0)
                cleared += self._cleared_as_of(series, day, as_of)
                solved += self.state.counts.get(_key("solved", series, day), 0)
        return ClearanceFigures(filed=filed, cleared=cleared, solved_in_period=solved)

    def _matching_series(self, case_type: str, zone: str | None, region: str | None) -> list[str]:
        matching = []
        for series in self.state.series:
            series_type, series_region, series_zone = _split_series(series)
            if series_type != case_type:
                continue
            if zone is not None and series_zone != zone:
                continue
            if region is not None and series_region != region:
                continue
            matching.append(series)
        return matching

    def _cleared_as_of(self, series: str, filed_day: str, as_of: date) -> int:
        """Cases of one series filed on ``filed_day`` and solved on or before ``as_of``."""
        counts = self.state.counts
        total = counts.get(_key("cleared", series, filed_day), 0)
        latest = date.fromordinal(self.state.meta.get(_LATEST_SOLVE, 1))
        if total == 0 or as_of >= latest:
            return total
        filed_on = date.fromisoformat(filed_day)
        # Walk the solve days from the nearer end: up to as_of, or back from the latest solve.
        if (as_of - filed_on).days < (latest - as_of).days:
            return sum(
                counts.get(_key("cleared_on", series, filed_day, day), 0)
                for day in _days(filed_on, as_of)
            )
        later = sum(
            counts.get(_key("cleared_on", series, filed_day, day), 0)
            for day in _days(max(filed_on, as_of + ONE_DAY), latest)
        )
        return total - later

    def report(
        self,
        period: Period,
        as_of: date,
        case_type: str,
        zone: str | None = None,
        region: str | None = None,
    ) -> ClearanceReport:
        """The period's figures and both comparisons, every span as of ``as_of``."""
        current = self.figures(period, as_of, case_type, zone, region)

        def compared(span: Period) -> Comparison:
            base = self.figures(span, as_of, case_type, zone, region)
            return Comparison(period=span, figures=base, change=compare(current, base))

        yoy, previous = year_on_year(period), previous_period(period)
        return ClearanceReport(
            period=period,
            as_of=as_of,
            figures=current,
            year_on_year=compared(yoy),
            previous_period=compared(previous),
            complete=all(self.covers(span) for span in (period, yoy, previous)),
        )

    def covers(self, period: Period) -> bool:
        """True when no part of ``period`` has been pruned."""
        horizon = self.state.meta.get(_HORIZON)
        return horizon is None or period.start.toordinal() >= horizon

    def anomalies(self) -> dict[CaseOutcome, int]:
        meta = self.state.meta
        return {outcome: meta.get(_key("anomaly", outcome.value), 0) for outcome in ANOMALIES}

    @property
    def parked_solves(self) -> int:
        return len(self.state.parked)

    # -- retention ------------------------------------------------------------------------

    def prune(self, today: date) -> int:
        """Drop history before the horizon (see the module docstring); returns entries dropped."""
        proposed = first_of_month_shifted(today, -RETAINED_MONTHS).toordinal()
        horizon_ordinal = max(self.state.meta.get(_HORIZON, proposed), proposed)
        self.state.meta[_HORIZON] = horizon_ordinal
        horizon = date.fromordinal(horizon_ordinal).isoformat()  # ISO days compare as strings

        counts, cases, parked = self.state.counts, self.state.cases, self.state.parked
        # A bucket key's first day is its filing day (its solve day for "solved", the report
        # day for the incident buckets).
        stale_counts = [k for k in counts if k.split(_SEP)[4] < horizon]
        stale_cases = [k for k, v in cases.items() if "" < _solved_day(v) < horizon]  # open: ""
        stale_parked = [k for k, v in parked.items() if v < horizon]
        for key in stale_counts:
            del counts[key]
        for key in stale_cases:
            del cases[key]
        for key in stale_parked:
            del parked[key]
        dropped_ids = self.incidents.prune(horizon)
        return len(stale_counts) + len(stale_cases) + len(stale_parked) + dropped_ids


def _solved_day(encoded_case: str) -> str:
    """The ISO solve day of an encoded case record, empty while the case is open."""
    return encoded_case.rsplit(_SEP, 1)[1]
