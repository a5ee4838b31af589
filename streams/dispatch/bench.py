"""Decision-time benchmark of selection (issue 3, item 8): not a timed test.

``python -m streams.dispatch.bench`` (or :func:`main`) places 100, 1,000 and 10,000 units of
mixed forces at random over the demo city's main region (``hailar``), some of them at its
fixed posts, and times :func:`~streams.dispatch.selection.choose` for the same random
incidents at each size: one decision = every slot of the incident's run card. It reports
p50/p95/p99 in microseconds and the ratio of each p99 to the p99 of the smallest size; the
target is p99 at 10,000 units <= 3x p99 at 100 units.

Method: the index build is timed separately and excluded; 100 warm-up decisions run first;
each decision is timed alone with ``time.perf_counter_ns``; the garbage collector is paused
during the timed loop (as ``timeit`` does) so that a collection triggered by the benchmark's
own allocations is not charged to one unlucky decision. Units' telemetry is 0-150 s old (so
some are stale), 8 % report a status other than ``available``; the index is not changed
between decisions (each decision sees the same region).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import random
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from schemas.incidents import IncidentCategory
from schemas.units import Force, UnitStatus
from streams.city import City, LocalPlane, load_city
from streams.dispatch.policy import NEVER_DISPATCHED, DispatchPolicy, default_policy
from streams.dispatch.selection import IncidentView, UnitView, choose
from streams.dispatch.spatial import UnitIndex

__all__ = ["machine", "main", "run"]

_T = TypeVar("_T")

REGION: Final = "hailar"
#: A Friday evening in Hailar: round-the-clock posts and the night market staffed.
NOW: Final = datetime.fromisoformat("2025-05-09T20:30:00+08:00")
WARM_UP: Final = 100

#: Share of each force among the units (roughly the 队所社义 mix plus partners).
FORCE_MIX: Final = {
    Force.STATION: 0.25,
    Force.COMMUNITY: 0.25,
    Force.VOLUNTEER: 0.15,
    Force.SWAT: 0.10,
    Force.TRAFFIC: 0.12,
    Force.ARMED_POLICE: 0.05,
    Force.FIRE: 0.08,
}
#: Forces that staff fixed posts, and the share of their units standing at one.
POST_FORCES: Final = frozenset({Force.SWAT, Force.STATION, Force.TRAFFIC, Force.ARMED_POLICE})
AT_POST_SHARE: Final = 0.10
#: Incident mix (dispatched categories only) and priorities.
CATEGORY_MIX: Final = {
    IncidentCategory.CRIMINAL: 0.12,
    IncidentCategory.PUBLIC_ORDER: 0.18,
    IncidentCategory.TRAFFIC: 0.15,
    IncidentCategory.FIRE: 0.05,
    IncidentCategory.RESCUE: 0.20,
    IncidentCategory.DISPUTE: 0.20,
    IncidentCategory.OTHER: 0.10,
}
PRIORITY_MIX: Final = {1: 0.2, 2: 0.4, 3: 0.4}


class _RegionSampler:
    """Uniform random points inside the region's zones (rejection sampling on its bounds)."""

    def __init__(self, city: City, region_id: str, rng: random.Random) -> None:
        self._city, self._region, self._rng = city, region_id, rng
        bounds = [city.zones[z].geometry.bounds for z in city.regions[region_id]]
        self._minx = min(b[0] for b in bounds)
        self._miny = min(b[1] for b in bounds)
        self._maxx = max(b[2] for b in bounds)
        self._maxy = max(b[3] for b in bounds)

    def point(self) -> tuple[float, float, str]:
        while True:
            lat = self._rng.uniform(self._miny, self._maxy)
            lon = self._rng.uniform(self._minx, self._maxx)
            zone = self._city.zone_at(lat, lon)
            if zone is not None and zone.region_id == self._region:
                return lat, lon, zone.zone_id


def _weighted(rng: random.Random, mix: dict[_T, float]) -> _T:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def _units(count: int, city: City, region_id: str, rng: random.Random) -> list[UnitView]:
    sampler = _RegionSampler(city, region_id, rng)
    posts = [city.posts[p] for p in city.region_posts[region_id]]
    others = [s for s in UnitStatus if s is not UnitStatus.AVAILABLE]
    units = []
    for i in range(count):
        force = _weighted(rng, FORCE_MIX)
        post_id = None
        if force in POST_FORCES and rng.random() < AT_POST_SHARE:
            post = rng.choice(posts)
            angle, radius = rng.uniform(0, 2 * math.pi), rng.uniform(0, 100)
            plane = LocalPlane(lat0=post.lat, lon0=post.lon)
            lat, lon = plane.to_latlon(radius * math.cos(angle), radius * math.sin(angle))
            zone = city.zone_at(lat, lon)
            zone_id, post_id = (zone.zone_id if zone else None), post.post_id
        else:
            lat, lon, zone_id = sampler.point()
        units.append(
            UnitView(
                unit_id=f"u-{force.value}-{i:05d}",
                force=force,
                lat=lat,
                lon=lon,
                status=UnitStatus.AVAILABLE if rng.random() < 0.92 else rng.choice(others),
                last_seen=NOW - timedelta(seconds=rng.uniform(0, 150)),
                zone_id=zone_id,
                post_id=post_id,
            )
        )
    return units


def _incidents(count: int, city: City, region_id: str, rng: random.Random) -> list[IncidentView]:
    sampler = _RegionSampler(city, region_id, rng)
    out = []
    for i in range(count):
        lat, lon, zone_id = sampler.point()
        out.append(
            IncidentView(
                incident_id=f"bench-{i:05d}",
                category=_weighted(rng, CATEGORY_MIX),
                priority=_weighted(rng, PRIORITY_MIX),
                lat=lat,
                lon=lon,
                zone_id=zone_id,
            )
        )
    return out


def _percentile(sorted_values: Sequence[int], p: float) -> int:
    """Nearest-rank percentile."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def run(
    unit_counts: Sequence[int] = (100, 1000, 10000),
    decisions: int = 2000,
    seed: int = 7,
    *,
    city: City | None = None,
    policy: DispatchPolicy | None = None,
    region_id: str = REGION,
) -> list[dict[str, Any]]:
    """Time ``decisions`` decisions at each unit count; one row per count (see the module)."""
    city = city or load_city(None)
    policy = policy or default_policy()
    assert not set(CATEGORY_MIX) & NEVER_DISPATCHED
    incidents = _incidents(decisions, city, region_id, random.Random(seed))
    warm_up = _incidents(WARM_UP, city, region_id, random.Random(seed + 1))
    rows: list[dict[str, Any]] = []
    for count in unit_counts:
        units = _units(count, city, region_id, random.Random(f"{seed}/{count}"))
        start = time.perf_counter_ns()
        index = UnitIndex.for_city(city)
        for unit in units:
            index.upsert(unit)
        build_ns = time.perf_counter_ns() - start

        def decide(incident: IncidentView, index: UnitIndex = index) -> int:
            slots = list(enumerate(policy.slots(incident.category, incident.priority)))
            choices = choose(incident, slots, index, now=NOW, policy=policy, city=city)
            return sum(1 for c in choices if c.unit is not None)

        for incident in warm_up:
            decide(incident)
        timings: list[int] = []
        filled = slots_total = 0
        gc.collect()
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for incident in incidents:
                t0 = time.perf_counter_ns()
                got = decide(incident)
                timings.append(time.perf_counter_ns() - t0)
                filled += got
                slots_total += len(policy.slots(incident.category, incident.priority))
        finally:
            if gc_was_enabled:
                gc.enable()
        timings.sort()
        rows.append(
            {
                "units": count,
                "decisions": decisions,
                "build_ms": build_ns / 1e6,
                "p50_us": _percentile(timings, 50) / 1e3,
                "p95_us": _percentile(timings, 95) / 1e3,
                "p99_us": _percentile(timings, 99) / 1e3,
                "mean_us": sum(timings) / len(timings) / 1e3,
                "max_us": timings[-1] / 1e3,
                "slots_filled_pct": 100.0 * filled / max(1, slots_total),
            }
        )
    base = rows[0]["p99_us"] if rows else 0.0
    for row in rows:
        row["p99_ratio"] = row["p99_us"] / base if base else math.nan
    return rows


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "cpu_count": str(os.cpu_count()),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print a table (``python -m streams.dispatch.bench --help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m streams.dispatch.bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--units", default="100,1000,10000", help="comma-separated unit counts")
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.units.split(",") if c.strip()]

    from rich.console import Console
    from rich.table import Table

    console = Console() if sys.stdout.isatty() else Console(width=120)
    info = machine()
    console.print(
        "[bold]patrolflow dispatch decision time[/] — "
        + ", ".join(f"{k} {v}" for k, v in info.items())
    )
    rows = run(counts, args.decisions, args.seed)
    table = Table(title=f"choose(): {args.decisions} decisions per size, seed {args.seed}")
    for name in ("units", "index build ms", "p50 µs", "p95 µs", "p99 µs", "mean µs", "max µs"):
        table.add_column(name, justify="right")
    table.add_column("slots filled", justify="right")
    table.add_column(f"p99 / p99({counts[0]:,})" if counts else "p99 ratio", justify="right")
    for row in rows:
        table.add_row(
            f"{row['units']:,}",
            f"{row['build_ms']:.1f}",
            f"{row['p50_us']:.1f}",
            f"{row['p95_us']:.1f}",
            f"{row['p99_us']:.1f}",
            f"{row['mean_us']:.1f}",
            f"{row['max_us']:.1f}",
            f"{row['slots_filled_pct']:.1f} %",
            f"{row['p99_ratio']:.2f}",
        )
    console.print(table)
    if len(rows) > 1:
        ratio = rows[-1]["p99_ratio"]
        verdict = "[green]meets[/]" if ratio <= 3 else "[red]misses[/]"
        console.print(
            f"p99({rows[-1]['units']:,}) / p99({rows[0]['units']:,}) = {ratio:.2f}: "
            f"{verdict} the target of <= 3"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
