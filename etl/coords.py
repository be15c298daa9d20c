"""Coordinate systems to WGS84: GCJ-02 and BD-09 (iterated inverse) and any EPSG code via pyproj."""

from __future__ import annotations

import numpy as np
import pyproj

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0
_INVERSE_ITERATIONS = 6


def _offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset (degrees) added to a WGS84 point."""
    x, y = lon - 105.0, lat - 35.0
    dlat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward WGS84 → GCJ-02 (the public formula)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _offset(lon, lat)
    inside = in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The rough box where GCJ-02 applies its offset (outside it GCJ-02 equals WGS84)."""
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → WGS84 by fixed-point iteration of the forward transform (error far below 1 cm)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    wlon, wlat = lon.copy(), lat.copy()
    for _ in range(_INVERSE_ITERATIONS):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        wlon, wlat = wlon - (glon - lon), wlat - (glat - lat)
    return wlon, wlat


def gcj02_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward GCJ-02 → BD-09 (Baidu)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 → GCJ-02 by fixed-point iteration of the forward transform."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    glon, glat = lon - 0.0065, lat - 0.006
    for _ in range(_INVERSE_ITERATIONS):
        blon, blat = gcj02_to_bd09(glon, glat)
        glon, glat = glon - (blon - lon), glat - (blat - lat)
    return glon, glat


def to_wgs84(x: np.ndarray, y: np.ndarray, system: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates in `system` (wgs84, cgcs2000, gcj02, bd09 or 'EPSG:nnnn') to WGS84 lon/lat."""
    system = system.lower()
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if system in ("wgs84", "cgcs2000", "epsg:4326", "epsg:4490"):
        return x, y
    if system == "gcj02":
        return gcj02_to_wgs84(x, y)
    if system == "bd09":
        return gcj02_to_wgs84(*bd09_to_gcj02(x, y))
    transformer = pyproj.Transformer.from_crs(system.upper(), "EPSG:4326", always_xy=True)
    lon, lat = transformer.transform(x, y)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


BUILT_IN_SYSTEMS: tuple[str, ...] = ("wgs84", "cgcs2000", "gcj02", "bd09", "epsg:4326", "epsg:4490")


def crs_problem(system: str) -> str | None:
    """Why pyproj cannot convert `system` to WGS84 (the fix to give the user), or None when it can."""
    text = str(system).strip().lower()
    if text in BUILT_IN_SYSTEMS:
        return None
    try:
        crs = pyproj.CRS.from_user_input(text.upper() if text.startswith("epsg:") else text)
    except pyproj.exceptions.CRSError:
        return ("pyproj knows no coordinate system by that code; check the number (look it up at epsg.io), e.g. "
                "'EPSG:4547' for CGCS2000 / 3-degree Gauss-Kruger CM 114E, or use wgs84, cgcs2000, gcj02 or bd09")
    if not (crs.is_geographic or crs.is_projected):
        return (f"it is a {crs.type_name} ({crs.name}), not a system of map positions; give the horizontal "
                "(projected or geographic) system the x/y values are in, e.g. 'EPSG:4547'")
    return None
