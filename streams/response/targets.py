"""An incident's response target: the quick-response circle it falls in. Pure.

The 1-, 3- and 5-minute circles (1、3、5分钟快速出警圈) are derived from the city's fixed posts
with the configured straight-line reach (:attr:`ResponseConfig.circle_reach_m`). Rules:

1. outside every zone (``zone_id`` null): ``out_of_area``, the configured 600 s. Such a call
   is routed to the nearest region and left to a person there; it is not judged against a
   circle of a district it is not in;
2. inside a zone: the tightest circle of any post of the city that contains the location
   (ties: the nearest post, then the smaller post id), tier ``1min`` / ``3min`` / ``5min``;
3. else the zone's ``default_target_s`` (urban 300, suburban 600), tier ``zone_default``;

then the priority's factor may tighten the seconds (rounded, at least 1 s); the tier stays.
Circles are planning geometry: they do not follow a post's staffing schedule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from streams.city.geo import distance_m
from streams.city.model import City, Post
from streams.region.events import IncidentFacts
from streams.response.config import ResponseConfig

__all__ = ["OUT_OF_AREA", "ZONE_DEFAULT", "Target", "circle_of", "target_for", "tier_label"]

ZONE_DEFAULT: Final = "zone_default"
OUT_OF_AREA: Final = "out_of_area"


@dataclass(frozen=True, slots=True)
class Target:
    """The target an incident is judged against, and where it came from.

    ``tier`` is a bounded metric label: one per configured circle (``1min``, ``3min``,
    ``5min``), ``zone_default`` or ``out_of_area``.
    """

    target_s: int
    tier: str
    circle_post_id: str | None = None


def tier_label(target_s: int) -> str:
    """``60`` -> ``1min``; a circle of a non-whole minute is labelled in seconds."""
    return f"{target_s // 60}min" if target_s % 60 == 0 else f"{target_s}s"


def circle_of(
    lat: float, lon: float, posts: Iterable[Post], reach_m: Mapping[int, float]
) -> tuple[int, str] | None:
    """``(circle target, post_id)`` of the tightest circle containing the point, or None."""
    tiers = sorted(reach_m.items())
    if not tiers:
        return None
    widest = tiers[-1][1]
    best: tuple[int, float, str] | None = None
    for post in posts:
        d = distance_m(lat, lon, post.lat, post.lon)
        if d > widest:
            continue
        target_s = next(t for t, metres in tiers if d <= metres)
        candidate = (target_s, d, post.post_id)
        if best is None or candidate < best:
            best = candidate
    return None if best is None else (best[0], best[2])


def target_for(facts: IncidentFacts, city: City, config: ResponseConfig) -> Target:
    zone = city.zones.get(facts.zone_id) if facts.zone_id is not None else None
    if zone is None:
        base = Target(config.out_of_area_target_s, OUT_OF_AREA)
    else:
        circle = circle_of(facts.lat, facts.lon, city.posts.values(), config.circle_reach_m)
        if circle is not None:
            base = Target(circle[0], tier_label(circle[0]), circle[1])
        else:
            base = Target(zone.default_target_s, ZONE_DEFAULT)
    factor = config.tighten(facts.priority)
    if factor == 1.0:
        return base
    return Target(max(1, round(base.target_s * factor)), base.tier, base.circle_post_id)
