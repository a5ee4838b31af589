"""The city model: zones, dispatch regions and fixed posts from a GeoJSON city file.

``load_city(None)`` is the built-in demo city (Hailar District, Hulunbuir); ``load_city(path)``
any city file that follows :mod:`schemas.city`. Pure: no Faust or Kafka imports.
"""

from __future__ import annotations

from schemas.city import CityFileError
from streams.city.geo import LocalPlane, distance_m
from streams.city.model import (
    DEMO_CITY_RESOURCE,
    City,
    Post,
    Window,
    Zone,
    demo_city_bytes,
    load_city,
)

__all__ = [
    "DEMO_CITY_RESOURCE",
    "City",
    "CityFileError",
    "LocalPlane",
    "Post",
    "Window",
    "Zone",
    "demo_city_bytes",
    "distance_m",
    "load_city",
]
