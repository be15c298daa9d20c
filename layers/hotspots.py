"""Hotspots (热点分析): Getis-Ord Gi* per grid for a window, and emerging hotspots over the last N weeks.

- Measure: by default the rate per 10,000 residents, smoothed by global empirical Bayes (Marshall 1991) so a grid
  with few residents does not turn hot on one event; `measure="count"` uses incident counts. Rates, because the
  demo's medium grids hold 326 to 15,692 residents (a coefficient of variation of 0.57): on counts the most populous
  villages would be "hot" every week. Level: medium by default (about 0.2 incidents per medium grid and week at the
  test demo's size, 0.03 per small grid: too few for a weekly pattern).
- Weights: queen contiguity of the level's cleaned coverage (layers.geometry.prepare_level: the same snapped,
  simplified geometry the maps draw, shared edges exact), binary, with each grid its own neighbour (Gi*); built
  once per prepared grid set and cached.
- Window hotspots: esda.G_Local(star=True) with `permutations` (999) conditional permutations; a grid's p-value is
  the two-sided normal p of its permutation z (observed G standardised by the permutations' mean and spread; the
  pseudo-p's floor of 1/1000 is too coarse for a false-discovery-rate correction over hundreds of grids), corrected
  by Benjamini-Hochberg at 1 %, 5 % and 10 %: 热点/冷点 99 % / 95 % / 90 %.
- Emerging hotspots: Gi* z per week (analytical, vectorised over weeks; equal to esda's `Zs`), hot in a week when
  z > 0 and BH-significant at 10 % among that week's grids; a Mann-Kendall test on each grid's z series; classes in
  `emerging_class` (docs/analytics.md).
"""

from __future__ import annotations

import datetime as dt
import threading
import warnings
import weakref

import duckdb
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
from scipy import sparse, stats

from layers import analysis_queries as q
from layers.event_query import EventFilter, EventQuery
from layers.geometry import PreparedGrids, prepare_level
from layers.stats import QueryError, grid_table
from store.schema import LEVELS
from store.timewindow import TimeLike, checked_window, store_time

__all__ = [
    "HOT_CLASSES", "HOT_COLOURS", "EMERGING_CLASSES", "EMERGING_COLOURS", "MEASURES", "contiguity", "eb_rates",
    "gi_star_z", "fdr_significant", "gi_classes", "hotspots", "emerging_hotspots", "mann_kendall", "emerging_class", "weeks_end",
]

MEASURES: dict[str, str] = {"rate": "每万人事件数（经验贝叶斯平滑）", "count": "事件数"}
HOT_CLASSES: tuple[str, ...] = ("热点 99%", "热点 95%", "热点 90%", "不显著", "冷点 90%", "冷点 95%", "冷点 99%")
HOT_COLOURS: dict[str, str] = {  # the customary Gi* palette: reds hot, blues cold, off-white not significant
    "热点 99%": "#d62f27", "热点 95%": "#ed7551", "热点 90%": "#fab984", "不显著": "#f0efe8",
    "冷点 90%": "#c0ccbe", "冷点 95%": "#849eba", "冷点 99%": "#4575b5",
}
LEVELS_ALPHA: tuple[tuple[float, str], ...] = ((0.01, "99%"), (0.05, "95%"), (0.10, "90%"))
EMERGING_CLASSES: tuple[str, ...] = ("新增热点", "加剧热点", "持续热点", "消退热点", "散发热点", "无")
EMERGING_COLOURS: dict[str, str] = {
    "新增热点": "#b2182b", "加剧热点": "#ef3b2c", "持续热点": "#fc9272", "消退热点": "#9ecae1", "散发热点": "#fdd0a2",
    "无": "#f0efe8",
}
RECENT_BINS = 4  # "new": hot only within the last 4 weeks
TREND_ALPHA = 0.05
PERSISTENT_SHARE = 0.5
DIMINISHING_SHARE = 0.25

_WEIGHTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_WEIGHTS_LOCK = threading.Lock()


# --------------------------------------------------------------------------- weights


def contiguity(prepared: PreparedGrids) -> libpysal.weights.W:
    """Queen contiguity (binary) of a prepared level, ids = grid codes in the level's order; cached per prepared set
    (a new boundary version is a new PreparedGrids, so it gets new weights)."""
    with _WEIGHTS_LOCK:
        if prepared in _WEIGHTS:
            return _WEIGHTS[prepared]
        frame = gpd.GeoDataFrame({"grid_code": list(prepared.codes)}, geometry=list(prepared.geometry), crs="EPSG:4326")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # islands (a grid without neighbours) are allowed: Gi* keeps its own value
            w = libpysal.weights.Queen.from_dataframe(frame, ids=list(prepared.codes), use_index=False,
                                                      silence_warnings=True)
        w.transform = "B"
        _WEIGHTS[prepared] = w
        return w


def _star_matrix(w: libpysal.weights.W) -> sparse.csr_matrix:
    """The binary weights with each grid its own neighbour, in w.id_order."""
    matrix = sparse.csr_matrix(w.sparse, dtype=float)
    matrix.data[:] = 1.0
    return (matrix + sparse.identity(matrix.shape[0], format="csr")).tocsr()


# --------------------------------------------------------------------------- values


def eb_rates(counts: np.ndarray, population: np.ndarray) -> np.ndarray:
    """Global empirical-Bayes rates per 10,000 (Marshall 1991), per column of `counts` (grids × periods): each
    grid's raw rate pulled toward the overall rate, the more the fewer residents it has; a grid without residents
    gets the overall rate."""
    y = np.asarray(counts, dtype=float)
    one = y.ndim == 1
    y = y[:, None] if one else y
    p = np.nan_to_num(np.asarray(population, dtype=float), nan=0.0)
    has = p > 0
    out = np.empty_like(y)
    for t in range(y.shape[1]):
        col = y[:, t]
        total_p = p[has].sum()
        m = col[has].sum() / total_p if total_p else 0.0
        raw = np.where(has, col / np.where(has, p, 1.0), m)
        s2 = float((p[has] * (raw[has] - m) ** 2).sum() / total_p) if total_p else 0.0
        a = max(s2 - m / p[has].mean(), 0.0) if has.any() else 0.0
        weight = np.where(has, a / (a + m / np.where(has, p, 1.0)) if (a + m) > 0 else 0.0, 0.0)
        out[:, t] = (m + weight * (raw - m)) * 10_000
    return out[:, 0] if one else out


def gi_star_z(matrix: sparse.csr_matrix, values: np.ndarray) -> np.ndarray:
    """Analytical Gi* z per grid and column of `values` (grids × periods) for binary star weights `matrix` (esda's
    G_Local(star=True, transform='B').Zs, vectorised over columns); NaN where a column has no variation."""
    y = np.asarray(values, dtype=float)
    one = y.ndim == 1
    y = y[:, None] if one else y
    n = y.shape[0]
    total = y.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = (matrix @ y) / total
        card = np.asarray(matrix.sum(axis=1)).ravel()[:, None]
        mean = total / n
        variance = (y ** 2).sum(axis=0) / n - mean ** 2
        expected = card / n
        var_g = card * (n - card) / (n - 1) / n ** 2 * variance / mean ** 2
        z = (g - expected) / np.sqrt(var_g)
    z = np.where(np.isfinite(z), z, np.nan)
    return z[:, 0] if one else z


def fdr_significant(p: np.ndarray, alpha: float) -> np.ndarray:
    """Benjamini-Hochberg: which p-values are significant at false-discovery rate `alpha` (NaN: never)."""
    p = np.asarray(p, dtype=float)
    ok = ~np.isnan(p)
    out = np.zeros(p.shape, dtype=bool)
    values = np.sort(p[ok])
    m = len(values)
    if not m:
        return out
    passing = np.flatnonzero(values <= alpha * np.arange(1, m + 1) / m)
    if len(passing):
        out[ok] = p[ok] <= values[passing[-1]]
    return out


def gi_classes(z: np.ndarray, p: np.ndarray) -> np.ndarray:
    """热点/冷点 99 / 95 / 90 % (BH-corrected at 1 / 5 / 10 %) or 不显著, per grid."""
    out = np.full(len(z), "不显著", dtype=object)
    for alpha, label in reversed(LEVELS_ALPHA):  # 90 % first, then overwritten by the stricter levels
        significant = fdr_significant(p, alpha)
        out[significant & (z > 0)] = f"热点 {label}"
        out[significant & (z < 0)] = f"冷点 {label}"
    return out


def _values(counts: np.ndarray, population: np.ndarray, measure: str) -> np.ndarray:
    if measure not in MEASURES:
        raise QueryError(f"`measure` was {measure!r} but is expected to be one of {list(MEASURES)}")
    return eb_rates(counts, population) if measure == "rate" else np.asarray(counts, dtype=float)


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise QueryError(f"`level` was {level!r} but is expected to be one of {list(LEVELS)}")


def _aligned_population(con: duckdb.DuckDBPyConnection, level: str, codes: tuple[str, ...]) -> pd.DataFrame:
    grids = grid_table(con, level).set_index("grid_code")
    return grids.reindex(list(codes))


# --------------------------------------------------------------------------- a window


def hotspots(con: duckdb.DuckDBPyConnection, level: str = "medium", *, start: TimeLike, end: TimeLike,
             measure: str = "rate", permutations: int = 999, seed: int = 12345, where: EventFilter | None = None,
             n_jobs: int = 1) -> pd.DataFrame:
    """Gi* of each grid of `level` for incidents reported in [start, end) (module doc). Columns: grid_code, name,
    parent_name, population, incidents, value (the measure), z (permutation z), p_value (two-sided), gi_class."""
    from esda.getisord import G_Local

    _check_level(level)
    s, e = checked_window(store_time(con, start, "start"), store_time(con, end, "end"))
    if s is None or e is None:
        raise QueryError("hotspots need a window with both ends: pass start and end")
    prepared = prepare_level(con, level)
    query = EventQuery.of(start=s, end=e, where=where)
    sql = q.grid_window_sql(level)
    counts = con.execute(sql, query.bind(sql)).df().set_index("grid_code")["n"]
    grids = _aligned_population(con, level, prepared.codes)
    incidents = counts.reindex(list(prepared.codes)).fillna(0).to_numpy(dtype=float)
    values = _values(incidents, grids["population"].to_numpy(dtype=float, na_value=np.nan), measure)
    w = contiguity(prepared)
    z = np.full(len(values), np.nan)
    p = np.full(len(values), np.nan)
    if np.ptp(values) > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # esda's note on the coming change of its default alternative
            local = G_Local(values, w, transform="B", star=True, permutations=permutations, seed=seed,
                            keep_simulations=True, n_jobs=n_jobs)
        z = np.where(np.isfinite(local.z_sim), local.z_sim, np.nan)
        p = 2 * stats.norm.sf(np.abs(z))
    return pd.DataFrame({
        "grid_code": list(prepared.codes), "name": list(prepared.names),
        "parent_name": grids["parent_name"].to_numpy(), "population": grids["population"].to_numpy(),
        "incidents": incidents.astype("int64"), "value": values, "z": z, "p_value": p, "gi_class": gi_classes(z, p),
    })


# --------------------------------------------------------------------------- over time


def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mann-Kendall trend test per row of `series` (grids × periods): (z, two-sided p), ties corrected."""
    x = np.nan_to_num(np.asarray(series, dtype=float), nan=0.0)
    n = x.shape[1]
    i, j = np.triu_indices(n, k=1)
    s = np.sign(x[:, j] - x[:, i]).sum(axis=1)
    var = np.full(x.shape[0], n * (n - 1) * (2 * n + 5) / 18.0)
    for r in range(x.shape[0]):  # ties: subtract Σ t(t−1)(2t+5)/18 over groups of equal values
        _values, counts = np.unique(x[r], return_counts=True)
        tied = counts[counts > 1]
        var[r] -= float((tied * (tied - 1) * (2 * tied + 5)).sum()) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0.0))
    z = np.where(np.isfinite(z), z, 0.0)
    return z, 2 * stats.norm.sf(np.abs(z))


def emerging_class(hot: np.ndarray, trend_z: np.ndarray, trend_p: np.ndarray) -> np.ndarray:
    """Per grid, from its hot weeks (grids × weeks, oldest first) and its Mann-Kendall trend (docs/analytics.md):
    新增 (hot in the last week, never before the last RECENT_BINS), 加剧 (hot in the last week and earlier, significant
    rising trend), 持续 (hot in the last week and in ≥ half the weeks, no significant trend), 消退 (hot in ≥ a quarter
    of the weeks, significant falling trend), 散发 (hot in some week, none of these), 无 (never hot)."""
    hot = np.asarray(hot, dtype=bool)
    last = hot[:, -1]
    before_recent = hot[:, :-RECENT_BINS].any(axis=1) if hot.shape[1] > RECENT_BINS else np.zeros(len(hot), bool)
    share = hot.mean(axis=1)
    rising = (trend_p < TREND_ALPHA) & (trend_z > 0)
    falling = (trend_p < TREND_ALPHA) & (trend_z < 0)
    out = np.full(len(hot), "无", dtype=object)
    out[hot.any(axis=1)] = "散发热点"
    out[falling & (share >= DIMINISHING_SHARE)] = "消退热点"
    out[last & (share >= PERSISTENT_SHARE) & ~rising & ~falling] = "持续热点"
    out[last & before_recent & rising] = "加剧热点"
    out[last & ~before_recent] = "新增热点"
    return out


def emerging_hotspots(con: duckdb.DuckDBPyConnection, level: str = "medium", *, as_of: TimeLike, weeks: int = 52,
                      measure: str = "rate", where: EventFilter | None = None) -> pd.DataFrame:
    """Emerging hotspot class of each grid of `level` over the `weeks` weeks before as_of (week 1 the oldest).

    The weeks end at the midnight that ends as_of's day (as_of itself when it is a midnight) and count the reports
    before as_of, so the last week is the one still running: moving as_of within a day changes only which of that
    day's reports count, not where 52 week boundaries fall. Columns: grid_code, name, parent_name, incidents (all
    weeks), hot_weeks, last_z, trend_z, trend_p, emerging_class."""
    _check_level(level)
    if not 8 <= weeks <= 260:
        raise QueryError(f"`weeks` was {weeks}; give 8 to 260 weeks (a trend needs at least 8)")
    moment = store_time(con, as_of, "as_of")
    if moment is None:
        raise QueryError("`as_of` is required: the end of the last week")
    prepared = prepare_level(con, level)
    query = EventQuery.of(where=where, as_of=moment)
    sql = q.grid_weeks_sql(level)
    cells = con.execute(sql, query.bind(sql, weeks=weeks, weeks_end=weeks_end(moment))).df()
    codes = pd.Index(prepared.codes)
    cells = cells[cells["grid_code"].isin(codes)]
    counts = np.zeros((len(codes), weeks))
    np.add.at(counts, (codes.get_indexer(cells["grid_code"]), weeks - 1 - cells["bucket"].to_numpy()),
              cells["n"].to_numpy(dtype=float))
    grids = _aligned_population(con, level, prepared.codes)
    values = _values(counts, grids["population"].to_numpy(dtype=float, na_value=np.nan), measure)
    z = gi_star_z(_star_matrix(contiguity(prepared)), values)
    p = 2 * stats.norm.sf(np.abs(z))
    hot = np.column_stack([fdr_significant(p[:, t], 0.10) & (z[:, t] > 0) for t in range(weeks)])
    trend_z, trend_p = mann_kendall(z)
    return pd.DataFrame({
        "grid_code": list(prepared.codes), "name": list(prepared.names), "parent_name": grids["parent_name"].to_numpy(),
        "incidents": counts.sum(axis=1).astype("int64"), "hot_weeks": hot.sum(axis=1).astype("int64"),
        "last_z": z[:, -1], "trend_z": trend_z, "trend_p": trend_p,
        "emerging_class": emerging_class(hot, trend_z, trend_p),
    })


def weeks_end(as_of: dt.datetime) -> dt.datetime:
    """The midnight that ends as_of's day (as_of itself when it is a midnight): where emerging hotspots' weeks end."""
    midnight = dt.datetime.combine(as_of.date(), dt.time())
    return midnight if midnight == as_of else midnight + dt.timedelta(days=1)
