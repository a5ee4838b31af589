"""Selection: eligibility, ETA ranking, the own-zone near tie, post coverage, volunteers, and
equality with a brute-force ranking of every unit."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Collection, Iterator, Sequence, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.incidents import IncidentCategory
from schemas.units import Force, UnitStatus
from streams.city import City, LocalPlane, distance_m, load_city
from streams.dispatch.policy import (
    NEVER_DISPATCHED,
    PRIORITIES,
    DispatchPolicy,
    SlotSpec,
    default_policy,
    eta_s,
)
from streams.dispatch.selection import (
    REASONS,
    Choice,
    IncidentView,
    UnitView,
    at_staffed_post,
    choose,
)
from streams.dispatch.spatial import UnitIndex

CITY = load_city(None)
POLICY = default_policy()
HAILAR = ZoneInfo("Asia/Shanghai")
C = IncidentCategory
F = Force

#: Monday 5 May 2025, 10:00 in Hailar: round-the-clock posts staffed, the hospital (p11) and
#: the night market (p09) not.
MORNING = datetime(2025, 5, 5, 10, 0, tzinfo=HAILAR)
#: The same day at 08:00: the hospital's morning peak, p11 staffed.
HOSPITAL_PEAK = datetime(2025, 5, 5, 8, 0, tzinfo=HAILAR)
NOW = MORNING

#: The incident site used by most tests: in zone z05, about 900 m from post p08.
SITE = (49.2130, 119.7650)
SITE_ZONE = "z05"
PLANE = LocalPlane(lat0=SITE[0], lon0=SITE[1])


def near(east_m: float, north_m: float, origin: tuple[float, float] = SITE) -> tuple[float, float]:
    """The point ``east_m`` east and ``north_m`` north of ``origin``."""
    return LocalPlane(lat0=origin[0], lon0=origin[1]).to_latlon(east_m, north_m)


def unit(
    unit_id: str,
    force: Force,
    where: tuple[float, float],
    *,
    status: UnitStatus = UnitStatus.AVAILABLE,
    age_s: float = 5.0,
    zone_id: str | None = None,
    post_id: str | None = None,
    now: datetime = NOW,
) -> UnitView:
    return UnitView(
        unit_id=unit_id,
        force=force,
        lat=where[0],
        lon=where[1],
        status=status,
        last_seen=now - timedelta(seconds=age_s),
        zone_id=zone_id,
        post_id=post_id,
    )


def incident(
    category: IncidentCategory = C.CRIMINAL,
    priority: int = 2,
    where: tuple[float, float] = SITE,
    zone_id: str | None = SITE_ZONE,
) -> IncidentView:
    return IncidentView(
        incident_id="i-1",
        category=category,
        priority=priority,
        lat=where[0],
        lon=where[1],
        zone_id=zone_id,
    )


def index_of(*units: UnitView) -> UnitIndex:
    index = UnitIndex(PLANE)
    for u in units:
        index.upsert(u)
    return index


def slot(label: str, *forces: Force) -> SlotSpec:
    return SlotSpec(forces=frozenset(forces), label=label)


def card(category: IncidentCategory, priority: int) -> list[tuple[int, SlotSpec]]:
    return list(enumerate(POLICY.slots(category, priority)))


def pick(
    inc: IncidentView,
    slots: Sequence[tuple[int, SlotSpec]],
    *units: UnitView,
    now: datetime = NOW,
    policy: DispatchPolicy = POLICY,
    exclude: Set[str] = frozenset(),
    assigned_forces: Collection[Force] = (),
) -> list[Choice]:
    return choose(
        inc,
        slots,
        index_of(*units),
        now=now,
        policy=policy,
        city=CITY,
        exclude=exclude,
        assigned_forces=assigned_forces,
    )


def chosen(choices: list[Choice]) -> list[str | None]:
    return [c.unit.unit_id if c.unit else None for c in choices]


def expected_eta(u: UnitView, inc: IncidentView, policy: DispatchPolicy = POLICY) -> float:
    """ETA from the great-circle distance (the index's plane distance is within 0.1 % here)."""
    return eta_s(distance_m(inc.lat, inc.lon, u.lat, u.lon), u.force, policy)


STATION = [(0, slot("primary", F.STATION))]


# --- ranking by ETA --------------------------------------------------------------------------


def test_the_nearest_unit_wins_and_the_choice_reports_eta_and_distance() -> None:
    a = unit("a", F.STATION, near(600, 0))
    b = unit("b", F.STATION, near(0, -900))
    inc = incident()
    [c] = pick(inc, STATION, b, a)
    assert c.unit == a
    assert c.reason == "nearest_eta"
    assert c.slot_index == 0
    assert c.post_uncovered is None
    assert c.distance_m == pytest.approx(600, rel=1e-3)
    assert c.eta_s == pytest.approx(expected_eta(a, inc), rel=1e-3)
    assert c.route_distance_m == pytest.approx(600 * POLICY.detour_factor, rel=1e-3)


def test_per_force_speed_beats_straight_line_distance() -> None:
    # A community unit 800 m away (8 m/s) against a station unit 1,000 m away (11 m/s).
    community = unit("community", F.COMMUNITY, near(800, 0))
    station = unit("station", F.STATION, near(-1000, 0))
    inc = incident(C.OTHER, 3)
    assert expected_eta(station, inc) < expected_eta(community, inc)
    [c] = pick(inc, [(0, slot("primary", F.STATION, F.COMMUNITY))], community, station)
    assert c.unit == station
    # Make the community team as fast as the station and the nearer unit wins again.
    fast = dataclasses.replace(POLICY, speed_mps=dict(POLICY.speed_mps) | {F.COMMUNITY: 11.0})
    [c] = pick(inc, [(0, slot("primary", F.STATION, F.COMMUNITY))], community, station, policy=fast)
    assert c.unit == community


def test_eta_not_zone_membership_decides_across_a_zone_border() -> None:
    # The own-zone unit is 30 s slower than the one across the border: beyond the near tie.
    inc = incident()
    across = unit("across", F.STATION, near(300, 0), zone_id="z06")
    extra_m = 30 * POLICY.speed_mps[F.STATION] / POLICY.detour_factor
    own = unit("own", F.STATION, near(-(300 + extra_m), 0), zone_id=SITE_ZONE)
    assert expected_eta(own, inc) - expected_eta(across, inc) == pytest.approx(30, abs=0.2)
    [c] = pick(inc, STATION, own, across)
    assert (c.unit, c.reason) == (across, "nearest_eta")


@pytest.mark.parametrize(("slower_s", "winner"), [(10.0, "own"), (20.0, "across")])
def test_own_zone_near_tie(slower_s: float, winner: str) -> None:
    inc = incident()
    assert POLICY.own_zone_preference_s == 15
    across = unit("across", F.STATION, near(300, 0), zone_id="z06")
    extra_m = slower_s * POLICY.speed_mps[F.STATION] / POLICY.detour_factor
    own = unit("own", F.STATION, near(-(300 + extra_m), 0), zone_id=SITE_ZONE)
    [c] = pick(inc, STATION, own, across)
    assert c.unit is not None
    assert c.unit.unit_id == winner
    assert c.reason == ("own_zone_near_tie" if winner == "own" else "nearest_eta")


def test_no_near_tie_preference_without_an_incident_zone() -> None:
    inc = incident(zone_id=None)
    across = unit("across", F.STATION, near(300, 0), zone_id="z06")
    own = unit("own", F.STATION, near(-400, 0), zone_id=SITE_ZONE)
    [c] = pick(inc, STATION, own, across)
    assert c.unit == across


def test_equal_etas_go_to_the_smaller_unit_id() -> None:
    where = near(250, 250)
    units = [unit(uid, F.STATION, where) for uid in ("s-9", "s-10", "s-2")]
    [c] = pick(incident(), STATION, *units)
    assert c.unit is not None
    assert c.unit.unit_id == min(u.unit_id for u in units)


# --- eligibility -----------------------------------------------------------------------------


@pytest.mark.parametrize("category", list(IncidentCategory))
@pytest.mark.parametrize("force", list(Force))
def test_only_capable_forces_are_sent(category: IncidentCategory, force: Force) -> None:
    # One unit of ``force``, a slot that would take any force, a community unit already there.
    inc = incident(category, 3)
    only = unit("only", force, near(200, 0))
    [c] = pick(inc, [(0, slot("any", *Force))], only, assigned_forces=[F.COMMUNITY])
    allowed = force in POLICY.capabilities[category] and (
        force is not F.VOLUNTEER or POLICY.volunteers_allowed(category, 3)
    )
    assert (c.unit == only) is allowed
    if not POLICY.capabilities[category]:
        assert c.reason == "no_capable_force"


@pytest.mark.parametrize(
    "status", [s for s in UnitStatus if s is not UnitStatus.AVAILABLE], ids=str
)
def test_only_units_reporting_available_are_sent(status: UnitStatus) -> None:
    busy = unit("busy", F.STATION, near(100, 0), status=status)
    spare = unit("spare", F.STATION, near(900, 0))
    assert chosen(pick(incident(), STATION, busy, spare)) == ["spare"]
    [c] = pick(incident(), STATION, busy)
    assert (c.unit, c.reason) == (None, "no_eligible_unit")


def test_stale_telemetry_is_not_dispatched() -> None:
    limit = POLICY.stale_after_s
    fresh = unit("fresh", F.STATION, near(100, 0), age_s=limit)  # exactly at the limit
    stale = unit("stale", F.STATION, near(50, 0), age_s=limit + 1)
    assert chosen(pick(incident(), STATION, fresh, stale)) == ["fresh"]
    shorter = dataclasses.replace(POLICY, stale_after_s=limit - 1)
    assert chosen(pick(incident(), STATION, fresh, stale, policy=shorter)) == [None]


def test_excluded_units_are_skipped() -> None:
    a = unit("a", F.STATION, near(100, 0))
    b = unit("b", F.STATION, near(700, 0))
    assert chosen(pick(incident(), STATION, a, b, exclude={"a"})) == ["b"]
    [c] = pick(incident(), STATION, a, b, exclude={"a", "b"})
    assert c.reason == "no_eligible_unit"


def test_no_unit_twice_in_one_decision() -> None:
    only = unit("only", F.STATION, near(100, 0))
    choices = pick(incident(), [(0, slot("primary", F.STATION)), (1, slot("x", F.STATION))], only)
    assert chosen(choices) == ["only", None]
    assert choices[1].reason == "no_eligible_unit"


def test_a_full_run_card_priority_1_criminal() -> None:
    # The example: one station unit plus one SWAT unit.
    units = [
        unit("s-near", F.STATION, near(200, 0)),
        unit("s-far", F.STATION, near(2000, 0)),
        unit("w-near", F.SWAT, near(0, 300)),
        unit("c-nearest", F.COMMUNITY, near(10, 0)),
    ]
    choices = pick(incident(C.CRIMINAL, 1), card(C.CRIMINAL, 1), *units)
    assert chosen(choices) == ["s-near", "w-near"]
    assert [c.slot_index for c in choices] == [0, 1]


def test_open_slots_keep_their_run_card_index() -> None:
    s = unit("s", F.SWAT, near(200, 0))
    [c] = pick(incident(C.CRIMINAL, 1), card(C.CRIMINAL, 1)[1:], s)
    assert (c.slot_index, c.unit) == (1, s)


@pytest.mark.parametrize("category", sorted(NEVER_DISPATCHED))
@pytest.mark.parametrize("priority", PRIORITIES)
def test_invalid_and_non_police_dispatch_nothing(category: IncidentCategory, priority: int) -> None:
    everyone = [unit(f"u-{f.value}", f, near(100, 0)) for f in Force]
    assert pick(incident(category, priority), card(category, priority), *everyone) == []
    # Even a slot forced upon them sends nobody.
    [c] = pick(incident(category, priority), [(0, slot("any", *Force))], *everyone)
    assert (c.unit, c.reason) == (None, "no_capable_force")


def test_a_partly_filled_card_fills_what_it_can() -> None:
    s = unit("s", F.STATION, near(200, 0))
    choices = pick(incident(C.CRIMINAL, 1), card(C.CRIMINAL, 1), s)
    assert chosen(choices) == ["s", None]
    assert choices[1].reason == "no_eligible_unit"


# --- volunteers ------------------------------------------------------------------------------


def test_a_volunteer_goes_alongside_the_community_unit_chosen_first() -> None:
    c1 = unit("c1", F.COMMUNITY, near(300, 0))
    v1 = unit("v1", F.VOLUNTEER, near(50, 0))
    choices = pick(incident(C.DISPUTE, 3), card(C.DISPUTE, 3), v1, c1)
    assert chosen(choices) == ["c1", "v1"]
    assert choices[1].eta_s == pytest.approx(
        expected_eta(v1, incident(C.DISPUTE, 3)), rel=1e-3
    )  # walking speed


def test_volunteers_never_alone() -> None:
    v1 = unit("v1", F.VOLUNTEER, near(50, 0))
    s1 = unit("s1", F.STATION, near(60, 0))  # a station unit is no community unit
    choices = pick(incident(C.DISPUTE, 3), card(C.DISPUTE, 3), v1, s1)
    assert chosen(choices) == [None, None]
    assert [c.reason for c in choices] == ["no_eligible_unit", "volunteer_needs_community"]


def test_a_volunteer_slot_retried_later_needs_community_among_assigned_forces() -> None:
    escort = card(C.DISPUTE, 2)[1:]
    v1 = unit("v1", F.VOLUNTEER, near(50, 0))
    inc = incident(C.DISPUTE, 2)
    assert chosen(pick(inc, escort, v1, assigned_forces=[F.COMMUNITY])) == ["v1"]
    [c] = pick(inc, escort, v1, assigned_forces=[F.STATION])
    assert (c.unit, c.reason) == (None, "volunteer_needs_community")
    [c] = pick(inc, escort, v1)
    assert c.reason == "volunteer_needs_community"


@pytest.mark.parametrize(
    ("category", "priority", "reason"),
    [
        (C.CRIMINAL, 3, "no_capable_force"),
        (C.FIRE, 3, "no_capable_force"),
        (C.PUBLIC_ORDER, 3, "no_capable_force"),
        (C.PUBLIC_ORDER, 1, "no_capable_force"),
        (C.DISPUTE, 1, "volunteer_not_allowed"),  # capable, but a violent call
    ],
)
def test_volunteers_never_to_crime_fire_or_violence(
    category: IncidentCategory, priority: int, reason: str
) -> None:
    # Even with a community unit on the incident and a volunteer-only slot forced upon it.
    v1 = unit("v1", F.VOLUNTEER, near(50, 0))
    inc = incident(category, priority)
    [c] = pick(inc, [(1, slot("escort", F.VOLUNTEER))], v1, assigned_forces=[F.COMMUNITY])
    assert (c.unit, c.reason) == (None, reason)


def test_a_volunteer_in_a_mixed_slot_never_stands_in_for_the_community_unit() -> None:
    policy = dataclasses.replace(
        POLICY,
        capabilities=dict(POLICY.capabilities)
        | {C.OTHER: frozenset({F.STATION, F.COMMUNITY, F.VOLUNTEER})},
    )
    v1 = unit("v1", F.VOLUNTEER, near(10, 0))
    c1 = unit("c1", F.COMMUNITY, near(900, 0))
    mixed = [(0, slot("primary", F.COMMUNITY, F.VOLUNTEER))]
    assert chosen(pick(incident(C.OTHER, 3), mixed, v1, c1, policy=policy)) == ["c1"]


# --- post coverage ---------------------------------------------------------------------------

P01 = CITY.posts["p01"]  # train station, staffed around the clock
P11 = CITY.posts["p11"]  # hospital entrance, staffed 07-09, 11-13, 17-19
AT_P01 = (P01.lat, P01.lon)
AT_P11 = (P11.lat, P11.lon)
P01_SITE = near(800, 0, AT_P01)  # an incident 800 m east of p01


def free_unit_slower_by(seconds: float, post_unit: UnitView, inc: IncidentView) -> UnitView:
    """A station unit not at a post whose ETA exceeds the post unit's by ``seconds``."""
    d = (expected_eta(post_unit, inc) + seconds) * POLICY.speed_mps[F.STATION]
    d /= POLICY.detour_factor
    return unit("free", F.STATION, near(0, -d, (inc.lat, inc.lon)))


def test_a_unit_at_a_staffed_post_is_spared_when_another_arrives_within_the_margin() -> None:
    assert POLICY.post_margin_s == 60
    inc = incident(where=P01_SITE, zone_id="z01")
    at_post = unit("at-post", F.STATION, AT_P01, post_id="p01")
    assert at_staffed_post(at_post, NOW, POLICY, CITY)
    free = free_unit_slower_by(50, at_post, inc)
    [c] = pick(inc, STATION, at_post, free)
    assert (c.unit, c.reason, c.post_uncovered) == (free, "post_unit_spared", None)


def test_a_unit_at_a_staffed_post_goes_when_the_others_are_beyond_the_margin() -> None:
    inc = incident(where=P01_SITE, zone_id="z01")
    at_post = unit("at-post", F.STATION, AT_P01, post_id="p01")
    free = free_unit_slower_by(70, at_post, inc)
    [c] = pick(inc, STATION, at_post, free)
    assert (c.unit, c.reason, c.post_uncovered) == (at_post, "post_unit_only_option", "p01")
    wider = dataclasses.replace(POLICY, post_margin_s=80)
    [c] = pick(inc, STATION, at_post, free, policy=wider)
    assert c.unit == free


def test_a_unit_at_a_staffed_post_goes_when_it_is_the_only_option() -> None:
    inc = incident(where=P01_SITE, zone_id="z01")
    at_post = unit("at-post", F.STATION, AT_P01, post_id="p01")
    [c] = pick(inc, STATION, at_post)
    assert (c.unit, c.reason, c.post_uncovered) == (at_post, "post_unit_only_option", "p01")


def test_a_post_outside_its_staffed_window_is_an_ordinary_unit() -> None:
    inc = incident(where=near(800, 0, AT_P11), zone_id="z06")
    hospital = unit("hospital", F.STATION, AT_P11, post_id="p11", now=MORNING)
    free = free_unit_slower_by(30, hospital, inc)
    free = dataclasses.replace(free, last_seen=hospital.last_seen)
    assert not CITY.post_staffed("p11", MORNING)
    [c] = pick(inc, STATION, hospital, free, now=MORNING)
    assert (c.unit, c.reason, c.post_uncovered) == (hospital, "nearest_eta", None)
    # At the morning peak the post is staffed: the free unit is sent instead.
    assert CITY.post_staffed("p11", HOSPITAL_PEAK)
    peak = [dataclasses.replace(u, last_seen=HOSPITAL_PEAK) for u in (hospital, free)]
    [c] = pick(inc, STATION, *peak, now=HOSPITAL_PEAK)
    assert (c.unit, c.reason) == (peak[1], "post_unit_spared")


def test_a_unit_away_from_its_post_or_naming_an_unknown_post_is_ordinary() -> None:
    inc = incident(where=P01_SITE, zone_id="z01")
    radius = POLICY.post_radius_m
    away = unit("away", F.STATION, near(0, radius + 20, AT_P01), post_id="p01")
    unknown = unit("unknown", F.STATION, near(0, 5, AT_P01), post_id="p99")
    assert not at_staffed_post(away, NOW, POLICY, CITY)
    assert not at_staffed_post(unknown, NOW, POLICY, CITY)
    inside = unit("inside", F.STATION, near(0, radius - 20, AT_P01), post_id="p01")
    assert at_staffed_post(inside, NOW, POLICY, CITY)
    for u in (away, unknown):
        free = free_unit_slower_by(30, u, inc)
        [c] = pick(inc, STATION, u, free)
        assert (c.unit, c.reason, c.post_uncovered) == (u, "nearest_eta", None)


def test_the_near_tie_does_not_override_the_post_margin() -> None:
    # A post unit of the incident's own zone, 50 s nearer than a unit of another zone: the
    # other unit can arrive within the margin, so the post stays covered.
    inc = incident(where=P01_SITE, zone_id="z01")
    at_post = unit("at-post", F.STATION, AT_P01, post_id="p01", zone_id="z01")
    free = dataclasses.replace(free_unit_slower_by(50, at_post, inc), zone_id="z02")
    [c] = pick(inc, STATION, at_post, free)
    assert (c.unit, c.reason) == (free, "post_unit_spared")


def test_a_free_unit_exactly_within_the_margin_keeps_the_post_covered() -> None:
    # Margin 0 and the same place: the free unit "can arrive within the margin" (inclusive).
    exact = dataclasses.replace(POLICY, post_margin_s=0.0)
    inc = incident(where=P01_SITE, zone_id="z01")
    at_post = unit("a-post", F.STATION, AT_P01, post_id="p01")
    free = unit("b-free", F.STATION, AT_P01)
    [c] = pick(inc, STATION, at_post, free, policy=exact)
    assert (c.unit, c.reason, c.post_uncovered) == (free, "post_unit_spared", None)


def test_the_search_goes_on_while_a_farther_post_unit_may_outrank_the_chosen_one() -> None:
    # A margin smaller than the near tie: the nearest post unit (another zone) would be sent
    # over an own-zone free unit, unless an own-zone post unit farther away outranks it; then
    # the free unit is within the margin of *that* post unit and goes instead.
    policy = dataclasses.replace(POLICY, post_margin_s=0.0, own_zone_preference_s=120.0)
    p02 = CITY.posts["p02"]
    plane = LocalPlane(lat0=P01.lat, lon0=P01.lon)
    x2, y2 = plane.to_xy(p02.lat, p02.lon)
    ux, uy = x2 / math.hypot(x2, y2), y2 / math.hypot(x2, y2)
    site = plane.to_latlon(x2 + 400 * ux, y2 + 400 * uy)  # 400 m beyond p02, ~924 m from p01
    inc = incident(where=site, zone_id="z01")
    nearest_post = unit("p-02", F.STATION, (p02.lat, p02.lon), post_id="p02", zone_id="z02")
    free = unit("free", F.STATION, near(0, -700, site), zone_id="z01")
    own_post = unit("p-01", F.STATION, AT_P01, post_id="p01", zone_id="z01")
    etas = [expected_eta(u, inc, policy) for u in (nearest_post, free, own_post)]
    assert etas == sorted(etas)
    assert etas[2] - policy.own_zone_preference_s < etas[0]  # own_post outranks nearest_post
    [c] = pick(inc, STATION, nearest_post, free, policy=policy)
    assert (c.unit, c.reason) == (nearest_post, "post_unit_only_option")
    [c] = pick(inc, STATION, nearest_post, free, own_post, policy=policy)
    assert (c.unit, c.reason) == (free, "own_zone_near_tie")


# --- brute force: choose() ranks exactly as ranking every unit would -------------------------


@dataclass(frozen=True)
class _Ranked:
    unit: UnitView
    eta: float
    d: float
    own: bool
    at_post: bool

    def key(self, preference: float) -> tuple[float, bool, float, str]:
        return (
            self.eta - preference if self.own else self.eta,
            not self.own,
            self.eta,
            self.unit.unit_id,
        )


def reference_choose(
    inc: IncidentView,
    slots: Sequence[tuple[int, SlotSpec]],
    units: Sequence[UnitView],
    plane: LocalPlane,
    *,
    now: datetime,
    policy: DispatchPolicy,
    city: City,
    exclude: Set[str],
    assigned_forces: Collection[Force],
) -> list[Choice]:
    """The rules of the issue applied to every unit, one by one, without an index."""
    qx, qy = plane.to_xy(inc.lat, inc.lon)
    pref, margin = policy.own_zone_preference_s, policy.post_margin_s
    capable = policy.capabilities[inc.category]
    volunteers_ok = (
        F.VOLUNTEER in capable
        and inc.category not in policy.volunteer_never_to
        and (inc.category, inc.priority) not in policy.violent_calls
    )
    community = F.COMMUNITY in assigned_forces
    taken: set[str] = set()
    out: list[Choice] = []
    for index, spec in slots:
        allowed = set(spec.forces & capable)
        if not allowed:
            out.append(Choice(index, None, None, None, "no_capable_force"))
            continue
        if F.VOLUNTEER in allowed and not (volunteers_ok and community):
            allowed.discard(F.VOLUNTEER)
            if not allowed:
                why = "volunteer_needs_community" if volunteers_ok else "volunteer_not_allowed"
                out.append(Choice(index, None, None, None, why))
                continue
        ranked: list[_Ranked] = []
        for u in units:
            if (
                u.force not in allowed
                or u.status != UnitStatus.AVAILABLE
                or (now - u.last_seen).total_seconds() > policy.stale_after_s
                or u.unit_id in exclude
                or u.unit_id in taken
            ):
                continue
            x, y = plane.to_xy(u.lat, u.lon)
            d = math.hypot(x - qx, y - qy)
            post = city.posts.get(u.post_id) if u.post_id else None
            at_post = (
                post is not None
                and city.post_staffed(post.post_id, now)
                and distance_m(u.lat, u.lon, post.lat, post.lon) <= policy.post_radius_m
            )
            own = inc.zone_id is not None and u.zone_id == inc.zone_id
            eta = d * policy.detour_factor / policy.speed_mps[u.force]
            ranked.append(_Ranked(u, eta, d, own, at_post))
        if not ranked:
            out.append(Choice(index, None, None, None, "no_eligible_unit"))
            continue
        free = [r for r in ranked if not r.at_post]
        posted = [r for r in ranked if r.at_post]
        best: _Ranked
        post_uncovered = None
        if posted and (
            not free
            or min(r.eta for r in free) > min(posted, key=lambda r: r.key(pref)).eta + margin
        ):
            best = min(posted, key=lambda r: r.key(pref))
            reason = "post_unit_only_option"
            post_uncovered = best.unit.post_id
        else:
            best = min(free, key=lambda r: r.key(pref))
            if min(ranked, key=lambda r: r.key(pref)).at_post:
                reason = "post_unit_spared"
            elif min(r.eta for r in ranked) < best.eta:
                reason = "own_zone_near_tie"
            else:
                reason = "nearest_eta"
        out.append(
            Choice(
                index,
                best.unit,
                best.eta,
                best.d,
                reason,
                post_uncovered,
                best.d * policy.detour_factor,
            )
        )
        taken.add(best.unit.unit_id)
        if best.unit.force is F.COMMUNITY:
            community = True
    return out


#: Posts within 3 km of the brute-force site, with different schedules.
NEARBY_POSTS = ["p08", "p09", "p10", "p11", "p05", "p04"]
BF_SITE = (CITY.posts["p09"].lat - 0.002, CITY.posts["p09"].lon - 0.004)
TIMES = [
    datetime(2025, 5, 5, 10, 0, tzinfo=HAILAR),  # p09, p11 closed
    datetime(2025, 5, 5, 8, 0, tzinfo=HAILAR),  # p11 staffed
    datetime(2025, 5, 5, 20, 0, tzinfo=HAILAR),  # p09 (night market) staffed
]


@st.composite
def scenarios(draw: st.DrawFn, max_units: int = 40) -> dict[str, object]:
    now = draw(st.sampled_from(TIMES))
    zones = ["z05", "z06", "z08", None]
    n = draw(st.integers(min_value=0, max_value=max_units))
    units: list[UnitView] = []
    # A few shared positions produce exact distance ties.
    shared = draw(
        st.lists(st.tuples(st.floats(-3000, 3000), st.floats(-3000, 3000)), min_size=1, max_size=3)
    )
    for i in range(n):
        force = draw(st.sampled_from(list(Force)))
        post_id = None
        kind = draw(st.sampled_from(["free", "free", "shared", "post", "post_far", "post_spot"]))
        if kind == "free":
            where = near(draw(st.floats(-3000, 3000)), draw(st.floats(-3000, 3000)), BF_SITE)
        elif kind == "shared":
            where = near(*draw(st.sampled_from(shared)), BF_SITE)
        else:
            # At a post (within or beyond its radius), or on the spot without naming it.
            post = CITY.posts[draw(st.sampled_from(NEARBY_POSTS))]
            post_id = None if kind == "post_spot" else post.post_id
            offset = (
                draw(st.sampled_from([0.0, 0.0, 10.0]) | st.floats(0, 140))
                if kind != "post_far"
                else draw(st.floats(140, 400))
            )
            where = near(offset, 0, (post.lat, post.lon))
        units.append(
            UnitView(
                unit_id=f"u{i:02d}",
                force=force,
                lat=where[0],
                lon=where[1],
                status=draw(
                    st.sampled_from(
                        [UnitStatus.AVAILABLE] * 6 + [UnitStatus.EN_ROUTE, UnitStatus.RETURNING]
                    )
                ),
                last_seen=now
                - timedelta(seconds=draw(st.sampled_from([0, 30, 119, 120, 121, 300]))),
                zone_id=draw(st.sampled_from(zones)),
                post_id=post_id,
            )
        )
    category = draw(st.sampled_from(list(IncidentCategory)))
    priority = draw(st.sampled_from(PRIORITIES))
    policy = dataclasses.replace(
        POLICY,
        own_zone_preference_s=draw(st.sampled_from([0.0, 15.0, 120.0])),
        post_margin_s=draw(st.sampled_from([0.0, 60.0, 400.0])),
        post_radius_m=draw(st.sampled_from([50.0, 150.0])),
    )
    run_card = list(enumerate(policy.slots(category, priority)))
    if draw(st.booleans()) or not run_card:
        # Arbitrary slots, including ones the policy would never hold.
        run_card = [
            (
                i,
                SlotSpec(
                    forces=draw(st.frozensets(st.sampled_from(list(Force)), min_size=1)), label="x"
                ),
            )
            for i in range(draw(st.integers(1, 4)))
        ]
    else:
        run_card = draw(st.lists(st.sampled_from(run_card), unique=True, min_size=1)).copy()
        run_card.sort()
    ids = [u.unit_id for u in units]
    return {
        "incident": incident(category, priority, BF_SITE, draw(st.sampled_from(zones))),
        "slots": run_card,
        "units": units,
        "now": now,
        "policy": policy,
        "exclude": frozenset(draw(st.lists(st.sampled_from(ids), max_size=4)) if ids else ()),
        "assigned": draw(st.lists(st.sampled_from(list(Force)), max_size=2)),
        "cell_m": draw(st.sampled_from([100.0, 500.0, 3000.0])),
    }


def check_against_reference(scenario: dict[str, object]) -> list[Choice]:
    units = scenario["units"]
    assert isinstance(units, list)
    index = UnitIndex(PLANE, cell_m=scenario["cell_m"])  # type: ignore[arg-type]
    for u in units:
        index.upsert(u)
    kwargs = {
        "now": scenario["now"],
        "policy": scenario["policy"],
        "city": CITY,
        "exclude": scenario["exclude"],
        "assigned_forces": scenario["assigned"],
    }
    got = choose(scenario["incident"], scenario["slots"], index, **kwargs)  # type: ignore[arg-type]
    want = reference_choose(
        scenario["incident"],  # type: ignore[arg-type]
        scenario["slots"],  # type: ignore[arg-type]
        units,
        PLANE,
        **kwargs,  # type: ignore[arg-type]
    )
    assert got == want
    assert len(index) == len(units)  # choose does not modify the index
    return got


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_choose_equals_brute_force(scenario: dict[str, object]) -> None:
    got = check_against_reference(scenario)
    ids = [c.unit.unit_id for c in got if c.unit is not None]
    assert len(ids) == len(set(ids))
    assert all(c.reason in REASONS for c in got)


@settings(max_examples=25, deadline=None)
@given(scenarios(max_units=300))
def test_choose_equals_brute_force_with_many_units(scenario: dict[str, object]) -> None:
    check_against_reference(scenario)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_volunteers_only_ever_go_alongside_community(scenario: dict[str, object]) -> None:
    got = check_against_reference(scenario)
    inc = scenario["incident"]
    assert isinstance(inc, IncidentView)
    community = F.COMMUNITY in scenario["assigned"]  # type: ignore[operator]
    for c in got:
        if c.unit is not None and c.unit.force is F.VOLUNTEER:
            assert community
            assert inc.category not in (C.CRIMINAL, C.FIRE)
            assert (inc.category, inc.priority) not in POLICY.violent_calls
        if c.unit is not None and c.unit.force is F.COMMUNITY:
            community = True


# --- the index is walked, not scanned --------------------------------------------------------


class CountingIndex(UnitIndex):
    """A UnitIndex that counts the units its queries yield."""

    yielded = 0

    def nearest(self, *args, **kwargs) -> Iterator[tuple[UnitView, float]]:  # type: ignore[no-untyped-def]
        for item in super().nearest(*args, **kwargs):
            self.yielded += 1
            yield item


def test_a_region_of_10000_units_is_not_scanned() -> None:
    rng = random.Random(5)
    index = CountingIndex(PLANE)
    bounds = [CITY.zones[z].geometry.bounds for z in CITY.regions["hailar"]]
    minx, miny = min(b[0] for b in bounds), min(b[1] for b in bounds)
    maxx, maxy = max(b[2] for b in bounds), max(b[3] for b in bounds)
    units = []
    for i in range(10_000):
        units.append(
            unit(
                f"u{i:05d}",
                rng.choice(list(Force)),
                (rng.uniform(miny, maxy), rng.uniform(minx, maxx)),
                age_s=rng.uniform(0, 150),
            )
        )
        index.upsert(units[-1])
    decisions = 0
    for _ in range(50):
        category = rng.choice(sorted(set(IncidentCategory) - NEVER_DISPATCHED))
        priority = rng.choice(PRIORITIES)
        inc = incident(
            category, priority, (rng.uniform(miny, maxy), rng.uniform(minx, maxx)), "z05"
        )
        slots = card(category, priority)
        before = index.yielded
        got = choose(inc, slots, index, now=NOW, policy=POLICY, city=CITY)
        want = reference_choose(
            inc,
            slots,
            units,
            PLANE,
            now=NOW,
            policy=POLICY,
            city=CITY,
            exclude=frozenset(),
            assigned_forces=(),
        )
        assert got == want
        # ~1,430 units per force; a slot needs the few nearest of them, not all.
        assert index.yielded - before < 150 * len(slots)
        decisions += 1
    assert decisions == 50


def test_choose_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        pick(incident(), STATION, now=datetime(2025, 5, 5, 10, 0))


def test_the_benchmark_runs_and_reports_every_figure() -> None:
    from streams.dispatch import bench

    rows = bench.run((30, 300), decisions=40, seed=3)
    assert [r["units"] for r in rows] == [30, 300]
    for row in rows:
        assert 0 < row["p50_us"] <= row["p95_us"] <= row["p99_us"] <= row["max_us"]
        assert row["build_ms"] > 0
        assert 0 <= row["slots_filled_pct"] <= 100
    assert rows[0]["p99_ratio"] == 1.0
    assert rows[1]["p99_ratio"] == pytest.approx(rows[1]["p99_us"] / rows[0]["p99_us"])
