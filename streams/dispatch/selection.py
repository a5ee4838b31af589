"""Selection: which free unit fills each open slot of an incident's run card.

:func:`choose` makes one :class:`Choice` per open slot, in slot order, never the same unit
twice. For a slot it considers the **eligible** units:

1. the unit's force is one of the slot's forces **and** in the capability matrix for the
   incident's category;
2. its reported status is ``available`` (the index holds units the region considers free; a
   terminal that still says ``en_route`` is not taken);
3. its telemetry is fresh: ``now - last_seen <= stale_after_s``;
4. it is not in ``exclude`` (it declined or timed out on this incident) and was not chosen for
   an earlier slot of the same call;
5. volunteers only where :meth:`DispatchPolicy.volunteers_allowed` (never criminal, fire or a
   violent call) **and** only when a community unit is on the incident: in ``assigned_forces``
   or chosen for an earlier slot of the same call.

It ranks them by **ETA** (:func:`~streams.dispatch.policy.eta_s`: distance x detour factor /
the force's speed), not by zone: the nearest unit of the region wins across zone borders,
except for the **own-zone near tie** — a unit in the incident's zone beats a unit of another
zone whose ETA is at most ``own_zone_preference_s`` better. Formally the rank key is
``(eta - own_zone_preference_s if own zone else eta, other zone, eta, unit_id)``, smallest
first, so equal cases resolve the same way on every replay.

Then **coverage**: a unit *at a staffed post* (its telemetry names a post of the city that
:meth:`City.post_staffed` says is staffed at ``now``, and it stands within ``post_radius_m``
great-circle metres of the post) is chosen only when no other eligible unit — not at a
staffed post — has an ETA within ``post_margin_s`` of the post unit's. In terms of the best
post unit *p* (by the rank key) and the smallest ETA *m* of the units not at a staffed post:
the slot gets the best unit not at a post when ``m <= eta(p) + post_margin_s``, else *p*, and
the choice names the post it uncovers. A post outside its staffed window does not count: its
unit is an ordinary unit. Posts are judged unit by unit: selection does not know whether
another unit stays at the post (the index holds free units only).

Reasons (``Choice.reason``, the fixed set :data:`REASONS`):

============================== ===============================================================
``nearest_eta``                the eligible unit with the smallest ETA
``own_zone_near_tie``          an own-zone unit, although a unit of another zone has a smaller
                               ETA (by at most ``own_zone_preference_s``)
``post_unit_spared``           a unit at a staffed post ranked first but another unit could
                               arrive within ``post_margin_s`` of it: the post stays covered
``post_unit_only_option``      a unit at a staffed post, because no other eligible unit can
                               arrive within ``post_margin_s`` of it (there may be none at
                               all); ``post_uncovered`` names the post
``no_eligible_unit``           no unit is eligible now (``unit`` None; retry when one frees)
``volunteer_needs_community``  a volunteer slot while no community unit is on the incident
``volunteer_not_allowed``      a volunteer slot on a call volunteers never go to
``no_capable_force``           none of the slot's forces may be sent to this category
                               (e.g. ``invalid``, ``non_police``)
============================== ===============================================================

**Cost.** Units come from :meth:`UnitIndex.nearest` in increasing distance, restricted to the
slot's forces. Every unit at distance ``d`` or more has an ETA of at least
``d x detour / v_max`` (``v_max`` the fastest speed among the slot's forces); the walk stops
as soon as that bound exceeds the last ETA that could still change the decision (the best
rank key + ``own_zone_preference_s``, and, while a post unit would be chosen, its ETA +
``post_margin_s``). The result is the same as ranking every unit of the region, which the
tests check against a brute-force implementation.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from schemas.incidents import IncidentCategory
from schemas.units import Force, UnitStatus
from streams.city.geo import distance_m
from streams.city.model import City
from streams.dispatch.policy import DispatchPolicy, SlotSpec
from streams.dispatch.spatial import UnitIndex

__all__ = [
    "REASONS",
    "Choice",
    "IncidentView",
    "UnitView",
    "at_staffed_post",
    "choose",
    "is_fresh",
]

NEAREST_ETA: Final = "nearest_eta"
OWN_ZONE_NEAR_TIE: Final = "own_zone_near_tie"
POST_UNIT_SPARED: Final = "post_unit_spared"
POST_UNIT_ONLY_OPTION: Final = "post_unit_only_option"
NO_ELIGIBLE_UNIT: Final = "no_eligible_unit"
VOLUNTEER_NEEDS_COMMUNITY: Final = "volunteer_needs_community"
VOLUNTEER_NOT_ALLOWED: Final = "volunteer_not_allowed"
NO_CAPABLE_FORCE: Final = "no_capable_force"

#: Every reason :func:`choose` gives. A unit is chosen with the first four.
REASONS: Final = (
    NEAREST_ETA,
    OWN_ZONE_NEAR_TIE,
    POST_UNIT_SPARED,
    POST_UNIT_ONLY_OPTION,
    NO_ELIGIBLE_UNIT,
    VOLUNTEER_NEEDS_COMMUNITY,
    VOLUNTEER_NOT_ALLOWED,
    NO_CAPABLE_FORCE,
)


@dataclass(frozen=True, slots=True)
class UnitView:
    """What selection needs of a unit: its latest telemetry as the region holds it.

    ``zone_id``: the zone the unit stands in (None outside every zone); ``post_id``: the post
    its telemetry names, if any.
    """

    unit_id: str
    force: Force
    lat: float
    lon: float
    status: UnitStatus
    last_seen: datetime
    zone_id: str | None = None
    post_id: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentView:
    """What selection needs of an incident. ``zone_id`` None: outside every zone."""

    incident_id: str
    category: IncidentCategory
    priority: int
    lat: float
    lon: float
    zone_id: str | None


@dataclass(frozen=True, slots=True)
class Choice:
    """The decision for one slot. ``unit`` None: nothing chosen (see ``reason``).

    ``distance_m`` is the straight-line distance (the index's metric), ``route_distance_m``
    that times the detour factor (the "estimated route distance" of an assignment record),
    ``eta_s`` the ETA. ``post_uncovered``: the post the chosen unit leaves empty, if any.
    """

    slot_index: int
    unit: UnitView | None
    eta_s: float | None
    distance_m: float | None
    reason: str
    post_uncovered: str | None = None
    route_distance_m: float | None = None


def is_fresh(unit: UnitView, now: datetime, policy: DispatchPolicy) -> bool:
    """Whether the unit's telemetry is fresh enough to dispatch on."""
    return (now - unit.last_seen).total_seconds() <= policy.stale_after_s


def at_staffed_post(unit: UnitView, now: datetime, policy: DispatchPolicy, city: City) -> bool:
    """Whether the unit stands at a post of the city staffed at ``now``: its ``post_id``
    names the post, and it is within ``post_radius_m`` (great circle) of it."""
    if unit.post_id is None:
        return False
    post = city.posts.get(unit.post_id)
    if post is None or not city.post_staffed(post.post_id, now):
        return False
    return distance_m(unit.lat, unit.lon, post.lat, post.lon) <= policy.post_radius_m


#: Slack on the early-stop bound, seconds: far above floating-point rounding of ETAs.
_SLACK_S: Final = 1e-6

# A ranked candidate: (rank key, unit, eta, distance).
_Key = tuple[float, int, float, str]
_Candidate = tuple[_Key, UnitView, float, float]


def choose(
    incident: IncidentView,
    open_slots: Sequence[tuple[int, SlotSpec]],
    index: UnitIndex,
    *,
    now: datetime,
    policy: DispatchPolicy,
    city: City,
    exclude: Set[str] = frozenset(),
    assigned_forces: Collection[Force] = (),
) -> list[Choice]:
    """One :class:`Choice` per open slot, in the order given (see the module docstring).

    ``open_slots``: (slot index in the run card, slot) pairs still to fill; ``exclude``: units
    that declined or timed out on this incident; ``assigned_forces``: forces of the units
    already assigned to it by earlier calls. Pure: the index is not modified; the caller
    commits the chosen units.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("choose needs a timezone-aware now")
    category = IncidentCategory(incident.category)
    capable = policy.capabilities[category]
    volunteers_ok = policy.volunteers_allowed(category, incident.priority)
    community_on_incident = Force.COMMUNITY in assigned_forces
    taken: set[str] = set()
    post_cache: dict[str, bool] = {}
    choices: list[Choice] = []
    for slot_index, slot in open_slots:
        forces = slot.forces & capable
        if not forces:
            choices.append(_none(slot_index, NO_CAPABLE_FORCE))
            continue
        if Force.VOLUNTEER in forces and not (volunteers_ok and community_on_incident):
            forces = forces - {Force.VOLUNTEER}
            if not forces:
                reason = VOLUNTEER_NEEDS_COMMUNITY if volunteers_ok else VOLUNTEER_NOT_ALLOWED
                choices.append(_none(slot_index, reason))
                continue
        choice = _choose_slot(
            incident,
            slot_index,
            forces,
            index,
            now=now,
            policy=policy,
            city=city,
            skip=exclude,
            taken=taken,
            post_cache=post_cache,
        )
        choices.append(choice)
        if choice.unit is not None:
            taken.add(choice.unit.unit_id)
            if choice.unit.force is Force.COMMUNITY:
                community_on_incident = True
    return choices


def _none(slot_index: int, reason: str) -> Choice:
    return Choice(slot_index=slot_index, unit=None, eta_s=None, distance_m=None, reason=reason)


def _choose_slot(
    incident: IncidentView,
    slot_index: int,
    forces: frozenset[Force],
    index: UnitIndex,
    *,
    now: datetime,
    policy: DispatchPolicy,
    city: City,
    skip: Set[str],
    taken: Set[str],
    post_cache: dict[str, bool],
) -> Choice:
    detour = policy.detour_factor
    speeds = policy.speed_mps
    v_max = max(speeds[f] for f in forces)
    preference = policy.own_zone_preference_s
    margin = policy.post_margin_s
    stale_after = policy.stale_after_s
    own_zone = incident.zone_id

    best_free: _Candidate | None = None  # best rank among units not at a staffed post
    best_post: _Candidate | None = None  # best rank among units at a staffed post
    min_free_eta = math.inf
    min_eta = math.inf  # over every eligible unit, for the reason
    stop_above = math.inf  # ETA bound beyond which no unit can change the decision

    for unit, d in index.nearest(incident.lat, incident.lon, forces=forces):
        if d * detour / v_max > stop_above + _SLACK_S:
            break
        if (
            unit.force not in forces
            or unit.status is not UnitStatus.AVAILABLE
            or unit.unit_id in skip
            or unit.unit_id in taken
            or (now - unit.last_seen).total_seconds() > stale_after
        ):
            continue
        eta = d * detour / speeds[unit.force]
        own = own_zone is not None and unit.zone_id == own_zone
        key: _Key = (eta - preference if own else eta, 0 if own else 1, eta, unit.unit_id)
        candidate: _Candidate = (key, unit, eta, d)
        min_eta = min(min_eta, eta)
        if _at_post_cached(unit, now, policy, city, post_cache):
            if best_post is None or key < best_post[0]:
                best_post = candidate
        else:
            min_free_eta = min(min_free_eta, eta)
            if best_free is None or key < best_free[0]:
                best_free = candidate
        stop_above = _stop_above(best_free, best_post, min_free_eta, preference, margin)

    if best_free is None and best_post is None:
        return _none(slot_index, NO_ELIGIBLE_UNIT)
    if best_post is not None and (best_free is None or min_free_eta > best_post[2] + margin):
        post_id = best_post[1].post_id
        return _chosen(slot_index, best_post, POST_UNIT_ONLY_OPTION, policy, post_uncovered=post_id)
    assert best_free is not None
    if best_post is not None and best_post[0] < best_free[0]:
        reason = POST_UNIT_SPARED
    elif min_eta < best_free[2]:
        reason = OWN_ZONE_NEAR_TIE
    else:
        reason = NEAREST_ETA
    return _chosen(slot_index, best_free, reason, policy, post_uncovered=None)


def _stop_above(
    best_free: _Candidate | None,
    best_post: _Candidate | None,
    min_free_eta: float,
    preference: float,
    margin: float,
) -> float:
    """The largest ETA an unseen unit could have and still change the decision.

    An unseen unit with ETA ``e`` has rank key >= ``e - preference``: it can outrank the best
    unit of its kind only if ``e - preference <= best key``. While a post unit would be chosen
    (no unit not at a post within the margin), an unseen unit not at a post with ``e <=
    eta(post unit) + margin`` would change that too.
    """
    if best_free is not None:
        bound = best_free[0][0] + preference
        if best_post is not None and min_free_eta > best_post[2] + margin:
            bound = max(bound, best_post[0][0] + preference)
        return bound
    if best_post is not None:
        return max(best_post[0][0] + preference, best_post[2] + margin)
    return math.inf


def _at_post_cached(
    unit: UnitView, now: datetime, policy: DispatchPolicy, city: City, cache: dict[str, bool]
) -> bool:
    post_id = unit.post_id
    if post_id is None:
        return False
    post = city.posts.get(post_id)
    if post is None:
        return False
    staffed = cache.get(post_id)
    if staffed is None:
        staffed = cache[post_id] = city.post_staffed(post_id, now)
    return staffed and distance_m(unit.lat, unit.lon, post.lat, post.lon) <= policy.post_radius_m


def _chosen(
    slot_index: int,
    candidate: _Candidate,
    reason: str,
    policy: DispatchPolicy,
    *,
    post_uncovered: str | None,
) -> Choice:
    _, unit, eta, d = candidate
    return Choice(
        slot_index=slot_index,
        unit=unit,
        eta_s=eta,
        distance_m=d,
        reason=reason,
        post_uncovered=post_uncovered,
        route_distance_m=d * policy.detour_factor,
    )
