"""Trend regions: where a tweet counts besides the global trends (docs/trending.md, "Regions").

A region is an ISO 3166-1 alpha-2 country code (`IN`, `US`) among the few the deployment keeps
trends for (`CHIRP_TRENDING_REGIONS`). An account's region is read from its profile's free-text
location when the location is set, and stamped on each of its tweets when it is posted, so the
trending job needs nothing but the log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pycountry

# The trends of every tweet, beside each region's.
GLOBAL = "global"
# Names people write that ISO 3166 does not hold as a country's name or code.
ALIASES = {
    "uk": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "america": "US",
    "u.s.": "US",
    "u.s.a.": "US",
}
# A location's parts: "Mumbai, India", "Austin / TX / USA", "Paris | France".
_PARTS = re.compile(r"\s*[,/|;·•]\s*")


def region_codes(regions: Iterable[str]) -> frozenset[str]:
    """`regions` as upper-case codes; ValueError for one that is not an ISO 3166 country."""
    codes = frozenset(code.strip().upper() for code in regions if code.strip())
    unknown = sorted(code for code in codes if pycountry.countries.get(alpha_2=code) is None)
    if unknown:
        raise ValueError(f"not ISO 3166-1 alpha-2 country codes: {', '.join(unknown)}")
    return codes


def country_of(location: str | None) -> str | None:
    """The country a free-text location names, as an alpha-2 code: its parts, the last first
    (the country usually ends it), each a country's alpha-3 code, name, official or common
    name, a common alias (`UK`), or a subdivision's name (`California`: US); None if no part
    is one. Two letters are not read: `CA` is Canada or California, `IN` India or Indiana."""
    if not location:
        return None
    for part in reversed([part for part in _PARTS.split(location.strip()) if part]):
        if found := ALIASES.get(part.lower()):
            return found
        if len(part) <= 2:
            continue
        try:
            return pycountry.countries.lookup(part).alpha_2
        except LookupError:
            pass
        try:
            return pycountry.subdivisions.lookup(part).country_code
        except LookupError:
            pass
    return None


def region_of(location: str | None, regions: frozenset[str]) -> str | None:
    """The trends region of an account at `location`: its country if `regions` holds it."""
    country = country_of(location)
    return country if country in regions else None
