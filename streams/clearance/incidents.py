"""Incidents reported and first arrivals within target, in the ledger's daily buckets. Pure.

The same state and rules as the case ledger (:mod:`streams.clearance.ledger`): days are local
calendar days of the incident's report time in the city's time zone, every key is a string
of ``|``-separated escaped fields, and :meth:`CaseLedger.prune` drops the buckets and ids
before its horizon (the bucket keys below have their day as fifth field, like the case
buckets, so the same rule prunes them).

``counts`` (int)::

    arrivals|<tier>|<region>|<zone>|<D>      incidents reported on day D with a first arrival
    within|<tier>|<region>|<zone>|<D>        of those, the first arrival was within target
    reported|<category>|<region>|<zone>|<D>  incidents reported on day D

``facets`` (int): ``arrivals|<tier>|<region>|<zone>`` and ``reported|<category>|<region>|
<zone>`` -> 1, the index a query walks instead of every key (a few hundred at most: tiers or
categories x zones; never pruned).

``incidents`` (str), what makes a replay harmless (keyed by incident id, like cases):
``reported|<id>`` -> ``<D>``; ``arrival|<id>`` -> ``<tier>|<region>|<zone>|<D>|<0 or 1>``.

Rules: the first report of an incident counts, a repeat is a ``duplicate``. A first arrival
counts once per incident; the same fact again is a ``duplicate``; a different one (the
response engine corrected the first arrival after a late event) replaces it (``corrected``):
the old buckets are decremented and the new ones incremented, so each incident is counted
once, as last known. The tier is the incident's circle tier (see streams/response/targets.py).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

from schemas.clearance import UNKNOWN_ZONE
from streams.clearance.periods import Period

_UNKNOWN_REGION: Final = "unknown"  # as the case ledger's UNKNOWN_REGION
_SEP: Final = "|"
_HORIZON: Final = "horizon"  # the case ledger's pruning horizon in ``meta`` (a date ordinal)


class IncidentOutcome(StrEnum):
    """What the ledger did with an incident fact. A fixed set: it is a metric label."""

    COUNTED = "counted"
    CORRECTED = "corrected"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class ResponseFigures:
    """First arrivals of one tier in a period, and how many were within target."""

    first_arrivals: int
    within_target: int


def _escape(part: str) -> str:
    return part.replace("%", "%25").replace(_SEP, "%7C")


def _unescape(part: str) -> str:
    return part.replace("%7C", _SEP).replace("%25", "%")


def _key(*parts: str) -> str:
    return _SEP.join(parts)


def _days(first: date, last: date) -> Iterator[str]:
    for offset in range((last - first).days + 1):
        yield (first + timedelta(days=offset)).isoformat()


class IncidentCounts:
    """Counts incidents reported per category and first arrivals per tier, per day and zone."""

    def __init__(
        self,
        counts: MutableMapping[str, int],
        facets: MutableMapping[str, int],
        incidents: MutableMapping[str, str],
        meta: MutableMapping[str, int],
    ) -> None:
        self.counts, self.facets, self.incidents, self.meta = counts, facets, incidents, meta

    # -- events ---------------------------------------------------------------------------

    def reported(
        self, incident_id: str, category: str, zone_id: str | None, region_id: str | None, day: date
    ) -> IncidentOutcome:
        key = _key("reported", _escape(incident_id))
        if key in self.incidents:
            return IncidentOutcome.DUPLICATE
        self.incidents[key] = day.isoformat()
        self._bump(_key("reported", _escape(category), *_place(region_id, zone_id)), day, 1)
        return IncidentOutcome.COUNTED

    def first_arrival(
        self,
        incident_id: str,
        tier: str,
        zone_id: str | None,
        region_id: str | None,
        day: date,
        within_target: bool,
    ) -> IncidentOutcome:
        key = _key("arrival", _escape(incident_id))
        series = _key(_escape(tier), *_place(region_id, zone_id))
        encoded = _key(series, day.isoformat(), "1" if within_target else "0")
        before = self.incidents.get(key)
        if before == encoded:
            return IncidentOutcome.DUPLICATE
        if before is not None:
            self._arrival_buckets(before, -1)
        self.incidents[key] = encoded
        self._arrival_buckets(encoded, 1)
        return IncidentOutcome.COUNTED if before is None else IncidentOutcome.CORRECTED

    def _arrival_buckets(self, encoded: str, delta: int) -> None:
        tier, region, zone, day, within = encoded.split(_SEP)
        series, on = _key(tier, region, zone), date.fromisoformat(day)
        self._bump(_key("arrivals", series), on, delta)
        if within == "1":
            self._bump(_key("within", series), on, delta)

    def _bump(self, facet: str, day: date, delta: int) -> None:
        horizon = self.meta.get(_HORIZON)
        if horizon is not None and day.toordinal() < horizon:
            return  # pruned history: writing it would resurrect a partial bucket
        if facet.split(_SEP, 1)[0] != "within":  # "within" is read through its arrivals facet
            self.facets[facet] = 1
        key = _key(facet, day.isoformat())
        value = self.counts.get(key, 0) + delta
        if value > 0:
            self.counts[key] = value
        else:
            self.counts.pop(key, None)

    # -- queries --------------------------------------------------------------------------

    def response(
        self, period: Period, as_of: date, zone: str | None = None, region: str | None = None
    ) -> dict[str, ResponseFigures]:
        """Per tier: incidents reported in the period (up to ``as_of``) with a first arrival,
        and how many of those arrivals were within target."""
        out: dict[str, ResponseFigures] = {}
        for facet, tier in self._facets("arrivals", zone, region):
            series = facet.split(_SEP, 1)[1]
            arrivals = self._sum(facet, period, as_of)
            within = self._sum(_key("within", series), period, as_of)
            if arrivals:
                was = out.get(tier, ResponseFigures(0, 0))
                out[tier] = ResponseFigures(
                    was.first_arrivals + arrivals, was.within_target + within
                )
        return dict(sorted(out.items()))

    def reported_by_category(
        self, period: Period, as_of: date, zone: str | None = None, region: str | None = None
    ) -> dict[str, int]:
        """Incidents reported in the period (up to ``as_of``), per category."""
        out: dict[str, int] = {}
        for facet, category in self._facets("reported", zone, region):
            count = self._sum(facet, period, as_of)
            if count:
                out[category] = out.get(category, 0) + count
        return dict(sorted(out.items()))

    def _facets(self, kind: str, zone: str | None, region: str | None) -> Iterator[tuple[str, str]]:
        for facet in list(self.facets):
            facet_kind, name, facet_region, facet_zone = facet.split(_SEP)
            if facet_kind != kind:
                continue
            if zone is not None and _unescape(facet_zone) != zone:
                continue
            if region is not None and _unescape(facet_region) != region:
                continue
            yield facet, _unescape(name)

    def _sum(self, facet: str, period: Period, as_of: date) -> int:
        last = min(period.end, as_of)
        return sum(self.counts.get(_key(facet, day), 0) for day in _days(period.start, last))

    # -- retention ------------------------------------------------------------------------

    def prune(self, horizon: str) -> int:
        """Drop the ids of incidents reported before ``horizon`` (an ISO day); the case
        ledger's prune drops the buckets. Returns the ids dropped."""
        stale = [k for k, v in self.incidents.items() if _day_of(k, v) < horizon]
        for key in stale:
            del self.incidents[key]
        return len(stale)


def _place(region_id: str | None, zone_id: str | None) -> tuple[str, str]:
    return _escape(region_id or _UNKNOWN_REGION), _escape(zone_id or UNKNOWN_ZONE)


def _day_of(key: str, value: str) -> str:
    """The ISO report day of an ``incidents`` entry."""
    return value if key.startswith("reported|") else value.split(_SEP)[3]
