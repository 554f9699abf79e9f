"""A profile's location read as a trends region (schemas/regions.py)."""

from __future__ import annotations

import pytest

from schemas.regions import country_of, region_codes, region_of


@pytest.mark.parametrize(
    ("location", "country"),
    [
        ("Mumbai, India", "IN"),
        ("India", "IN"),
        ("london, uk", "GB"),
        ("Austin / Texas / USA", "US"),
        ("San Francisco, California", "US"),
        ("Toronto, Ontario", "CA"),
        ("Tokyo | Japan", "JP"),
        ("Berlin, Germany", "DE"),
        ("LA, CA", None),  # Canada or California: two letters are not read
        ("somewhere over the rainbow", None),
        ("", None),
        (None, None),
    ],
)
def test_a_location_names_its_country(location, country):
    assert country_of(location) == country


def test_a_region_is_a_country_the_deployment_keeps_trends_for():
    regions = region_codes(["in", " US ", ""])
    assert regions == {"IN", "US"}
    assert region_of("Delhi, India", regions) == "IN"
    assert region_of("Berlin, Germany", regions) is None
    with pytest.raises(ValueError, match="XX"):
        region_codes(["IN", "XX"])
