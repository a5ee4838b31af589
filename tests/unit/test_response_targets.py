"""Targets from the quick-response circles, zone defaults and out of area; the config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.alerts import Severity
from schemas.incidents import IncidentCategory
from schemas.units import Force
from streams.city.geo import distance_m
from streams.dispatch.policy import default_policy
from streams.region.events import IncidentFacts
from streams.response import (
    ResponseConfig,
    ResponseConfigError,
    default_response_config,
    load_response_config,
    target_for,
)
from streams.response.targets import OUT_OF_AREA, ZONE_DEFAULT, circle_of, tier_label
from tests.unit.test_response_support import CENTRE, CITY, POST_A, T0, make_city, offset

CONFIG = default_response_config()
REACH = dict(CONFIG.circle_reach_m)


def facts(where: tuple[float, float], priority: int = 2, *, zone: bool = True) -> IncidentFacts:
    z = CITY.zone_at(*where)
    return IncidentFacts(
        incident_id="i1",
        reported_at=T0,
        category=IncidentCategory.PUBLIC_ORDER,
        priority=priority,
        lat=where[0],
        lon=where[1],
        zone_id=z.zone_id if (z and zone) else None,
    )


@pytest.mark.parametrize("tier_s", sorted(REACH))
def test_each_circle_tier(tier_s: int) -> None:
    # Halfway between the next-tighter circle's edge and this circle's edge, west of pA
    # (away from the other posts, which lie 3 km north and south).
    tighter = max((REACH[t] for t in REACH if t < tier_s), default=0.0)
    where = offset(POST_A, east_m=-(tighter + REACH[tier_s]) / 2)
    assert tighter < distance_m(*where, *POST_A) <= REACH[tier_s]
    target = target_for(facts(where), CITY, CONFIG)
    assert (target.target_s, target.tier, target.circle_post_id) == (
        tier_s,
        tier_label(tier_s),
        "pA",
    )
    assert target.tier in {"1min", "3min", "5min"}


def test_outside_every_circle_the_zone_default() -> None:
    widest = max(REACH.values())
    in_a = offset(POST_A, east_m=-(widest + 1000))
    target = target_for(facts(in_a), CITY, CONFIG)
    assert CITY.zone_at(*in_a).zone_id == "zA"  # type: ignore[union-attr]
    assert (target.target_s, target.tier, target.circle_post_id) == (
        CITY.zones["zA"].default_target_s,
        ZONE_DEFAULT,
        None,
    )
    in_b = (CENTRE[0], 120.2)  # zone zB, suburban, kilometres from every post
    assert min(distance_m(*in_b, p.lat, p.lon) for p in CITY.posts.values()) > widest
    target = target_for(facts(in_b), CITY, CONFIG)
    assert (target.target_s, target.tier) == (CITY.zones["zB"].default_target_s, ZONE_DEFAULT)


def test_out_of_area_even_inside_a_circle() -> None:
    # zone_id None (routed to the nearest region, left to a person): never a circle target.
    where = offset(POST_A, east_m=-REACH[min(REACH)] / 2)
    target = target_for(facts(where, zone=False), CITY, CONFIG)
    assert (target.target_s, target.tier, target.circle_post_id) == (
        CONFIG.out_of_area_target_s,
        OUT_OF_AREA,
        None,
    )


def test_priority_tightens_the_seconds_not_the_tier() -> None:
    factor = 0.8
    config = ResponseConfig(priority_tighten={1: factor})
    where = offset(POST_A, east_m=-REACH[min(REACH)] / 2)
    p1 = target_for(facts(where, priority=1), CITY, config)
    p2 = target_for(facts(where, priority=2), CITY, config)
    assert p1.target_s == round(min(REACH) * factor) < p2.target_s == min(REACH)
    assert p1.tier == p2.tier == tier_label(min(REACH))
    far = offset(POST_A, east_m=-(max(REACH.values()) + 1000))
    zone_default = CITY.zones["zA"].default_target_s
    assert target_for(facts(far, priority=1), CITY, config).target_s == round(zone_default * factor)


def test_the_nearest_post_names_the_circle_and_the_edge_is_inside() -> None:
    city = make_city(
        [{"post_id": "p1", "at": CENTRE}, {"post_id": "p2", "at": offset(CENTRE, east_m=400)}]
    )
    where = offset(CENTRE, east_m=150)  # 150 m from p1, 250 m from p2: both 1-minute circles
    assert circle_of(*where, city.posts.values(), REACH) == (min(REACH), "p1")
    d = distance_m(*where, *CENTRE)
    assert circle_of(*where, city.posts.values(), {60: d}) == (60, "p1")  # on the edge: inside
    only_p1 = [city.posts["p1"]]
    assert circle_of(*where, only_p1, {60: d - 0.01}) is None
    assert circle_of(*where, only_p1, {}) is None


def test_default_reach_keeps_the_dispatch_eta_promise() -> None:
    # A unit at the post reaches the circle's edge within the target by dispatch's own ETA
    # (straight line x detour / the patrol car's speed), and the reach is not much shorter.
    policy = default_policy()
    speed = policy.speed_mps[Force.STATION]
    for target_s, metres in REACH.items():
        eta = metres * policy.detour_factor / speed
        assert 0.9 * target_s <= eta <= target_s


def test_config_validation_lists_every_problem() -> None:
    with pytest.raises(ResponseConfigError) as caught:
        ResponseConfig(
            circle_reach_m={60: 900.0, 180: 500.0},
            priority_tighten={1: 1.5},
            severity_ladder=((2.0, Severity.WARNING), (1.0, Severity.INFO)),
            post_grace_s=-1.0,
        )
    text = str(caught.value)
    for needle in (
        "looser circle",
        "priority_tighten.1",
        "multiples must increase",
        "severities must increase",
        "post_grace_s",
    ):
        assert needle in text


def test_load_config_from_json(tmp_path: Path) -> None:
    path = tmp_path / "response.json"
    path.write_text(
        json.dumps(
            {
                "circle_reach_m": {"60": 400, "180": 1200},
                "priority_tighten": {"1": 0.5},
                "severity_ladder": [[1.0, "info"], [3.0, "critical"]],
                "post_grace_s": 180,
            }
        )
    )
    config = load_response_config(path)
    assert dict(config.circle_reach_m) == {60: 400.0, 180: 1200.0}
    assert config.tighten(1) == 0.5
    assert config.tighten(3) == 1.0
    assert config.severity_ladder == ((1.0, Severity.INFO), (3.0, Severity.CRITICAL))
    assert config.post_grace_s == 180.0
    assert config.ack_overdue_s == default_response_config().ack_overdue_s
    path.write_text(json.dumps({"post_grace": 1}))
    with pytest.raises(ResponseConfigError, match="post_grace"):
        load_response_config(path)
    path.write_text("{")
    with pytest.raises(ResponseConfigError, match="not valid JSON"):
        load_response_config(path)
