"""GCJ-02 / BD-09 inverses against their forward transforms over China's extent, and EPSG via pyproj."""

import numpy as np
import pyproj
from hypothesis import given, settings
from hypothesis import strategies as st

import pytest

from etl.coords import bd09_to_gcj02, gcj02_to_bd09, gcj02_to_wgs84, to_wgs84, wgs84_to_gcj02

GEOD = pyproj.Geod(ellps="WGS84")
china_lon = st.floats(min_value=73.7, max_value=134.7)
china_lat = st.floats(min_value=18.2, max_value=53.5)


def _metres(lon1, lat1, lon2, lat2) -> float:
    return float(np.max(GEOD.inv(lon1, lat1, lon2, lat2)[2]))


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_gcj02_inverse_is_under_a_centimetre(lon: float, lat: float) -> None:
    glon, glat = wgs84_to_gcj02(np.array([lon]), np.array([lat]))
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    assert _metres(wlon, wlat, np.array([lon]), np.array([lat])) < 0.01


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_bd09_to_wgs84_is_under_a_centimetre(lon: float, lat: float) -> None:
    blon, blat = gcj02_to_bd09(*wgs84_to_gcj02(np.array([lon]), np.array([lat])))
    wlon, wlat = to_wgs84(blon, blat, "bd09")
    assert _metres(wlon, wlat, np.array([lon]), np.array([lat])) < 0.01
    glon, glat = bd09_to_gcj02(blon, blat)
    assert _metres(*gcj02_to_bd09(glon, glat), blon, blat) < 0.01


def test_gcj02_offset_near_shanwei_is_hundreds_of_metres() -> None:
    lon, lat = np.array([115.37]), np.array([22.79])
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert 400 < _metres(lon, lat, glon, glat) < 800


def test_gauss_kruger_zone_to_wgs84_round_trips() -> None:
    forward = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4547", always_xy=True)
    x, y = forward.transform(np.array([115.3, 115.7]), np.array([22.8, 23.1]))
    lon, lat = to_wgs84(np.asarray(x), np.asarray(y), "EPSG:4547")
    assert np.allclose(lon, [115.3, 115.7], atol=1e-8) and np.allclose(lat, [22.8, 23.1], atol=1e-8)


def test_offset_formulas_match_published_values() -> None:
    # Reference values of the public formulas (wandergis/coordtransform).
    lon, lat = wgs84_to_gcj02(np.array([116.404]), np.array([39.915]))
    assert (lon[0], lat[0]) == pytest.approx((116.41024449916938, 39.91640428150164), abs=1e-9)
    lon, lat = gcj02_to_bd09(np.array([116.404]), np.array([39.915]))
    assert (lon[0], lat[0]) == pytest.approx((116.41036949371029, 39.92133699351021), abs=1e-9)
    outside = wgs84_to_gcj02(np.array([2.35]), np.array([48.85]))
    assert (outside[0][0], outside[1][0]) == (2.35, 48.85)
