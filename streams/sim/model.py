"""The simulated world behind ``patrolflow simulate``: units, shifts, movement, calls, lifecycles.

Pure and deterministic: no Kafka, no wall clock, no global random state. A :class:`World` is a
discrete-event simulation over integer milliseconds of event time. :meth:`World.events` runs it
and yields what the outside world would see, in event-time order: incident reports, lifecycle
and case updates, and unit telemetry, as ``(at_ms, topic, key, payload)`` where ``payload`` is
the record's JSON object without its ``event_id`` (:mod:`streams.sim.generator` adds the id and
serialises it).

**Units** are built from the city (:func:`build_roster`): a case-handling team (``station``) in
every zone on 12-hour day/night shifts, community teams (``community``) in urban zones on
8-hour shifts, one peace volunteer (``volunteer``) per urban zone in the evening (and weekend
mornings) who walks with that zone's community officer, SWAT, traffic and armed-police patrols
per region, fire engines at stations, and post crews: three 8-hour crews per round-the-clock
fixed post (handovers at 00:00, 08:00, 16:00 local time) and one crew for each post staffed
only in windows. Off shift a unit reports ``off_duty`` at its base now and then.

**Movement** is along L-shaped street paths (east-west, then north-south or the reverse), whose
length is on average ~1.27x the straight line, close to the dispatch policy's detour factor.
Responding and returning units move at their force's speed (``default_policy().speed_mps``),
patrols more slowly; a community officer walking with a volunteer walks at the volunteer's pace.

**Handovers.** The outgoing post crew leaves at the end of its shift; the incoming crew usually
arrives a few minutes early, but a share arrives late, leaving the post uncovered for a while.

**Calls** arrive as a Poisson process whose rate follows a daily profile by local hour (quiet at
04:00, commuter peaks, night-market evenings), with a configurable category mix (invalid and
non-police calls included), priorities, and locations near fixed posts (weighted by how busy a
post is at that hour), anywhere in a zone, or (a small share) outside every zone.

**The units' side of an incident.** The simulator does not dispatch: patrolflow does. To play the
units realistically it expects the unit patrolflow would most likely send (the nearest free unit
of a run-card slot's forces in the incident's region by ETA, preferring the incident's own zone
and sparing units at fixed posts: a simple model of the policy) and lets it acknowledge after a
delay, sometimes decline, sometimes never answer (then the next unit is expected, as patrolflow
re-dispatches after its acknowledgement timeout), sometimes skip the acknowledgement and just
depart, drive to the scene (sometimes forgetting to report arrival: its telemetry still stops at
the scene), handle it, clear, file feedback; the 110 centre closes. Invalid and non-police calls
are closed quickly; some calls are cancelled; criminal and public-order incidents lead to cases
filed (and criminal cases solved) days to weeks later, scaled by ``case_time_scale``. Nothing
after the end of the simulated span is produced.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from types import MappingProxyType
from typing import Any, Final

import shapely

from schemas import topics
from schemas.incidents import CaseType, IncidentCategory, UpdateKind
from schemas.units import Force, UnitStatus
from streams.city.geo import LocalPlane
from streams.city.model import City, Post, Zone
from streams.dispatch.policy import NEVER_DISPATCHED, DispatchPolicy

__all__ = [
    "DAILY_PROFILE",
    "DEFAULT_CATEGORY_WEIGHTS",
    "EPOCH",
    "Activity",
    "Emission",
    "Shift",
    "SimConfig",
    "SimIncident",
    "SimUnit",
    "World",
    "build_roster",
    "to_ms",
]

C = IncidentCategory
F = Force

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)
_MIN: Final = 60_000
_HOUR: Final = 3_600_000
_DAY: Final = 86_400_000

#: Relative call intensity by local hour 0..23 (mean 1.0 after normalisation): quiet at 04:00,
#: commuter peaks 07-09 and 17-19, night markets and squares busiest 19-22.
DAILY_PROFILE: Final[tuple[float, ...]] = (
    # 00    01    02    03    04    05    06    07    08    09    10    11
    0.90, 0.70, 0.50, 0.35, 0.25, 0.30, 0.50, 0.90, 1.15, 1.00, 1.00, 1.00,
    # 12    13    14    15    16    17    18    19    20    21    22    23
    0.95, 0.90, 0.95, 1.00, 1.05, 1.25, 1.35, 1.45, 1.60, 1.55, 1.35, 1.10,
)  # fmt: skip

#: Relative weights of the dispatched categories (the share left after invalid and non-police
#: calls is split in these proportions).
DEFAULT_CATEGORY_WEIGHTS: Final[Mapping[IncidentCategory, float]] = MappingProxyType(
    {
        C.DISPUTE: 0.26,
        C.RESCUE: 0.22,
        C.TRAFFIC: 0.18,
        C.PUBLIC_ORDER: 0.12,
        C.CRIMINAL: 0.09,
        C.OTHER: 0.09,
        C.FIRE: 0.04,
    }
)

#: Priority weights (1 emergency, 2 urgent, 3 routine) per category.
_PRIORITY_WEIGHTS: Final[Mapping[IncidentCategory, tuple[float, float, float]]] = {
    C.CRIMINAL: (0.25, 0.50, 0.25),
    C.PUBLIC_ORDER: (0.15, 0.45, 0.40),
    C.TRAFFIC: (0.20, 0.50, 0.30),
    C.FIRE: (0.60, 0.30, 0.10),
    C.RESCUE: (0.20, 0.40, 0.40),
    C.DISPUTE: (0.10, 0.50, 0.40),
    C.OTHER: (0.05, 0.25, 0.70),
    C.INVALID: (0.0, 0.05, 0.95),
    C.NON_POLICE: (0.0, 0.20, 0.80),
}

#: Time on scene: (median minutes, lognormal sigma) per dispatched category.
_ON_SCENE: Final[Mapping[IncidentCategory, tuple[float, float]]] = {
    C.CRIMINAL: (45.0, 0.6),
    C.PUBLIC_ORDER: (25.0, 0.6),
    C.TRAFFIC: (35.0, 0.7),
    C.FIRE: (50.0, 0.6),
    C.RESCUE: (20.0, 0.6),
    C.DISPUTE: (25.0, 0.5),
    C.OTHER: (12.0, 0.5),
}

#: Synthetic call summaries (never real personal data), per category.
_SUMMARIES: Final[Mapping[IncidentCategory, tuple[str, ...]]] = {
    C.CRIMINAL: ("phone snatched in the street 街头抢夺手机", "shop break-in reported 商铺被盗"),
    C.PUBLIC_ORDER: (
        "fight outside a restaurant 饭店门口打架",
        "drunk man harassing people 醉酒滋事",
    ),
    C.TRAFFIC: ("two cars collided 两车相撞", "e-bike hit by a car 电动车被撞"),
    C.FIRE: ("smoke from a flat 居民楼冒烟", "stall fire at the market 摊位起火"),
    C.RESCUE: ("elderly man lost his way 老人走失", "child locked in a car 儿童被锁车内"),
    C.DISPUTE: (
        "neighbours quarrel over parking 邻里停车纠纷",
        "customer and vendor argue 买卖纠纷",
    ),
    C.OTHER: ("lost wallet handed in 拾到钱包", "noise complaint 噪音投诉"),
    C.INVALID: ("caller hung up 来电挂断", "test call 测试电话"),
    C.NON_POLICE: ("water pipe burst 水管爆裂", "streetlight out 路灯不亮"),
}

#: Which force staffs a fixed post, by ``post_kind`` (default: SWAT, 队).
_POST_FORCE: Final[Mapping[str, Force]] = {
    "train_station": F.ARMED_POLICE,
    "airport": F.ARMED_POLICE,
    "bus_station": F.TRAFFIC,
    "checkpoint": F.TRAFFIC,
    "hospital": F.TRAFFIC,
    "school_gate": F.TRAFFIC,
    "park": F.COMMUNITY,
}

#: Patrol (not response) speeds, m/s, capped at the force's response speed.
DEFAULT_PATROL_SPEEDS: Final[Mapping[Force, float]] = MappingProxyType(
    {
        F.SWAT: 6.0,
        F.STATION: 6.0,
        F.TRAFFIC: 7.0,
        F.ARMED_POLICE: 6.0,
        F.COMMUNITY: 4.0,
        F.VOLUNTEER: 1.4,
        F.FIRE: 0.0,
    }
)


class Activity(Enum):
    """What a simulated unit is doing (its terminal status follows from it)."""

    OFF = "off"
    AT_BASE = "at_base"
    PATROL = "patrol"
    HOLD = "hold"  # a volunteer waiting for their community officer
    JOIN = "join"  # a community officer on the way to a waiting volunteer
    TO_POST = "to_post"
    AT_POST = "at_post"
    ASSIGNED = "assigned"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    RETURNING = "returning"
    TO_BASE = "to_base"


_STATUS: Final[Mapping[Activity, UnitStatus]] = {
    Activity.OFF: UnitStatus.OFF_DUTY,
    Activity.AT_BASE: UnitStatus.AVAILABLE,
    Activity.PATROL: UnitStatus.AVAILABLE,
    Activity.HOLD: UnitStatus.AVAILABLE,
    Activity.JOIN: UnitStatus.AVAILABLE,
    Activity.TO_POST: UnitStatus.AVAILABLE,
    Activity.AT_POST: UnitStatus.AVAILABLE,
    Activity.ASSIGNED: UnitStatus.DISPATCHED,
    Activity.EN_ROUTE: UnitStatus.EN_ROUTE,
    Activity.ON_SCENE: UnitStatus.ON_SCENE,
    Activity.RETURNING: UnitStatus.RETURNING,
    Activity.TO_BASE: UnitStatus.RETURNING,
}
#: Activities in which a unit has not left its own work for an incident (it can be sent).
_FREE: Final = frozenset(
    {Activity.AT_BASE, Activity.PATROL, Activity.JOIN, Activity.TO_POST, Activity.AT_POST}
)

#: (at_ms, canonical topic, key, JSON object without ``event_id``)
Emission = tuple[int, str, str, dict[str, Any]]
_Route = list[tuple[int, float, float]]
_XY = tuple[float, float]


def to_ms(at: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware datetime (exact integer arithmetic)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the simulator needs timezone-aware datetimes")
    return (at - EPOCH) // _MS


# --- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SimConfig:
    """Everything that shapes a simulation. Same config (and city, policy) => same events."""

    #: First instant of event time (timezone-aware). See ``generator.default_start``.
    start: datetime
    #: Simulated span, seconds of event time: events fall in [start, start + duration).
    duration_s: float = 3600.0
    seed: int = 7
    #: On-duty units report every this many seconds (and at once on every status change).
    telemetry_interval_s: float = 10.0
    #: Off-duty units report every this many seconds.
    off_duty_interval_s: float = 900.0
    #: Mean 110 calls per hour over a whole day (the daily profile shapes the hours).
    calls_per_hour: float = 20.0
    #: Relative intensity per local hour 0..23 (normalised to mean 1).
    daily_profile: tuple[float, ...] = DAILY_PROFILE
    #: Share of calls found to be no incident (big cities: about a third).
    invalid_share: float = 0.30
    #: Share of calls diverted to another service (about a fifth).
    non_police_share: float = 0.15
    #: Relative weights of the dispatched categories (the rest of the calls).
    category_weights: Mapping[IncidentCategory, float] = field(
        default_factory=lambda: DEFAULT_CATEGORY_WEIGHTS
    )
    #: Share of calls outside every zone.
    outside_share: float = 0.02
    #: Of the calls inside the city, the share near a fixed post (weighted by its activity).
    near_post_share: float = 0.45
    #: Share of reports (inside a zone) that name their zone_id.
    zone_id_share: float = 0.7
    #: Share of reports carrying a (synthetic) caller_phone and summary.
    personal_data_share: float = 0.5
    #: Share of post handovers where the incoming crew arrives late (a short uncovered gap).
    late_handover_share: float = 0.2
    #: Per expected unit: declines / never acknowledges / departs without acknowledging.
    decline_share: float = 0.04
    no_ack_share: float = 0.02
    skip_ack_share: float = 0.03
    #: Per arriving unit: forgets to report arrival (its telemetry stops at the scene).
    forget_arrival_share: float = 0.08
    #: Per dispatched call: cancelled before anyone arrives.
    cancel_share: float = 0.03
    #: Per dispatched call: the 110 centre also sends a ``dispatched`` update naming the unit
    #: (a person assigning it). Calls outside every zone always get one (nobody else would).
    manual_dispatch_share: float = 0.0
    #: Criminal incidents that become a criminal case; public-order ones an administrative one.
    criminal_case_share: float = 0.6
    admin_case_share: float = 0.5
    #: Criminal cases solved (eventually).
    solved_share: float = 0.8
    #: Multiplies the case lags (filing ~1 day, solving ~1-2 weeks); < 1 for demos.
    case_time_scale: float = 1.0
    #: Share of extra deliberately bad records (not JSON, wrong types, unknown enums).
    bad_share: float = 0.0
    #: The reporting 110 centre (``source`` of every report).
    source: str = "sim-110"
    #: Patrol speeds per force (m/s), capped at the policy's response speed.
    patrol_speed_mps: Mapping[Force, float] = field(default_factory=lambda: DEFAULT_PATROL_SPEEDS)

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            problems.append("start: must be timezone-aware")
        for name in ("duration_s", "telemetry_interval_s", "off_duty_interval_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                problems.append(f"{name}: must be a positive number, not {value!r}")
        if not (math.isfinite(self.calls_per_hour) and self.calls_per_hour >= 0):
            problems.append(f"calls_per_hour: must be >= 0, not {self.calls_per_hour!r}")
        if len(self.daily_profile) != 24 or any(
            not (math.isfinite(v) and v >= 0) for v in self.daily_profile
        ):
            problems.append("daily_profile: needs 24 non-negative numbers")
        elif sum(self.daily_profile) <= 0:
            problems.append("daily_profile: needs a positive hour")
        for name in (
            "invalid_share",
            "non_police_share",
            "outside_share",
            "near_post_share",
            "zone_id_share",
            "personal_data_share",
            "late_handover_share",
            "decline_share",
            "no_ack_share",
            "skip_ack_share",
            "forget_arrival_share",
            "cancel_share",
            "manual_dispatch_share",
            "criminal_case_share",
            "admin_case_share",
            "solved_share",
            "bad_share",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                problems.append(f"{name}: must be a share in [0, 1], not {value!r}")
        if self.invalid_share + self.non_police_share > 1.0:
            problems.append("invalid_share + non_police_share: must not exceed 1")
        if self.decline_share + self.no_ack_share > 1.0:
            problems.append("decline_share + no_ack_share: must not exceed 1")
        weights = dict(self.category_weights)
        for category in weights:
            if IncidentCategory(category) in NEVER_DISPATCHED:
                problems.append(
                    f"category_weights: {category} is set by invalid_share/non_police_share"
                )
        if any(not (math.isfinite(w) and w >= 0) for w in weights.values()) or (
            sum(weights.values()) <= 0
        ):
            problems.append("category_weights: need non-negative weights, not all zero")
        if not (math.isfinite(self.case_time_scale) and self.case_time_scale > 0):
            problems.append(f"case_time_scale: must be positive, not {self.case_time_scale!r}")
        if problems:
            raise ValueError("invalid simulator config: " + "; ".join(problems))

    @property
    def end(self) -> datetime:
        return self.start + timedelta(milliseconds=round(self.duration_s * 1000))

    def category_shares(self) -> dict[IncidentCategory, float]:
        """The expected share of every category among calls (sums to 1)."""
        weights = {IncidentCategory(c): w for c, w in self.category_weights.items()}
        total = sum(weights.values())
        rest = 1.0 - self.invalid_share - self.non_police_share
        shares = {c: 0.0 for c in IncidentCategory}
        for category, weight in weights.items():
            shares[category] = rest * weight / total
        shares[C.INVALID] = self.invalid_share
        shares[C.NON_POLICE] = self.non_police_share
        return shares

    def hourly_rate(self, hour: int) -> float:
        """Expected calls per hour during local hour ``hour``."""
        mean = sum(self.daily_profile) / 24
        return self.calls_per_hour * self.daily_profile[hour] / mean


# --- the roster ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shift:
    """A duty window in local time on the days named (``mon``..``sun``, ``daily``,
    ``weekdays``, ``weekends`` or a calendar of the city); ``end_s < start_s`` crosses
    midnight, ``end_s == 86400`` ends at midnight."""

    days: tuple[str, ...]
    start_s: int
    end_s: int


def _h(hours: float) -> int:
    return round(hours * 3600)


_DAILY: Final = ("daily",)
_DAY_NIGHT: Final = {"d": Shift(_DAILY, _h(8), _h(20)), "n": Shift(_DAILY, _h(20), _h(8))}
_COMMUNITY: Final = {"a": Shift(_DAILY, _h(8), _h(16)), "b": Shift(_DAILY, _h(16), _h(24))}
_POST_CREWS: Final = {
    "a": Shift(_DAILY, 0, _h(8)),
    "b": Shift(_DAILY, _h(8), _h(16)),
    "c": Shift(_DAILY, _h(16), _h(24)),
}
_VOLUNTEER: Final = (Shift(_DAILY, _h(18), _h(21)), Shift(("weekends",), _h(9), _h(12)))
_ROUND_THE_CLOCK: Final = (Shift(_DAILY, 0, _h(24)),)


@dataclass(eq=False)
class SimUnit:
    """A simulated unit: fixed facts, its shifts, and its mutable state in the world."""

    unit_id: str
    force: Force
    region_id: str
    zone_id: str
    base: _XY
    patrol_zones: tuple[Zone, ...]
    speed_mps: float
    patrol_mps: float
    shifts: tuple[Shift, ...]
    post: Post | None = None
    post_xy: _XY | None = None
    #: On-duty intervals (ms), after handover lateness: set by the world.
    duty: tuple[tuple[int, int], ...] = ()
    rng: random.Random = field(default_factory=random.Random, repr=False)
    # --- state ------------------------------------------------------------------------------------
    on_duty: bool = False
    activity: Activity = Activity.OFF
    route: _Route = field(default_factory=list, repr=False)
    plan: int = 0
    fix_plan: int = 0
    incident: SimIncident | None = field(default=None, repr=False)
    forgot_arrival: bool = False
    partner: SimUnit | None = field(default=None, repr=False)
    return_to: _XY | None = None

    @property
    def status(self) -> UnitStatus:
        if self.activity is Activity.ON_SCENE and self.forgot_arrival:
            return UnitStatus.EN_ROUTE  # the terminal never heard of the arrival
        return _STATUS[self.activity]


def build_roster(
    city: City,
    policy: DispatchPolicy,
    *,
    seed: int,
    patrol_speed_mps: Mapping[Force, float] = DEFAULT_PATROL_SPEEDS,
) -> list[SimUnit]:
    """The units of a city (see the module docstring), in a fixed order."""
    plane = _plane(city)
    speeds = policy.speed_mps
    units: list[SimUnit] = []

    def add(
        unit_id: str,
        force: Force,
        zone: Zone,
        base: _XY,
        patrol: tuple[Zone, ...],
        shifts: tuple[Shift, ...],
        post: Post | None = None,
    ) -> None:
        patrol_mps = min(patrol_speed_mps.get(force, 5.0), speeds[force])
        units.append(
            SimUnit(
                unit_id=unit_id,
                force=force,
                region_id=zone.region_id,
                zone_id=zone.zone_id,
                base=base,
                patrol_zones=patrol,
                speed_mps=speeds[force],
                patrol_mps=patrol_mps,
                shifts=shifts,
                post=post,
                post_xy=None if post is None else plane.to_xy(post.lat, post.lon),
                rng=random.Random(f"{seed}:unit:{unit_id}"),
            )
        )

    def base_of(zone: Zone) -> _XY:
        return plane.to_xy(*zone.interior_point)

    for region_id, zone_ids in city.regions.items():
        zones = [city.zones[z] for z in zone_ids]
        urban = [z for z in zones if z.area_class != "suburban"] or zones
        hq = base_of(urban[0])
        for zone in zones:
            for crew, shift in _DAY_NIGHT.items():
                add(
                    f"u-station-{zone.zone_id}-{crew}",
                    F.STATION,
                    zone,
                    base_of(zone),
                    (zone,),
                    (shift,),
                )
        for zone in urban:
            for crew, shift in _COMMUNITY.items():
                add(
                    f"u-community-{zone.zone_id}-{crew}",
                    F.COMMUNITY,
                    zone,
                    base_of(zone),
                    (zone,),
                    (shift,),
                )
            add(
                f"u-volunteer-{zone.zone_id}-1",
                F.VOLUNTEER,
                zone,
                base_of(zone),
                (zone,),
                _VOLUNTEER,
            )
        for force, count, pool in (
            (F.SWAT, max(1, round(len(urban) / 3)), urban),
            (F.TRAFFIC, max(1, len(zones) // 3), zones),
            (F.ARMED_POLICE, max(1, len(zones) // 8), urban),
        ):
            for k in range(count):
                patrol = tuple(pool[k::count])
                for crew, shift in _DAY_NIGHT.items():
                    add(
                        f"u-{force.value}-{region_id}-{k + 1}{crew}",
                        force,
                        patrol[0],
                        hq,
                        patrol,
                        (shift,),
                    )
        fire_stations = max(1, len(zones) // 5)
        for k in range(fire_stations):
            zone = zones[k * len(zones) // fire_stations]
            add(f"u-fire-{zone.zone_id}", F.FIRE, zone, base_of(zone), (zone,), _ROUND_THE_CLOCK)
    for post in city.posts.values():
        zone = city.zones[post.zone_id]
        force = _POST_FORCE.get(post.post_kind or "", F.SWAT)
        if post.schedule is None:
            for crew, shift in _POST_CREWS.items():
                add(
                    f"u-{force.value}-{post.post_id}-{crew}",
                    force,
                    zone,
                    base_of(zone),
                    (zone,),
                    (shift,),
                    post,
                )
        else:
            windows = tuple(Shift(w.days, w.start_s, w.end_s) for w in post.schedule)
            add(
                f"u-{force.value}-{post.post_id}",
                force,
                zone,
                base_of(zone),
                (zone,),
                windows,
                post,
            )
    return units


def _plane(city: City) -> LocalPlane:
    # Plain Python floats: the city's plane may hold numpy scalars.
    return LocalPlane(lat0=float(city.plane.lat0), lon0=float(city.plane.lon0))


# --- incidents ----------------------------------------------------------------------------------


@dataclass(eq=False)
class _Slot:
    forces: frozenset[Force]
    tried: list[str] = field(default_factory=list)
    unit: SimUnit | None = None
    attempts: int = 0


@dataclass(eq=False)
class SimIncident:
    """A dispatched incident while the simulator plays its units."""

    incident_id: str
    category: IncidentCategory
    priority: int
    x: float
    y: float
    region_id: str
    zone_id: str | None
    reported_ms: int
    manual: bool
    on_scene_ms: int
    slots: list[_Slot] = field(default_factory=list)
    ended: bool = False
    lead: SimUnit | None = None


# --- the world ----------------------------------------------------------------------------------


class World:
    """The discrete-event simulation. Build it, then iterate :meth:`events` once."""

    def __init__(self, config: SimConfig, city: City, policy: DispatchPolicy) -> None:
        self.config = config
        self.city = city
        self.policy = policy
        self.plane = _plane(city)
        self.tz = city.timezone
        self.start_ms = to_ms(config.start)
        self.end_ms = self.start_ms + round(config.duration_s * 1000)
        self.now = self.start_ms
        seed = config.seed
        self.run_tag = f"S{seed}"
        self._rng_calls = random.Random(f"{seed}:calls")
        self._rng_life = random.Random(f"{seed}:life")
        self._tele_ms = max(100, round(config.telemetry_interval_s * 1000))
        self._off_ms = max(100, round(config.off_duty_interval_s * 1000))
        self._ack_timeout_ms = round(policy.ack_timeout_s * 1000)
        self._heap: list[tuple[int, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = 0
        self._out: list[Emission] = []
        self._incident_seq = 0
        self._case_seq = 0
        self._started = False

        self.units: list[SimUnit] = build_roster(
            city, policy, seed=seed, patrol_speed_mps=config.patrol_speed_mps
        )
        self._zone_bounds = {
            z.zone_id: tuple(float(b) for b in z.geometry.bounds) for z in city.zones.values()
        }
        zone_list = list(city.zones.values())
        self._zones = zone_list
        self._zone_weights = [1.0 if z.area_class != "suburban" else 0.35 for z in zone_list]
        self._posts = list(city.posts.values())
        minx, miny, maxx, maxy = (
            float(b) for b in shapely.total_bounds([z.geometry for z in zone_list])
        )
        pad_lat, pad_lon = 0.04, 0.06  # ~4 km
        self._outside_box = (minx - pad_lon, miny - pad_lat, maxx + pad_lon, maxy + pad_lat)
        self._plan_duty()

    # --- the engine ------------------------------------------------------------------------------

    def _at(self, t: int, fn: Callable[..., None], *args: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (max(t, self.now), self._seq, fn, args))

    def events(self) -> Iterator[Emission]:
        """Run the simulation; yield every emission in event-time order (ties: causal order)."""
        if self._started:
            raise RuntimeError("a World runs once")
        self._started = True
        self._init_units()
        self._schedule_next_call(self.start_ms)
        heap = self._heap
        while heap and heap[0][0] < self.end_ms:
            t, _, fn, args = heapq.heappop(heap)
            self.now = t
            fn(*args)
            if self._out:
                out, self._out = self._out, []
                yield from out

    def _emit(self, topic: str, key: str, payload: dict[str, Any]) -> None:
        self._out.append((self.now, topic, key, payload))

    def fmt(self, t: int) -> str:
        """RFC 3339 in the city's local time with milliseconds (``...T20:30:00.123+08:00``)."""
        seconds, millis = divmod(t, 1000)
        local = datetime.fromtimestamp(seconds, self.tz).replace(microsecond=millis * 1000)
        return local.isoformat(timespec="milliseconds")

    def local(self, t: int) -> datetime:
        return datetime.fromtimestamp(t // 1000, self.tz)

    # --- duty ------------------------------------------------------------------------------------

    def _local_ms(self, day: date, seconds: int) -> int:
        midnight = datetime.combine(day, time(), tzinfo=self.tz)
        return to_ms(midnight + timedelta(seconds=seconds))

    def _nominal_duty(self, unit: SimUnit) -> list[tuple[int, int]]:
        first = self.local(self.start_ms).date() - timedelta(days=1)
        last = self.local(self.end_ms).date() + timedelta(days=1)
        intervals: list[tuple[int, int]] = []
        day = first
        while day <= last:
            for shift in unit.shifts:
                if any(self.city.day_matches(token, day) for token in shift.days):
                    begin = self._local_ms(day, shift.start_s)
                    if shift.end_s > shift.start_s:
                        end = self._local_ms(day, shift.end_s)
                    else:
                        end = self._local_ms(day + timedelta(days=1), shift.end_s)
                    intervals.append((begin, end))
            day += timedelta(days=1)
        intervals.sort()
        merged: list[tuple[int, int]] = []
        for begin, end in intervals:
            if merged and begin <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((begin, end))
        return merged

    def _plan_duty(self) -> None:
        """Actual duty intervals: a post crew sets off from its base so as to arrive a few
        minutes early, or (a share of handovers) late; it leaves the post at the shift's end.
        Each handover draws from its own seed, so a longer run extends a shorter one."""
        for unit in self.units:
            nominal = self._nominal_duty(unit)
            if unit.post_xy is None:
                unit.duty = tuple(nominal)
                continue
            travel = self._travel_ms(unit.base, unit.post_xy, unit.speed_mps)
            actual: list[tuple[int, int]] = []
            for begin, end in nominal:
                rng = random.Random(f"{self.config.seed}:handover:{unit.unit_id}:{begin}")
                if rng.random() < self.config.late_handover_share:
                    offset = round(rng.uniform(2, 12) * _MIN)
                else:
                    offset = -round(rng.uniform(1, 5) * _MIN)
                actual.append((begin + offset - travel, end))
            unit.duty = tuple(actual)

    def on_duty_count(self, t: int) -> int:
        """Units whose (actual) duty covers ``t``: the roster's plan, not what they report."""
        return sum(1 for u in self.units if any(b <= t < e for b, e in u.duty))

    def _init_units(self) -> None:
        start = self.start_ms
        volunteers: list[SimUnit] = []
        for unit in self.units:
            current = next(((b, e) for b, e in unit.duty if b <= start < e), None)
            if current is None:
                self._stay(unit, start, unit.base)
                unit.activity = Activity.OFF
            else:
                unit.on_duty = True
                self._at(current[1], self._off_duty, unit)
                if unit.force is F.VOLUNTEER:
                    self._stay(unit, start, unit.base)
                    unit.activity = Activity.HOLD
                    volunteers.append(unit)
                elif unit.post_xy is not None:
                    self._stay(unit, start, unit.post_xy)
                    unit.activity = Activity.AT_POST
                elif unit.force is F.FIRE:
                    self._stay(unit, start, unit.base)
                    unit.activity = Activity.AT_BASE
                else:
                    zone = unit.patrol_zones[unit.rng.randrange(len(unit.patrol_zones))]
                    self._stay(unit, start, self._point_in_zone(unit.rng, zone))
                    self._patrol_leg(unit)
            for begin, end in unit.duty:
                if begin > start:
                    self._at(begin, self._on_duty, unit)
                    self._at(end, self._off_duty, unit)
            unit.fix_plan += 1
            self._at(start + unit.rng.randrange(self._tele_ms), self._fix_tick, unit, unit.fix_plan)
        for volunteer in volunteers:
            self._volunteer_joins(volunteer)

    def _on_duty(self, unit: SimUnit) -> None:
        unit.on_duty = True
        if unit.incident is not None or unit.activity is not Activity.OFF:
            return  # still busy (overtime) or on the way back to base: starts from there
        self._start_work(unit)

    def _start_work(self, unit: SimUnit) -> None:
        if unit.force is F.VOLUNTEER:
            self._volunteer_joins(unit)
        elif unit.post_xy is not None:
            unit.activity = Activity.TO_POST
            end = self._travel(unit, unit.post_xy, unit.speed_mps)
            self._at(end, self._reached_post, unit, unit.plan)
        elif unit.force is F.FIRE:
            unit.activity = Activity.AT_BASE
        elif unit.force is F.COMMUNITY and (waiting := self._waiting_volunteer(unit)):
            self._join(unit, waiting)
        else:
            self._patrol_leg(unit)
        self._fix_now(unit)

    def _off_duty(self, unit: SimUnit) -> None:
        unit.on_duty = False
        if unit.incident is not None:
            return  # finishes the job first, then goes back to base
        if unit.force is F.VOLUNTEER:
            self._drop_partner(unit)
            unit.activity = Activity.OFF  # goes home from where they are
            self._stay(unit, self.now)
            self._fix_now(unit)
            return
        self._go_to_base(unit)

    def _drop_partner(self, unit: SimUnit) -> None:
        """A volunteer or community officer goes off duty: the other carries on alone, or (a
        volunteer) waits for the next community officer of the zone, who comes to fetch them."""
        partner = unit.partner
        if partner is None:
            return
        unit.partner = partner.partner = None
        if unit.force is F.VOLUNTEER:
            if partner.activity is Activity.PATROL:
                self._patrol_leg(partner)  # the officer carries on alone, at its own pace
            return
        if not partner.on_duty:
            return
        if partner.activity is Activity.PATROL:
            partner.activity = Activity.HOLD
            self._stay(partner, self.now)
        relief = self._community_of(partner)
        if relief is not None:
            relief.partner, partner.partner = partner, relief
            if relief.incident is None and relief.activity is Activity.PATROL:
                self._join(relief, partner)

    def _go_to_base(self, unit: SimUnit) -> None:
        """The shift is over: back to base, then off duty."""
        self._drop_partner(unit)
        x, y, _ = self._where(unit, self.now)
        if math.hypot(x - unit.base[0], y - unit.base[1]) < 1.0:
            unit.activity = Activity.OFF
            self._stay(unit, self.now, unit.base)
        else:
            unit.activity = Activity.TO_BASE
            end = self._travel(unit, unit.base, unit.speed_mps)
            self._at(end, self._reached_base, unit, unit.plan)
        self._fix_now(unit)

    def _reached_base(self, unit: SimUnit, plan: int) -> None:
        if plan != unit.plan or unit.activity is not Activity.TO_BASE:
            return
        unit.activity = Activity.OFF
        if unit.on_duty:
            self._start_work(unit)  # the next shift began on the way back
        else:
            self._fix_now(unit)

    def _reached_post(self, unit: SimUnit, plan: int) -> None:
        if plan != unit.plan or unit.activity not in (Activity.TO_POST, Activity.RETURNING):
            return
        unit.activity = Activity.AT_POST
        self._fix_now(unit)

    # --- volunteers walk with community officers -------------------------------------------------

    def _community_of(self, volunteer: SimUnit) -> SimUnit | None:
        for unit in self.units:
            if (
                unit.force is F.COMMUNITY
                and unit.zone_id == volunteer.zone_id
                and unit.on_duty
                and unit.post is None
                and unit.partner in (None, volunteer)
            ):
                return unit
        return None

    def _waiting_volunteer(self, community: SimUnit) -> SimUnit | None:
        for unit in self.units:
            if (
                unit.force is F.VOLUNTEER
                and unit.zone_id == community.zone_id
                and unit.on_duty
                and unit.activity is Activity.HOLD
                and unit.partner in (None, community)
            ):
                return unit
        return None

    def _volunteer_joins(self, volunteer: SimUnit) -> None:
        community = self._community_of(volunteer)
        if community is None:
            volunteer.activity = Activity.HOLD  # waits at the station for an officer
            self._stay(volunteer, self.now, volunteer.base)
        elif community.incident is None and community.activity is Activity.PATROL:
            x, y, _ = self._where(community, self.now)
            self._stay(volunteer, self.now, (x, y))
            self._walk_together(volunteer, community)
        else:
            volunteer.partner, community.partner = community, volunteer
            volunteer.activity = Activity.HOLD  # the officer comes back for them
            self._stay(volunteer, self.now, volunteer.base)
        self._fix_now(volunteer)

    def _join(self, community: SimUnit, volunteer: SimUnit) -> None:
        community.partner, volunteer.partner = volunteer, community
        community.activity = Activity.JOIN
        target = self._where(volunteer, self.now)
        end = self._travel(community, (target[0], target[1]), community.speed_mps)
        self._at(end, self._joined, community, community.plan)

    def _joined(self, community: SimUnit, plan: int) -> None:
        if plan != community.plan or community.activity not in (Activity.JOIN, Activity.RETURNING):
            return
        volunteer = community.partner
        if volunteer is not None and volunteer.on_duty and volunteer.activity is Activity.HOLD:
            self._walk_together(volunteer, community)
        else:
            community.partner = None
            self._patrol_leg(community)
        self._fix_now(community)

    def _walk_together(self, volunteer: SimUnit, community: SimUnit) -> None:
        volunteer.partner, community.partner = community, volunteer
        community.activity = Activity.PATROL
        self._patrol_leg(volunteer)  # the volunteer sets the pace; the officer follows

    # --- patrols ---------------------------------------------------------------------------------

    def _patrol_leg(self, unit: SimUnit) -> None:
        unit.activity = Activity.PATROL
        partner = unit.partner
        if unit.force is F.COMMUNITY and partner is not None and partner.on_duty:
            if partner.activity is Activity.HOLD:
                self._join(unit, partner)  # the volunteer waits: fetch them
            return  # else the volunteer leads the pair
        if unit.patrol_mps <= 0:
            self._stay(unit, self.now)
            return
        rng = unit.rng
        x, y, _ = self._where(unit, self.now)
        foot = unit.patrol_mps < 2.0
        target = self._patrol_target(unit, (x, y), 500.0 if foot else 1500.0)
        if foot:
            dwell = rng.uniform(0, 240)
        else:
            dwell = rng.uniform(0, 90) if rng.random() < 0.7 else rng.uniform(120, 600)
        end = self._travel(unit, target, unit.patrol_mps, dwell_ms=round(dwell * 1000))
        self._at(end, self._patrol_done, unit, unit.plan)
        if (
            unit.force is F.VOLUNTEER
            and partner is not None
            and partner.partner is unit
            and partner.activity is Activity.PATROL
        ):
            partner.route = unit.route
            partner.plan += 1

    def _patrol_done(self, unit: SimUnit, plan: int) -> None:
        if plan == unit.plan and unit.activity is Activity.PATROL:
            self._patrol_leg(unit)

    def _patrol_target(self, unit: SimUnit, here: _XY, radius: float) -> _XY:
        rng = unit.rng
        for _ in range(30):
            angle = rng.uniform(0, 2 * math.pi)
            dist = radius * math.sqrt(rng.uniform(0.05, 1.0))
            x, y = here[0] + dist * math.cos(angle), here[1] + dist * math.sin(angle)
            lat, lon = self.plane.to_latlon(x, y)
            if any(shapely.contains_xy(z.geometry, lon, lat) for z in unit.patrol_zones):
                return x, y
        zone = unit.patrol_zones[rng.randrange(len(unit.patrol_zones))]
        return self._point_in_zone(rng, zone)

    def _point_in_zone(self, rng: random.Random, zone: Zone) -> _XY:
        minx, miny, maxx, maxy = self._zone_bounds[zone.zone_id]
        for _ in range(200):
            lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if shapely.contains_xy(zone.geometry, lon, lat):
                return self.plane.to_xy(lat, lon)
        return self.plane.to_xy(*zone.interior_point)

    # --- movement --------------------------------------------------------------------------------

    def _where(self, unit: SimUnit, t: int) -> tuple[float, float, float]:
        """Position (x, y) and speed (m/s) of a unit at ``t`` along its route."""
        route = unit.route
        t0, x0, y0 = route[0]
        if t <= t0:
            return x0, y0, 0.0
        for t1, x1, y1 in route[1:]:
            if t < t1:
                f = (t - t0) / (t1 - t0)
                length = math.hypot(x1 - x0, y1 - y0)
                return x0 + f * (x1 - x0), y0 + f * (y1 - y0), length * 1000 / (t1 - t0)
            t0, x0, y0 = t1, x1, y1
        return x0, y0, 0.0

    def _stay(self, unit: SimUnit, t: int, at: _XY | None = None) -> None:
        if at is None:
            x, y, _ = self._where(unit, t)
            at = (x, y)
        unit.route = [(t, at[0], at[1])]
        unit.plan += 1

    def _travel_ms(self, a: _XY, b: _XY, speed: float) -> int:
        return round((abs(b[0] - a[0]) + abs(b[1] - a[1])) / speed * 1000)

    def _travel(self, unit: SimUnit, target: _XY, speed: float, *, dwell_ms: int = 0) -> int:
        """Send the unit along an L-shaped street path at ``speed``; returns the arrival time
        (plus ``dwell_ms`` standing there)."""
        t = self.now
        x0, y0, _ = self._where(unit, t)
        x1, y1 = target
        corner = (x1, y0) if unit.rng.random() < 0.5 else (x0, y1)
        route: _Route = [(t, x0, y0)]
        px, py = x0, y0
        for qx, qy in (corner, (x1, y1)):
            length = abs(qx - px) + abs(qy - py)
            if length > 0.01:
                t += max(1, round(length / speed * 1000))
                route.append((t, qx, qy))
                px, py = qx, qy
        if dwell_ms > 0:
            t += dwell_ms
            route.append((t, x1, y1))
        unit.route = route
        unit.plan += 1
        return t

    # --- telemetry -------------------------------------------------------------------------------

    def _fix_tick(self, unit: SimUnit, plan: int) -> None:
        if plan == unit.fix_plan:
            self._fix_now(unit)

    def _fix_now(self, unit: SimUnit) -> None:
        t = self.now
        x, y, speed = self._where(unit, t)
        lat, lon = self.plane.to_latlon(x, y)
        payload: dict[str, Any] = {
            "unit_id": unit.unit_id,
            "at": self.fmt(t),
            "location": {"lat": round(lat, 6), "lon": round(lon, 6)},
            "status": unit.status.value,
            "force": unit.force.value,
        }
        if unit.activity is Activity.AT_POST and unit.post is not None:
            payload["post_id"] = unit.post.post_id
        payload["speed_mps"] = round(speed, 2)
        payload["region_id"] = unit.region_id
        self._emit(topics.UNITS_TELEMETRY, unit.unit_id, payload)
        unit.fix_plan += 1
        interval = self._off_ms if unit.activity is Activity.OFF else self._tele_ms
        self._at(t + interval, self._fix_tick, unit, unit.fix_plan)

    # --- calls -----------------------------------------------------------------------------------

    def _schedule_next_call(self, t: int) -> None:
        rng = self._rng_calls
        while t < self.end_ms:
            local = self.local(t)
            boundary = to_ms(local.replace(minute=0, second=0) + timedelta(hours=1))
            if boundary <= t:  # a daylight-saving jump: fall back to the next UTC hour
                boundary = t - t % _HOUR + _HOUR
            per_ms = self.config.hourly_rate(local.hour) / _HOUR
            if per_ms > 0:
                gap = rng.expovariate(per_ms)
                if t + gap < boundary:
                    self._at(max(t + 1, round(t + gap)), self._call)
                    return
            t = boundary

    def _call(self) -> None:
        t = self.now
        rng = self._rng_calls
        config = self.config
        shares = config.category_shares()
        category = rng.choices(list(shares), weights=list(shares.values()))[0]
        priority = rng.choices((1, 2, 3), weights=_PRIORITY_WEIGHTS[category])[0]
        x, y = self._call_location(rng, t)
        lat, lon = self.plane.to_latlon(x, y)
        lat, lon = round(lat, 6), round(lon, 6)
        region_id, zone_id = self.city.region_of_point(lat, lon)
        self._incident_seq += 1
        incident_id = f"{self.run_tag}-{self.local(t):%Y%m%d}-{self._incident_seq:06d}"
        payload: dict[str, Any] = {
            "incident_id": incident_id,
            "reported_at": self.fmt(t),
            "category": category.value,
            "priority": priority,
            "location": {"lat": lat, "lon": lon},
        }
        if zone_id is not None and rng.random() < config.zone_id_share:
            payload["zone_id"] = zone_id
        payload["source"] = config.source
        if rng.random() < config.personal_data_share:
            payload["summary"] = "[SIMULATED] " + rng.choice(_SUMMARIES[category])
            payload["caller_phone"] = (
                f"+86-000-{rng.randrange(10_000):04d}-{rng.randrange(10_000):04d}"
            )
        self._emit(topics.INCIDENTS_REPORTED, incident_id, payload)
        self._schedule_next_call(t)

        life = self._rng_life
        if category is C.INVALID:
            self._at(t + round(life.uniform(20, 180) * 1000), self._closed, incident_id)
            return
        if category is C.NON_POLICE:
            self._at(t + round(life.uniform(60, 300) * 1000), self._closed, incident_id)
            return
        median, sigma = _ON_SCENE[category]
        on_scene = life.lognormvariate(math.log(median), sigma)
        if category is C.TRAFFIC and life.random() < 0.03:
            on_scene = life.uniform(180, 300)  # a spilled load: the road is blocked for hours
        manual = zone_id is None or life.random() < config.manual_dispatch_share
        incident = SimIncident(
            incident_id=incident_id,
            category=category,
            priority=priority,
            x=x,
            y=y,
            region_id=region_id,
            zone_id=zone_id,
            reported_ms=t,
            manual=manual,
            on_scene_ms=round(min(on_scene, 360.0) * _MIN),
        )
        # Outside every zone nobody is dispatched automatically: a person assigns a unit.
        delay = life.uniform(60, 180) if zone_id is None else life.uniform(1, 4)
        self._at(t + round(delay * 1000), self._start_dispatch, incident)
        if life.random() < config.cancel_share:
            self._at(t + round(life.uniform(90, 900) * 1000), self._cancel, incident)
        self._at(t + 45 * _MIN, self._abandon, incident)

    def _call_location(self, rng: random.Random, t: int) -> _XY:
        config = self.config
        if rng.random() < config.outside_share:
            return self._outside_point(rng)
        if rng.random() < config.near_post_share:
            local = self.local(t)
            weights = [
                _post_activity(p.post_kind, local.hour)
                * (1.0 if self.city.post_staffed(p.post_id, local) else 0.3)
                for p in self._posts
            ]
            post = rng.choices(self._posts, weights=weights)[0]
            px, py = self.plane.to_xy(post.lat, post.lon)
            for _ in range(20):
                angle = rng.uniform(0, 2 * math.pi)
                dist = rng.uniform(30, 400)
                x, y = px + dist * math.cos(angle), py + dist * math.sin(angle)
                if self.city.zone_at(*self.plane.to_latlon(x, y)) is not None:
                    return x, y
            return px, py
        zone = rng.choices(self._zones, weights=self._zone_weights)[0]
        return self._point_in_zone(rng, zone)

    def _outside_point(self, rng: random.Random) -> _XY:
        minx, miny, maxx, maxy = self._outside_box
        while True:
            lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if self.city.zone_at(lat, lon) is None:
                return self.plane.to_xy(lat, lon)

    # --- the units' side of an incident ----------------------------------------------------------

    def _update(
        self,
        incident_id: str,
        kind: UpdateKind,
        unit: SimUnit | None = None,
        *,
        case_id: str | None = None,
        case_type: CaseType | None = None,
    ) -> None:
        payload: dict[str, Any] = {
            "incident_id": incident_id,
            "at": self.fmt(self.now),
            "kind": kind.value,
        }
        if unit is not None:
            payload["unit_id"] = unit.unit_id
        if case_id is not None and case_type is not None:
            payload["case_id"] = case_id
            payload["case_type"] = case_type.value
        self._emit(topics.INCIDENTS_UPDATES, incident_id, payload)

    def _start_dispatch(self, incident: SimIncident) -> None:
        if incident.ended:
            return
        for spec in self.policy.slots(incident.category, incident.priority):
            if spec.forces == {F.VOLUNTEER}:
                continue  # the volunteer escort: in this model volunteers wait for their officer
            slot = _Slot(forces=spec.forces)
            incident.slots.append(slot)
            self._fill(incident, slot)

    def _choose(self, incident: SimIncident, forces: frozenset[Force]) -> SimUnit | None:
        """The unit the simulator expects patrolflow to send: a simple model of the policy."""
        exclude = {s.unit.unit_id for s in incident.slots if s.unit is not None}
        for slot in incident.slots:
            exclude.update(slot.tried)
        policy = self.policy
        best: tuple[float, str, SimUnit] | None = None
        for unit in self.units:
            if (
                unit.force not in forces
                or unit.force is F.VOLUNTEER
                or not unit.on_duty
                or unit.incident is not None
                or unit.activity not in _FREE
                or unit.region_id != incident.region_id
                or unit.unit_id in exclude
            ):
                continue
            x, y, _ = self._where(unit, self.now)
            eta = math.hypot(x - incident.x, y - incident.y) * policy.detour_factor
            eta /= unit.speed_mps
            if incident.zone_id is not None:
                standing = self.city.zone_at(*self.plane.to_latlon(x, y))
                if standing is not None and standing.zone_id == incident.zone_id:
                    eta -= policy.own_zone_preference_s  # the own-zone near tie
            if unit.activity is Activity.AT_POST:
                eta += policy.post_margin_s  # spare the post if anyone else is close
            if best is None or (eta, unit.unit_id) < best[:2]:
                best = (eta, unit.unit_id, unit)
        return None if best is None else best[2]

    def _fill(self, incident: SimIncident, slot: _Slot) -> None:
        if incident.ended or slot.unit is not None:
            return
        if slot.attempts >= self.policy.max_attempts_per_slot:
            return  # patrolflow reports the slot unfilled
        unit = self._choose(incident, slot.forces)
        if unit is None:
            if self.now - incident.reported_ms < 30 * _MIN:
                self._at(self.now + _MIN, self._fill, incident, slot)
            return
        slot.attempts += 1
        slot.unit = unit
        unit.incident = incident
        if incident.manual:
            self._update(incident.incident_id, UpdateKind.DISPATCHED, unit)
        config, life = self.config, self._rng_life
        fate = life.random()
        if fate < config.no_ack_share:
            self._at(self.now + self._ack_timeout_ms + 1, self._no_answer, incident, slot, unit)
        elif fate < config.no_ack_share + config.decline_share:
            self._at(
                self.now + round(life.uniform(5, 25) * 1000), self._decline, incident, slot, unit
            )
        else:
            delay = min(life.lognormvariate(math.log(8.0), 0.7), 0.9 * self.policy.ack_timeout_s)
            self._at(
                self.now + round(max(1.0, delay) * 1000), self._acknowledge, incident, slot, unit
            )

    def _unassign(self, incident: SimIncident, slot: _Slot, unit: SimUnit) -> None:
        slot.unit = None
        slot.tried.append(unit.unit_id)
        unit.incident = None
        if not unit.on_duty:
            self._go_to_base(unit)
        self._fill(incident, slot)

    def _decline(self, incident: SimIncident, slot: _Slot, unit: SimUnit) -> None:
        if incident.ended or slot.unit is not unit:
            return
        self._update(incident.incident_id, UpdateKind.DECLINED, unit)
        self._unassign(incident, slot, unit)

    def _no_answer(self, incident: SimIncident, slot: _Slot, unit: SimUnit) -> None:
        if incident.ended or slot.unit is not unit:
            return
        self._unassign(incident, slot, unit)  # patrolflow's acknowledgement timeout

    def _acknowledge(self, incident: SimIncident, slot: _Slot, unit: SimUnit) -> None:
        if incident.ended or slot.unit is not unit:
            return
        life = self._rng_life
        if life.random() >= self.config.skip_ack_share:
            self._update(incident.incident_id, UpdateKind.ACKNOWLEDGED, unit)
        if unit.force is F.FIRE:
            turnout = life.lognormvariate(math.log(70.0), 0.3)
        elif unit.activity is Activity.AT_POST or unit.force is F.COMMUNITY:
            turnout = life.lognormvariate(math.log(30.0), 0.6)
        else:
            turnout = life.lognormvariate(math.log(50.0), 0.7)
        x, y, _ = self._where(unit, self.now)
        unit.return_to = (x, y)
        unit.activity = Activity.ASSIGNED
        self._stay(unit, self.now)
        partner = unit.partner
        if (
            unit.force is F.COMMUNITY
            and partner is not None
            and partner.activity is Activity.PATROL
        ):
            partner.activity = Activity.HOLD  # the volunteer waits where they are
            self._stay(partner, self.now)
        self._fix_now(unit)
        self._at(self.now + round(min(turnout, 900.0) * 1000), self._depart, incident, slot, unit)

    def _depart(self, incident: SimIncident, slot: _Slot, unit: SimUnit) -> None:
        if incident.ended or slot.unit is not unit:
            return
        self._update(incident.incident_id, UpdateKind.EN_ROUTE, unit)
        unit.activity = Activity.EN_ROUTE
        end = self._travel(unit, (incident.x, incident.y), unit.speed_mps)
        self._at(end, self._arrive, incident, slot, unit, unit.plan)
        self._fix_now(unit)

    def _arrive(self, incident: SimIncident, slot: _Slot, unit: SimUnit, plan: int) -> None:
        if incident.ended or slot.unit is not unit or plan != unit.plan:
            return
        unit.forgot_arrival = self._rng_life.random() < self.config.forget_arrival_share
        if not unit.forgot_arrival:
            self._update(incident.incident_id, UpdateKind.ARRIVED, unit)
        unit.activity = Activity.ON_SCENE
        self._fix_now(unit)
        if incident.lead is None:
            incident.lead = unit
            self._at(self.now + incident.on_scene_ms, self._clear, incident)

    def _clear(self, incident: SimIncident) -> None:
        if incident.ended:
            return
        lead = incident.lead
        self._update(incident.incident_id, UpdateKind.CLEARED, lead)
        self._end(incident)
        life, config = self._rng_life, self.config
        feedback = min(max(life.lognormvariate(math.log(40.0), 0.8), 2.0), 480.0)
        at = self.now + round(feedback * _MIN)
        self._at(at, self._feedback, incident.incident_id, lead)
        self._at(at + round(life.uniform(1, 15) * _MIN), self._closed, incident.incident_id)
        scale = config.case_time_scale
        if incident.category is C.CRIMINAL and life.random() < config.criminal_case_share:
            lag = life.lognormvariate(math.log(20.0), 0.8) * _HOUR * scale
            solved = life.random() < config.solved_share
            self._at(
                self.now + round(lag),
                self._case_filed,
                incident.incident_id,
                CaseType.CRIMINAL,
                solved,
            )
        elif incident.category is C.PUBLIC_ORDER and life.random() < config.admin_case_share:
            lag = life.lognormvariate(math.log(6.0), 0.8) * _HOUR * scale
            self._at(
                self.now + round(lag),
                self._case_filed,
                incident.incident_id,
                CaseType.ADMINISTRATIVE,
                False,
            )

    def _cancel(self, incident: SimIncident) -> None:
        if incident.ended or incident.lead is not None:
            return  # somebody is already there: the call is handled, not cancelled
        self._update(incident.incident_id, UpdateKind.CANCELLED)
        self._end(incident)

    def _abandon(self, incident: SimIncident) -> None:
        if incident.ended or incident.lead is not None:
            return
        self._update(incident.incident_id, UpdateKind.CLOSED)  # settled by phone, or nobody came
        self._end(incident)

    def _end(self, incident: SimIncident) -> None:
        incident.ended = True
        for slot in incident.slots:
            unit = slot.unit
            if unit is not None:
                slot.unit = None
                unit.incident = None
                self._release(unit)

    def _release(self, unit: SimUnit) -> None:
        """The unit is done with its incident: back to its post, its volunteer, its patrol
        area or (shift over) its base."""
        unit.forgot_arrival = False
        if unit.activity in _FREE:
            if not unit.on_duty:
                self._go_to_base(unit)  # committed but never acknowledged; the shift is over
            return
        if not unit.on_duty:
            self._go_to_base(unit)
            return
        unit.activity = Activity.RETURNING
        partner = unit.partner
        if unit.post_xy is not None:
            end = self._travel(unit, unit.post_xy, unit.speed_mps)
            self._at(end, self._reached_post, unit, unit.plan)
        elif unit.force is F.FIRE:
            end = self._travel(unit, unit.base, unit.speed_mps)
            self._at(end, self._back_at_base, unit, unit.plan)
        elif partner is not None and partner.on_duty and partner.activity is Activity.HOLD:
            x, y, _ = self._where(partner, self.now)
            end = self._travel(unit, (x, y), unit.speed_mps)
            self._at(end, self._joined, unit, unit.plan)
        else:
            x, y, _ = self._where(unit, self.now)
            end = self._travel(unit, unit.return_to or (x, y), unit.speed_mps)
            self._at(end, self._back_on_patrol, unit, unit.plan)
        self._fix_now(unit)

    def _back_at_base(self, unit: SimUnit, plan: int) -> None:
        if plan == unit.plan and unit.activity is Activity.RETURNING:
            unit.activity = Activity.AT_BASE
            self._fix_now(unit)

    def _back_on_patrol(self, unit: SimUnit, plan: int) -> None:
        if plan == unit.plan and unit.activity is Activity.RETURNING:
            self._patrol_leg(unit)
            self._fix_now(unit)

    def _feedback(self, incident_id: str, unit: SimUnit | None) -> None:
        self._update(incident_id, UpdateKind.FEEDBACK, unit)

    def _closed(self, incident_id: str) -> None:
        self._update(incident_id, UpdateKind.CLOSED)

    def _case_filed(self, incident_id: str, case_type: CaseType, solved: bool) -> None:
        self._case_seq += 1
        tag = "XS" if case_type is CaseType.CRIMINAL else "XZ"  # 刑事 / 行政
        case_id = f"{self.run_tag}-{tag}-{self._case_seq:05d}"
        self._update(incident_id, UpdateKind.CASE_FILED, case_id=case_id, case_type=case_type)
        if solved:
            lag = self._rng_life.lognormvariate(math.log(10.0), 0.8) * _DAY
            lag *= self.config.case_time_scale
            self._at(self.now + round(lag), self._case_solved, incident_id, case_id)

    def _case_solved(self, incident_id: str, case_id: str) -> None:
        self._update(
            incident_id, UpdateKind.CASE_SOLVED, case_id=case_id, case_type=CaseType.CRIMINAL
        )


def _post_activity(kind: str | None, hour: int) -> float:
    """How many calls a post of this kind draws at this local hour (relative)."""
    evening = hour >= 18 or hour < 1
    night = 1 <= hour < 6
    if kind == "night_market":
        return 4.0 if evening else (0.2 if night else 0.5)
    if kind in ("train_station", "bus_station", "airport"):
        if hour in (7, 8, 17, 18):
            return 2.5
        return 0.3 if night else 1.0
    if kind == "square":
        return 2.0 if evening else (0.2 if night else 1.0)
    if kind in ("shopping_street", "shopping_mall"):
        return 1.5 if 10 <= hour < 22 else 0.2
    if kind == "market":
        return 1.5 if 6 <= hour < 12 else (0.1 if night else 0.6)
    if kind == "school_gate":
        return 1.5 if hour in (7, 16) else 0.1
    if kind == "hospital":
        return 0.4 if night else 1.0
    return 0.2 if night else 0.7
