"""Small, dependency-free geodesy: great-circle distance and a local metric plane.

Accurate to well under 1% over a city or a province, which is what ETAs and "nearest" need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

__all__ = ["EARTH_RADIUS_M", "METRES_PER_DEGREE", "LocalPlane", "distance_m"]

#: Mean Earth radius (IUGG), metres.
EARTH_RADIUS_M: Final = 6_371_008.8
#: Metres per degree of latitude (and of longitude at the equator) on that sphere.
METRES_PER_DEGREE: Final = EARTH_RADIUS_M * math.pi / 180.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres between two WGS 84 points in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class LocalPlane:
    """An equirectangular projection centred on (``lat0``, ``lon0``): x east, y north, metres.

    Lines of constant latitude and longitude stay straight, so point-in-polygon answers are the
    same as in degrees; planar distances match :func:`distance_m` closely near the centre.
    """

    lat0: float
    lon0: float

    @property
    def _kx(self) -> float:
        return METRES_PER_DEGREE * math.cos(math.radians(self.lat0))

    def to_xy(self, lat: float, lon: float) -> tuple[float, float]:
        """Metres east and north of the centre."""
        return (lon - self.lon0) * self._kx, (lat - self.lat0) * METRES_PER_DEGREE

    def to_latlon(self, x: float, y: float) -> tuple[float, float]:
        """The inverse of :meth:`to_xy`: (lat, lon) in degrees."""
        return self.lat0 + y / METRES_PER_DEGREE, self.lon0 + x / self._kx

    def affine(self) -> list[float]:
        """``[a, b, d, e, xoff, yoff]`` mapping (lon, lat) to (x, y), for
        ``shapely.affinity.affine_transform``."""
        kx = self._kx
        return [kx, 0.0, 0.0, METRES_PER_DEGREE, -self.lon0 * kx, -self.lat0 * METRES_PER_DEGREE]
