"""Generate ``demo-city.geojson``, the built-in demo city (run it after editing the tables).

    python -m streams.city.data.make_demo_city          # rewrite the file
    python -m streams.city.data.make_demo_city --check  # exit 1 if the file is stale

A city modelled on Hailar District, Hulunbuir, Inner Mongolia (centre about 49.213 N,
119.765 E, the Hailar River running west-east north of the centre). The names are real-looking
and the layout plausible, but the boundaries and positions are illustrative, not the bureau's.

The district is a grid of jittered vertices: 6 columns x 5 rows of cells, the fifth row north
of the river. Neighbouring cells share their vertices and edge points, so zones built from
blocks of cells tile the district exactly (no overlaps, no gaps). Everything is deterministic
(string-seeded ``random.Random``), so the output is stable byte for byte.
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

OUTPUT: Final = Path(__file__).with_name("demo-city.geojson")

#: Grid lines. Columns 0-4 are the main region, column 5 the eastern one; row 4 is north of
#: the river (the line at 49.228).
LONS: Final = (119.690, 119.725, 119.750, 119.770, 119.795, 119.825, 119.860)
LATS: Final = (49.170, 49.192, 49.206, 49.218, 49.228, 49.258)
RIVER_LINE: Final = 4

URBAN_TARGET_S: Final = 300  # the national norm: urban 5 minutes
SUBURBAN_TARGET_S: Final = 600  # suburban 10 minutes


@dataclass(frozen=True)
class ZoneSpec:
    zone_id: str
    region_id: str
    name: str
    area_class: str
    cols: tuple[int, int]  # first, last column (inclusive)
    rows: tuple[int, int]  # first, last row (inclusive)


@dataclass(frozen=True)
class PostSpec:
    post_id: str
    zone_id: str
    name: str
    post_kind: str
    cell: tuple[int, int]  # (column, row) of the cell it stands in
    uv: tuple[float, float]  # position inside the cell, 0..1 west->east, south->north
    schedule: tuple[dict[str, Any], ...] | None = None


ZONES: Final = (
    # The urban core, south of the river: 3 x 3 cells.
    ZoneSpec("z01", "hailar", "Hexi Riverside 河西滨河", "urban", (1, 1), (3, 3)),
    ZoneSpec("z02", "hailar", "Zhengyang 正阳", "urban", (2, 2), (3, 3)),
    ZoneSpec("z03", "hailar", "Shengli 胜利", "urban", (3, 3), (3, 3)),
    ZoneSpec("z04", "hailar", "Kaoshan 靠山", "urban", (1, 1), (2, 2)),
    ZoneSpec("z05", "hailar", "Zhongyang Street 中央街", "urban", (2, 2), (2, 2)),
    ZoneSpec("z06", "hailar", "Jiankang 健康", "urban", (3, 3), (2, 2)),
    ZoneSpec("z07", "hailar", "Hulun 呼伦", "urban", (1, 1), (1, 1)),
    ZoneSpec("z08", "hailar", "Jianshe 建设", "urban", (2, 2), (1, 1)),
    ZoneSpec("z09", "hailar", "Xinqu 新区", "urban", (3, 3), (1, 1)),
    # The main region's suburban ring.
    ZoneSpec("z10", "hailar", "Xishan 西山", "suburban", (0, 0), (0, 3)),
    ZoneSpec("z11", "hailar", "South Suburb 南郊", "suburban", (1, 3), (0, 0)),
    ZoneSpec("z12", "hailar", "East Suburb 东郊", "suburban", (4, 4), (0, 3)),
    ZoneSpec("z13", "hailar", "North Bank West 河北西片", "suburban", (0, 2), (4, 4)),
    ZoneSpec("z14", "hailar", "North Bank East 河北东片", "suburban", (3, 4), (4, 4)),
    # A second, smaller dispatch region in the east, to show partitioning.
    ZoneSpec("z15", "hailar-east", "Dongshan 东山", "suburban", (5, 5), (2, 3)),
    ZoneSpec("z16", "hailar-east", "East New Town 东城新区", "urban", (5, 5), (0, 1)),
    ZoneSpec("z17", "hailar-east", "Hake Road 哈克路", "suburban", (5, 5), (4, 4)),
)

_NIGHT_MARKET = ({"days": ["daily"], "start": "17:00", "end": "02:00"},)
_HOSPITAL_PEAKS = (
    {"days": ["daily"], "start": "07:00", "end": "09:00"},
    {"days": ["daily"], "start": "11:00", "end": "13:00"},
    {"days": ["daily"], "start": "17:00", "end": "19:00"},
)
_SCHOOL_MORNING = ({"days": ["school_days"], "start": "07:00", "end": "08:00"},)
_SCHOOL_BOTH = (
    {"days": ["school_days"], "start": "07:00", "end": "08:00"},
    {"days": ["school_days"], "start": "16:30", "end": "17:30"},
)
_PARK_DAYS = ({"days": ["weekends", "holidays"], "start": "09:00", "end": "18:00"},)

POSTS: Final = (
    PostSpec(
        "p01", "z01", "Hailar Railway Station 海拉尔站", "train_station", (1, 3), (0.45, 0.55)
    ),
    PostSpec("p02", "z01", "Station Square 站前广场", "square", (1, 3), (0.70, 0.30)),
    PostSpec("p03", "z02", "Riverside Park Square 滨河公园广场", "square", (2, 3), (0.50, 0.70)),
    PostSpec(
        "p04", "z02", "Long-distance Bus Station 长途汽车站", "bus_station", (2, 3), (0.30, 0.30)
    ),
    PostSpec("p05", "z03", "Shengli Street 胜利大街", "shopping_street", (3, 3), (0.40, 0.50)),
    PostSpec("p06", "z03", "Shengli Night Market 胜利夜市", "night_market", (3, 3), (0.75, 0.60)),
    PostSpec("p07", "z04", "Kaoshan Farmers' Market 靠山农贸市场", "market", (1, 2), (0.50, 0.50)),
    PostSpec(
        "p08",
        "z05",
        "Zhongyang Pedestrian Street 中央街步行街",
        "shopping_street",
        (2, 2),
        (0.45, 0.55),
    ),
    PostSpec(
        "p09",
        "z05",
        "Zhongyang Street Night Market 中央街夜市",
        "night_market",
        (2, 2),
        (0.70, 0.75),
        _NIGHT_MARKET,
    ),
    PostSpec(
        "p10", "z05", "Friendship Department Store 友谊商厦", "shopping_mall", (2, 2), (0.25, 0.30)
    ),
    PostSpec(
        "p11",
        "z06",
        "People's Hospital Main Entrance 人民医院正门",
        "hospital",
        (3, 2),
        (0.40, 0.60),
        _HOSPITAL_PEAKS,
    ),
    PostSpec("p12", "z06", "City Bus Terminal 公交枢纽站", "bus_station", (3, 2), (0.70, 0.30)),
    PostSpec("p13", "z07", "Hulun Square 呼伦广场", "square", (1, 1), (0.50, 0.60)),
    PostSpec(
        "p14",
        "z07",
        "No. 2 Middle School Gate 第二中学校门",
        "school_gate",
        (1, 1),
        (0.30, 0.30),
        _SCHOOL_MORNING,
    ),
    PostSpec(
        "p15",
        "z08",
        "Jianshe Street Shopping Area 建设大街商圈",
        "shopping_street",
        (2, 1),
        (0.50, 0.60),
    ),
    PostSpec(
        "p16",
        "z08",
        "Experimental Primary School Gate 实验小学校门",
        "school_gate",
        (2, 1),
        (0.60, 0.25),
        _SCHOOL_BOTH,
    ),
    PostSpec("p17", "z09", "Genghis Khan Square 成吉思汗广场", "square", (3, 1), (0.50, 0.50)),
    PostSpec("p18", "z09", "Sports Centre 体育中心", "stadium", (3, 1), (0.80, 0.25)),
    PostSpec(
        "p19",
        "z10",
        "Xishan Forest Park Gate 西山森林公园正门",
        "park",
        (0, 2),
        (0.40, 0.50),
        _PARK_DAYS,
    ),
    PostSpec("p20", "z11", "South Coach Station 南客运站", "bus_station", (2, 0), (0.50, 0.60)),
    PostSpec(
        "p21", "z12", "East Suburb Building Market 东郊建材市场", "market", (4, 2), (0.50, 0.50)
    ),
    PostSpec(
        "p22", "z13", "North Bank Night Market 河北夜市", "night_market", (1, 4), (0.50, 0.30)
    ),
    PostSpec("p23", "z14", "North Bank Square 河北广场", "square", (3, 4), (0.40, 0.35)),
    PostSpec(
        "p24", "z15", "Dongshan Airport Terminal 东山机场航站楼", "airport", (5, 2), (0.50, 0.50)
    ),
    PostSpec("p25", "z16", "Hailar East Station 海拉尔东站", "train_station", (5, 1), (0.45, 0.50)),
    PostSpec(
        "p26", "z16", "East Station Bus Hub 东站公交枢纽", "bus_station", (5, 1), (0.70, 0.70)
    ),
    PostSpec(
        "p27", "z17", "Hake Road Checkpoint 哈克公路检查站", "checkpoint", (5, 4), (0.70, 0.40)
    ),
)

CALENDARS: Final[dict[str, Any]] = {
    "holidays": {
        "description": "Public holidays (放假). 2025 and 2026 follow the State Council notices; "
        "2027 is provisional, estimated before its notice: replace it with the official dates.",
        "ranges": [
            {"start": s, "end": e}
            for s, e in (
                ("2025-01-01", "2025-01-01"),
                ("2025-01-28", "2025-02-04"),
                ("2025-04-04", "2025-04-06"),
                ("2025-05-01", "2025-05-05"),
                ("2025-05-31", "2025-06-02"),
                ("2025-10-01", "2025-10-08"),
                ("2026-01-01", "2026-01-03"),
                ("2026-02-15", "2026-02-23"),
                ("2026-04-04", "2026-04-06"),
                ("2026-05-01", "2026-05-05"),
                ("2026-06-19", "2026-06-21"),
                ("2026-09-25", "2026-09-27"),
                ("2026-10-01", "2026-10-07"),
                ("2027-01-01", "2027-01-03"),
                ("2027-02-05", "2027-02-11"),
                ("2027-04-03", "2027-04-05"),
                ("2027-05-01", "2027-05-05"),
                ("2027-06-09", "2027-06-11"),
                ("2027-09-15", "2027-09-17"),
                ("2027-10-01", "2027-10-07"),
            )
        ],
    },
    "school_days": {
        "description": "School days: term weekdays except holidays, plus the weekend make-up "
        "days (调休) that fall in term. Terms are illustrative for Hailar.",
        "ranges": [
            {"start": s, "end": e}
            for s, e in (
                ("2025-03-03", "2025-07-11"),
                ("2025-09-01", "2026-01-16"),
                ("2026-03-02", "2026-07-10"),
                ("2026-09-01", "2027-01-15"),
                ("2027-03-01", "2027-07-09"),
                ("2027-09-01", "2028-01-14"),
            )
        ],
        "weekdays": ["mon", "tue", "wed", "thu", "fri"],
        "dates": [
            "2025-04-27",
            "2025-09-28",
            "2025-10-11",
            "2026-01-04",
            "2026-05-09",
            "2026-09-20",
            "2026-10-10",
        ],
        "except_calendars": ["holidays"],
    },
}

Point2 = tuple[float, float]  # (lon, lat)


def _r(value: float) -> float:
    return round(value, 6)


def vertex(i: int, j: int) -> Point2:
    """Grid vertex at column line ``i``, row line ``j``, jittered (shared by up to 4 cells)."""
    rng = random.Random(f"v{i},{j}")
    dy = rng.uniform(-0.0015, 0.0015) if j == RIVER_LINE else rng.uniform(-0.0010, 0.0010)
    return _r(LONS[i] + rng.uniform(-0.0025, 0.0025)), _r(LATS[j] + dy)


def h_edge(i: int, j: int) -> list[Point2]:
    """Row line ``j`` from column line ``i`` to ``i + 1``, end points included."""
    a, b = vertex(i, j), vertex(i + 1, j)
    rng = random.Random(f"h{i},{j}")
    n, amp = (4, 0.0018) if j == RIVER_LINE else (2, 0.0006)  # the river meanders
    inner = [
        (
            _r(a[0] + (b[0] - a[0]) * k / n),
            _r(a[1] + (b[1] - a[1]) * k / n + rng.uniform(-amp, amp)),
        )
        for k in range(1, n)
    ]
    return [a, *inner, b]


def v_edge(i: int, j: int) -> list[Point2]:
    """Column line ``i`` from row line ``j`` to ``j + 1``, end points included."""
    a, b = vertex(i, j), vertex(i, j + 1)
    rng = random.Random(f"w{i},{j}")
    mid = (_r((a[0] + b[0]) / 2 + rng.uniform(-0.0012, 0.0012)), _r((a[1] + b[1]) / 2))
    return [a, mid, b]


def block_ring(cols: tuple[int, int], rows: tuple[int, int]) -> list[Point2]:
    """The counter-clockwise closed boundary of a rectangular block of cells."""
    (c0, c1), (r0, r1) = cols, rows
    ring: list[Point2] = []
    for i in range(c0, c1 + 1):  # south edge, west to east
        ring.extend(h_edge(i, r0)[:-1])
    for j in range(r0, r1 + 1):  # east edge, south to north
        ring.extend(v_edge(c1 + 1, j)[:-1])
    for i in range(c1, c0 - 1, -1):  # north edge, east to west
        ring.extend(list(reversed(h_edge(i, r1 + 1)))[:-1])
    for j in range(r1, r0 - 1, -1):  # west edge, north to south
        ring.extend(list(reversed(v_edge(c0, j)))[:-1])
    ring.append(ring[0])
    return ring


def post_position(cell: tuple[int, int], uv: tuple[float, float]) -> Point2:
    """Bilinear position inside a cell from its four corner vertices."""
    (i, j), (u, v) = cell, uv
    sw, se, ne, nw = vertex(i, j), vertex(i + 1, j), vertex(i + 1, j + 1), vertex(i, j + 1)
    lon = (1 - u) * (1 - v) * sw[0] + u * (1 - v) * se[0] + u * v * ne[0] + (1 - u) * v * nw[0]
    lat = (1 - u) * (1 - v) * sw[1] + u * (1 - v) * se[1] + u * v * ne[1] + (1 - u) * v * nw[1]
    return _r(lon), _r(lat)


def build() -> dict[str, Any]:
    """The demo city as a GeoJSON-ready dict."""
    features: list[dict[str, Any]] = []
    for z in ZONES:
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "kind": "zone",
                    "zone_id": z.zone_id,
                    "region_id": z.region_id,
                    "name": z.name,
                    "area_class": z.area_class,
                    "default_target_s": (
                        URBAN_TARGET_S if z.area_class == "urban" else SUBURBAN_TARGET_S
                    ),
                },
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[list(p) for p in block_ring(z.cols, z.rows)]],
                },
            }
        )
    for p in POSTS:
        properties: dict[str, Any] = {
            "kind": "post",
            "post_id": p.post_id,
            "zone_id": p.zone_id,
            "name": p.name,
            "post_kind": p.post_kind,
        }
        if p.schedule is not None:
            properties["schedule"] = [dict(w) for w in p.schedule]
        features.append(
            {
                "type": "Feature",
                "properties": properties,
                "geometry": {"type": "Point", "coordinates": list(post_position(p.cell, p.uv))},
            }
        )
    return {
        "type": "FeatureCollection",
        "name": "Hailar District (demo) 海拉尔区（演示）",
        "description": "patrolflow's built-in demo city, modelled on Hailar District, Hulunbuir, "
        "Inner Mongolia: 17 patrol zones in two dispatch regions (hailar: 14, hailar-east: 3) "
        "and 27 fixed posts. Names are real-looking, boundaries and positions illustrative. "
        "Generated by streams/city/data/make_demo_city.py; edit that, not this file.",
        "timezone": "Asia/Shanghai",
        "calendars": CALENDARS,
        "features": features,
    }


_SCALAR = r'(?:"[^"\n]*"|-?[\d.]+)'
_FLAT_ARRAY = re.compile(rf"\[\s*({_SCALAR}(?:,\s*{_SCALAR})*)\s*\]")
_MEMBER = rf'"[^"\n]*": (?:{_SCALAR}|\[[^\[\]\n]*\])'
_FLAT_OBJECT = re.compile(rf"\{{\s*({_MEMBER}(?:,\s*{_MEMBER})*)\s*\}}")


def _one_line(match: re.Match[str], opening: str, closing: str) -> str:
    line = opening + re.sub(r",\s+", ", ", match.group(1)) + closing
    return line if len(line) <= 72 or opening == "[" else match.group(0)


def render(city: dict[str, Any]) -> str:
    """Pretty, stable JSON: two-space indent; positions, day lists, date ranges and schedule
    windows on one line each."""
    text = json.dumps(city, ensure_ascii=False, indent=2)
    text = _FLAT_ARRAY.sub(lambda m: _one_line(m, "[", "]"), text)
    text = _FLAT_OBJECT.sub(lambda m: _one_line(m, "{", "}"), text)
    return text + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    text = render(build())
    if args == ["--check"]:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is stale: run python -m streams.city.data.make_demo_city")
            return 1
        return 0
    if args:
        print("usage: python -m streams.city.data.make_demo_city [--check]", file=sys.stderr)
        return 2
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
