"""Early warnings (预警) per grid: spikes of a category (or department) against a seasonal baseline, overdue cases
building up, and the findings of layers/repeats.py and the patrol figures, as one list with a Chinese sentence each.

Spike method (docs/analytics.md, "Early warnings"): a negative-binomial upper bound computed for every grid × category
at once. The expected count of a grid and category in the last 7 days is the category's expected citywide count
(its level over the 8 weeks before, times the seasonal change the same weeks showed in earlier years) times the grid's
share of that category over the last year (shrunk toward the grid's share of all events). The bound is the
(1 − alpha) quantile of a negative binomial with that mean and the category's dispersion; a warning needs the count
above the bound and at least MIN_COUNT incidents. `spike_bounds` is the pure core (arrays in, arrays out).

DuckDB does the sums (`weekly_counts`): the citywide weeks the expectation reads, each grid's share-year total and
the cells of the last 9 weeks; only these leave the database. `spike_backtest` gives the warnings of many moments
whole weeks apart from one read of the weekly cells.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from layers import analysis_queries as q
from layers.discrete import nbinom_ppf, nbinom_sf, poisson_ppf, poisson_sf
from layers.event_query import EventFilter, EventQuery
from layers.findings import KINDS, WARNING_COLUMNS, empty as _empty, finish as _finish, labels as _labels
from layers.lookups import category_names, department_names
from layers.stats import QueryError, open_now
from store.schema import LEVELS
from store.timewindow import TimeLike, store_time

__all__ = [
    "KINDS", "WARNING_COLUMNS", "SpikeSettings", "WeeklyCounts", "spike_bounds", "weekly_counts", "season_buckets",
    "spike_warnings", "spike_backtest", "backlog_warnings",
    "patrol_warnings", "grid_warnings", "all_warnings", "expected_text",
]

BY_NAMES = {"category": "类别", "dept": "部门"}


@dataclass(frozen=True)
class SpikeSettings:
    """The spike method's knobs (docs/analytics.md): false-alarm rate per series, minimum count, baseline spans."""

    alpha: float = 0.001  # per grid × category and window: P(count > bound) under the baseline
    min_count: int = 3  # incidents: fewer never warn, however rare the category
    recent_weeks: int = 8  # the level: buckets 1..8 before the window
    season_half_width: int = 2  # the same weeks in earlier years: ±2 weeks around 52, 104, 156 weeks back
    years: int = 3  # earlier years used for the seasonal change
    share_weeks: int = 52  # the grid's share of a category: buckets 1..52
    prior_events: float = 2.0  # shrinkage of a grid's category share toward its share of all events
    max_dispersion: float = 5.0

    @property
    def horizon_weeks(self) -> int:
        return 52 * self.years + max(self.recent_weeks, self.season_half_width) + 1


DEFAULT = SpikeSettings()


# --------------------------------------------------------------------------- the pure core


def citywide_expected(city: np.ndarray, settings: SpikeSettings = DEFAULT) -> np.ndarray:
    """Expected count in bucket 0 per key from a (keys × buckets) matrix of citywide weekly counts (bucket 0 = the
    window itself, not used): recent level × (same weeks in earlier years + ½) / (the weeks before those + ½)."""
    keys, weeks = city.shape
    recent = city[:, 1:settings.recent_weeks + 1].mean(axis=1)
    same, before = np.zeros(keys), np.zeros(keys)
    years = 0
    for y in range(1, settings.years + 1):
        centre = 52 * y
        if centre + settings.recent_weeks + 1 > weeks:
            break
        same += city[:, centre - settings.season_half_width:centre + settings.season_half_width + 1].mean(axis=1)
        before += city[:, centre + 1:centre + settings.recent_weeks + 1].mean(axis=1)
        years += 1
    if years == 0:
        return recent
    return recent * (same / years + 0.5) / (before / years + 0.5)


def grid_shares(n_gk: np.ndarray, n_g: np.ndarray, settings: SpikeSettings = DEFAULT) -> np.ndarray:
    """Share of each key's incidents per grid (grids × keys), shrunk toward the grid's share of all incidents."""
    total = max(float(n_g.sum()), 1.0)
    q_g = (n_g + 1.0 / len(n_g)) / (total + 1.0)  # every grid keeps a small share
    return (n_gk + settings.prior_events * q_g[:, None]) / (n_gk.sum(axis=0, keepdims=True) + settings.prior_events)


def dispersion(y: np.ndarray, mu: np.ndarray, settings: SpikeSettings = DEFAULT) -> float:
    """Quasi-Poisson dispersion from cells with mu ≥ 1 (Pearson χ² / cells), between 1 and max_dispersion; 1 when
    fewer than 20 such cells."""
    usable = mu >= 1.0
    if usable.sum() < 20:
        return 1.0
    chi2 = float((((y - mu) ** 2) / mu)[usable].sum())
    return float(min(max(chi2 / usable.sum(), 1.0), settings.max_dispersion))


def spike_bounds(observed: np.ndarray, expected: np.ndarray, phi: np.ndarray | float,
                 settings: SpikeSettings = DEFAULT) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bound, p_value, warn) per series: the (1 − alpha) quantile of a negative binomial with mean `expected` and
    variance phi × expected (Poisson when phi is 1), P(X ≥ observed), and observed > bound and ≥ min_count."""
    mu = np.maximum(np.asarray(expected, dtype=float), 1e-9)
    phi = np.broadcast_to(np.asarray(phi, dtype=float), mu.shape)
    obs = np.asarray(observed, dtype=float)
    poisson = phi <= 1.0 + 1e-6
    bound = np.where(poisson, poisson_ppf(1 - settings.alpha, mu), 0.0)
    p_value = np.where(poisson, poisson_sf(obs - 1, mu), 1.0)
    if (~poisson).any():
        size = mu[~poisson] / (phi[~poisson] - 1.0)
        prob = 1.0 / phi[~poisson]
        bound[~poisson] = nbinom_ppf(1 - settings.alpha, size, prob)
        p_value[~poisson] = nbinom_sf(obs[~poisson] - 1, size, prob)
    warn = (obs > bound) & (obs >= settings.min_count)
    return bound, p_value, warn


# --------------------------------------------------------------------------- spikes on a store


@dataclass(frozen=True)
class WeeklyCounts:
    """What the spike method reads for one as_of, in distinct incidents per grid, key and week bucket (bucket 0 = the
    7 days before as_of, bucket k the k-th week before that); grids and keys are positions in `codes` and `keys`."""

    codes: np.ndarray  # the grids of the level, in label order
    keys: pd.Index  # the categories (or departments) seen, sorted
    city: np.ndarray  # keys × horizon_weeks: the sum over the grids; only the buckets citywide_expected reads
    share_counts: np.ndarray  # grids × keys: the sum over buckets 1 .. share_weeks
    grid: np.ndarray  # the sparse cells of buckets 0 .. recent_weeks: grid position, key position, bucket, count
    key: np.ndarray
    bucket: np.ndarray
    n: np.ndarray


def season_buckets(settings: SpikeSettings = DEFAULT) -> list[int]:
    """The week buckets citywide_expected reads: the recent weeks, and per earlier year the same weeks ± the half
    width and the recent weeks before them."""
    wanted = set(range(1, settings.recent_weeks + 1))
    for y in range(1, settings.years + 1):
        centre = 52 * y
        wanted |= set(range(centre - settings.season_half_width, centre + settings.season_half_width + 1))
        wanted |= set(range(centre + 1, centre + settings.recent_weeks + 1))
    return sorted(b for b in wanted if b < settings.horizon_weeks)


def weekly_counts(con: duckdb.DuckDBPyConnection, level: str, by: str, *, as_of: dt.datetime, codes: np.ndarray,
                  where: EventFilter | None = None, settings: SpikeSettings = DEFAULT) -> WeeklyCounts:
    """The counts of one as_of, aggregated in the database: the citywide weeks the expectation reads, each grid's
    incidents of the share weeks, and the cells of the recent weeks (only these leave DuckDB)."""
    query = EventQuery.of(where=where, as_of=as_of)
    extra = {"weeks": settings.horizon_weeks, "level": level, "buckets": season_buckets(settings),
             "share_weeks": settings.share_weeks, "recent_weeks": settings.recent_weeks}
    frames = {}
    for name, sql in (("city", q.city_weeks_sql(level, by)), ("share", q.grid_key_sql(level, by)),
                      ("cells", q.recent_cells_sql(level, by))):
        frames[name] = con.execute(sql, query.bind(sql, **extra)).df()
    city_rows, share_rows, cells = frames["city"], frames["share"], frames["cells"]
    seen = pd.concat([city_rows["key"], share_rows["key"], cells["key"]]).unique()
    keys = pd.Index(sorted(seen), dtype=object)
    grids = pd.Index(codes)
    city = np.zeros((len(keys), settings.horizon_weeks))
    city[keys.get_indexer(city_rows["key"]), city_rows["bucket"].to_numpy()] = city_rows["n"].to_numpy(dtype=float)
    share_counts = np.zeros((len(codes), len(keys)))
    share_counts[grids.get_indexer(share_rows["grid_code"]), keys.get_indexer(share_rows["key"])] = \
        share_rows["n"].to_numpy(dtype=float)
    return WeeklyCounts(codes=np.asarray(codes), keys=keys, city=city, share_counts=share_counts,
                        grid=grids.get_indexer(cells["grid_code"]), key=keys.get_indexer(cells["key"]),
                        bucket=cells["bucket"].to_numpy(dtype=np.int64), n=cells["n"].to_numpy(dtype=float))


@dataclass(frozen=True)
class _WeekCells:
    """Every weekly cell of a back-test (grid and key positions, bucket, count), sorted by bucket: bucket b's cells are
    start[b]:start[b + 1]."""

    grid: np.ndarray
    key: np.ndarray
    bucket: np.ndarray
    n: np.ndarray
    start: np.ndarray

    @classmethod
    def of(cls, cells: pd.DataFrame, codes: np.ndarray, keys: pd.Index, weeks: int) -> _WeekCells:
        grid, key = pd.Index(codes).get_indexer(cells["grid_code"]), keys.get_indexer(cells["key"])
        bucket = cells["bucket"].to_numpy(dtype=np.int64)
        keep = (grid >= 0) & (key >= 0)
        order = np.argsort(bucket[keep], kind="stable")
        grid, key, bucket = grid[keep][order], key[keep][order], bucket[keep][order]
        n = cells["n"].to_numpy(dtype=float)[keep][order]
        return cls(grid, key, bucket, n, np.searchsorted(bucket, np.arange(weeks + 1)))

    def weeks(self, first: int, last: int) -> slice:
        """The cells of buckets first .. last."""
        return slice(self.start[first], self.start[last + 1])


def _shifted_counts(cells: _WeekCells, weeks_back: int, *, codes: np.ndarray, keys: pd.Index,
                    settings: SpikeSettings) -> WeeklyCounts:
    """The counts of the moment `weeks_back` whole weeks before the one the cells were counted from: the same figures
    weekly_counts gives for that moment."""
    j, n_keys = weeks_back, len(keys)
    city = np.zeros((n_keys, settings.horizon_weeks))
    for b in season_buckets(settings):
        week = cells.weeks(b + j, b + j)
        city[:, b] = np.bincount(cells.key[week], weights=cells.n[week], minlength=n_keys)
    year = cells.weeks(j + 1, j + settings.share_weeks)
    share_counts = np.bincount(cells.grid[year] * n_keys + cells.key[year], weights=cells.n[year],
                               minlength=len(codes) * n_keys).reshape(len(codes), n_keys)
    recent = cells.weeks(j, j + settings.recent_weeks)
    return WeeklyCounts(codes=np.asarray(codes), keys=keys, city=city, share_counts=share_counts,
                        grid=cells.grid[recent], key=cells.key[recent], bucket=cells.bucket[recent] - j,
                        n=cells.n[recent])


def _expectations(counts: WeeklyCounts, settings: SpikeSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weekly citywide expectation per key, grid shares grids × keys, dispersion per key)."""
    shares = grid_shares(counts.share_counts, counts.share_counts.sum(axis=1), settings)
    weekly = citywide_expected(counts.city, settings)
    phi = _dispersions(counts.grid, counts.key, counts.bucket, counts.n, counts.city, shares, settings)
    return weekly, shares, phi


def _key_names(con: duckdb.DuckDBPyConnection, by: str) -> dict[str, str]:
    return category_names(con) if by == "category" else department_names(con)


def expected_text(expected: float) -> str:
    """'约 3 起', '约 0.4 起', '不足 0.1 起'."""
    if expected < 0.1:
        return "不足 0.1 起"
    return f"约 {expected:.0f} 起" if expected >= 1.5 else f"约 {expected:.1f} 起"


def _checked(con: duckdb.DuckDBPyConnection, level: str, by: str, as_of: TimeLike) -> dt.datetime:
    if level not in LEVELS:
        raise QueryError(f"`level` was {level!r} but is expected to be one of {list(LEVELS)}")
    if by not in q.SERIES_KEY:
        raise QueryError(f"`by` was {by!r} but is expected to be one of {list(q.SERIES_KEY)}")
    moment = store_time(con, as_of, "as_of")
    if moment is None:
        raise QueryError("`as_of` is required: pass the moment the warnings look back from")
    return moment


def spike_warnings(con: duckdb.DuckDBPyConnection, level: str = "small", *, as_of: TimeLike, days: int = 7,
                   by: str = "category", where: EventFilter | None = None,
                   settings: SpikeSettings = DEFAULT) -> pd.DataFrame:
    """Grids × categories (or departments) whose incidents in [as_of − days, as_of) exceed the bound (module doc).

    `days` is 7 (近7日) or 1 (今日: the same weekly expectation divided by 7). Columns: WARNING_COLUMNS."""
    if days not in (1, 7):
        raise QueryError(f"`days` was {days!r}; warnings look at the last 7 days or at today (1)")
    moment = _checked(con, level, by, as_of)
    grids = _labels(con, level)
    counts = weekly_counts(con, level, by, as_of=moment, codes=grids["grid_code"].to_numpy(), where=where,
                           settings=settings)
    return _spikes_from(con, level, by, counts, grids, moment, days, where, settings)


def _spikes_from(con: duckdb.DuckDBPyConnection, level: str, by: str, counts: WeeklyCounts, grids: pd.DataFrame,
                 moment: dt.datetime, days: int, where: EventFilter | None, settings: SpikeSettings) -> pd.DataFrame:
    """spike_warnings from weekly counts already read (all_warnings reads them once for 近7日 and 今日)."""
    if not len(counts.keys):
        return _empty()
    if days == 7:
        now = counts.bucket == 0
        observed = counts.grid[now], counts.key[now], counts.n[now]
    else:
        sql = q.recent_days_sql(level, by)
        recent = con.execute(sql, EventQuery.of(where=where, as_of=moment).bind(sql, days=days)).df()
        recent = recent[recent["grid_code"].isin(counts.codes) & recent["key"].isin(counts.keys)]
        observed = (pd.Index(counts.codes).get_indexer(recent["grid_code"]), counts.keys.get_indexer(recent["key"]),
                    recent["n"].to_numpy(dtype=float))
    return _spike_rows(con, level, by, counts, observed, grids, moment, days, settings)


def _spike_rows(con: duckdb.DuckDBPyConnection, level: str, by: str, counts: WeeklyCounts,
                observed: tuple[np.ndarray, np.ndarray, np.ndarray], grids: pd.DataFrame, moment: dt.datetime,
                days: int, settings: SpikeSettings, names: dict[str, str] | None = None) -> pd.DataFrame:
    """The warning rows of the observed cells (grid positions, key positions, counts) that exceed their bound."""
    obs_g, obs_k, obs_n = observed
    weekly, shares, phi = _expectations(counts, settings)
    expected = weekly[obs_k] * shares[obs_g, obs_k] * days / 7.0
    bound, p_value, warn = spike_bounds(obs_n, expected, phi[obs_k], settings)
    if not warn.any():
        return _empty()
    names = _key_names(con, by) if names is None else names
    start = moment - dt.timedelta(days=days)
    found = pd.DataFrame({
        "grid_code": counts.codes[obs_g[warn]], "key": counts.keys[obs_k[warn]].to_numpy(),
        "observed": obs_n[warn].astype("int64"), "expected": expected[warn], "p_value": p_value[warn],
    })
    found = found.merge(grids, on="grid_code", how="left")
    found["level"] = level
    found["kind"] = "spike_7d" if days == 7 else "spike_1d"
    found["key_name"] = found["key"].map(lambda k: names.get(k, k))
    found["ratio"] = found["observed"] / found["expected"]
    found["window_start"], found["window_end"] = start, moment
    span = "近7日" if days == 7 else "今日"
    found["sentence"] = [f"{span}{k}{o}起，往年同期{expected_text(e)}" for k, o, e in
                         zip(found["key_name"], found["observed"], found["expected"])]
    return _finish(found)


def spike_backtest(con: duckdb.DuckDBPyConnection, level: str = "small", *, ends: list[TimeLike],
                   by: str = "category", where: EventFilter | None = None,
                   settings: SpikeSettings = DEFAULT) -> pd.DataFrame:
    """The 近7日 spike warnings as of each moment of `ends` (each row's window_end says which), the same rows
    spike_warnings gives for each, from one read of the store per set of ends lying whole weeks apart."""
    moments = sorted({_checked(con, level, by, end) for end in ends})
    grids = _labels(con, level)
    codes = grids["grid_code"].to_numpy()
    names = _key_names(con, by)
    week = dt.timedelta(weeks=1)
    parts = []
    while moments:
        latest = moments[-1]
        group = [m for m in moments if (latest - m) % week == dt.timedelta(0)]
        moments = [m for m in moments if m not in group]
        span = (latest - group[0]) // week
        query = EventQuery.of(where=where, as_of=latest)
        sql = q.weekly_series_sql(level, by)
        weeks = settings.horizon_weeks + span
        frame = con.execute(sql, query.bind(sql, weeks=weeks, level=level)).df()
        keys = pd.Index(sorted(frame["key"].unique()), dtype=object)
        cells = _WeekCells.of(frame, codes, keys, weeks)
        for moment in group:
            counts = _shifted_counts(cells, (latest - moment) // week, codes=codes, keys=keys, settings=settings)
            now = counts.bucket == 0
            parts.append(_spike_rows(con, level, by, counts, (counts.grid[now], counts.key[now], counts.n[now]),
                                     grids, moment, 7, settings, names))
    found = [p for p in parts if len(p)]
    if not found:
        return _empty()
    out = pd.concat(found, ignore_index=True)
    return out.sort_values(["window_end", "p_value", "grid_code", "key"], kind="stable").reset_index(drop=True)


def _dispersions(gi: np.ndarray, ki: np.ndarray, bucket: np.ndarray, n: np.ndarray, city: np.ndarray,
                 shares: np.ndarray, settings: SpikeSettings) -> np.ndarray:
    """Per key: the quasi-Poisson dispersion of grid-week counts in the recent weeks against citywide × share."""
    out = np.ones(city.shape[0])
    weeks = range(1, settings.recent_weeks + 1)
    for k in range(city.shape[0]):
        big = np.flatnonzero(shares[:, k] * city[k, 1:settings.recent_weeks + 1].max() >= 1.0)
        if not len(big):
            continue
        mine = (ki == k) & (bucket >= 1) & (bucket <= settings.recent_weeks)
        y = np.zeros((len(big), settings.recent_weeks))
        pos = pd.Index(big).get_indexer(gi[mine])
        keep = pos >= 0
        np.add.at(y, (pos[keep], bucket[mine][keep] - 1), n[mine][keep])
        mu = shares[big, k][:, None] * np.array([city[k, w] for w in weeks])[None, :]
        out[k] = dispersion(y.ravel(), mu.ravel(), settings)
    return out


# --------------------------------------------------------------------------- overdue cases building up


BACKLOG_MIN = 5  # overdue events at least
BACKLOG_FACTOR = 2.0  # at least twice as many as BACKLOG_DAYS before
BACKLOG_DAYS = 28


def backlog_warnings(con: duckdb.DuckDBPyConnection, level: str = "small", *, as_of: TimeLike,
                     where: EventFilter | None = None) -> pd.DataFrame:
    """Grids whose overdue events at as_of are at least BACKLOG_MIN and BACKLOG_FACTOR × those 4 weeks before."""
    moment = store_time(con, as_of, "as_of")
    now = open_now(con, level, as_of=moment, where=where)
    before = open_now(con, level, as_of=moment - dt.timedelta(days=BACKLOG_DAYS), where=where)
    frame = now.merge(before[["grid_code", "overdue_now"]].rename(columns={"overdue_now": "before"}), on="grid_code")
    hit = frame[(frame["overdue_now"] >= BACKLOG_MIN)
                & (frame["overdue_now"] >= BACKLOG_FACTOR * frame["before"].clip(lower=1))]
    if hit.empty:
        return _empty()
    found = hit[["grid_code", "overdue_now", "before", "open_now"]].merge(_labels(con, level), on="grid_code")
    found = found.rename(columns={"overdue_now": "observed", "before": "expected"})
    found["expected"] = found["expected"].astype(float)
    found["ratio"] = found["observed"] / found["expected"].clip(lower=1)
    found["level"], found["kind"], found["key"], found["key_name"] = level, "backlog", "", "超期未办结"
    found["window_start"], found["window_end"] = moment - dt.timedelta(days=BACKLOG_DAYS), moment
    found["p_value"] = np.nan
    found["sentence"] = [f"超期未办结{o}件（4周前{int(b)}件），在办{n}件" for o, b, n in
                         zip(found["observed"], found["expected"], found["open_now"])]
    return _finish(found)


# --------------------------------------------------------------------------- patrol gaps with rising events


PATROL_RISE = 1.5
PATROL_MIN_EVENTS = 5


def patrol_warnings(con: duckdb.DuckDBPyConnection, level: str = "small", *, as_of: TimeLike,
                    where: EventFilter | None = None) -> pd.DataFrame:
    """Grids that nobody visited in the last 7 days (no small grid of theirs) while their events of the last 28
    days rose to at least PATROL_MIN_EVENTS and PATROL_RISE × the 28 days before. Empty without patrol data."""
    from layers.patrol import has_patrol_data, patrol_figures
    from layers.stats import window_totals

    if not has_patrol_data(con):
        return _empty()
    moment = store_time(con, as_of, "as_of")
    patrol = patrol_figures(con, level, as_of=moment)
    recent = window_totals(con, level, start=moment - dt.timedelta(days=28), end=moment, where=where, source="raw")
    before = window_totals(con, level, start=moment - dt.timedelta(days=56), end=moment - dt.timedelta(days=28),
                           where=where, source="raw")
    frame = patrol[["grid_code", "visited_small_7d", "days_since_visit"]].merge(
        recent[["grid_code", "events"]], on="grid_code").merge(
        before[["grid_code", "events"]].rename(columns={"events": "before"}), on="grid_code")
    hit = frame[(frame["visited_small_7d"] == 0) & (frame["events"] >= PATROL_MIN_EVENTS)
                & (frame["events"] >= PATROL_RISE * frame["before"].clip(lower=1))]
    if hit.empty:
        return _empty()
    found = hit.merge(_labels(con, level), on="grid_code").rename(columns={"events": "observed", "before": "expected"})
    found["expected"] = found["expected"].astype(float)
    found["ratio"] = found["observed"] / found["expected"].clip(lower=1)
    found["level"], found["kind"], found["key"], found["key_name"] = level, "patrol_gap", "", "巡查走访"
    found["window_start"], found["window_end"] = moment - dt.timedelta(days=28), moment
    found["p_value"] = np.nan
    days = found["days_since_visit"]
    found["sentence"] = [f"近7日无巡查走访（{'从未走访' if pd.isna(d) else f'已{int(d)}天'}），近4周事件{o}起，此前4周{int(b)}起"
                         for d, o, b in zip(days, found["observed"], found["expected"])]
    return _finish(found)


# --------------------------------------------------------------------------- one list


def all_warnings(con: duckdb.DuckDBPyConnection, level: str = "small", *, as_of: TimeLike,
                 where: EventFilter | None = None, by: str = "category", kinds: tuple[str, ...] | None = None,
                 settings: SpikeSettings = DEFAULT) -> pd.DataFrame:
    """Every kind of warning at `level` (KINDS; `kinds` picks some), one row each, strongest spikes first.

    A 今日 spike of a grid and key that also has a 近7日 spike is left out (the same finding)."""
    from layers.repeats import person_warnings, place_warnings

    chosen = tuple(KINDS) if kinds is None else kinds
    unknown = [k for k in chosen if k not in KINDS]
    if unknown:
        raise QueryError(f"`kinds` had {unknown}; choose from {list(KINDS)}")
    moment = store_time(con, as_of, "as_of")
    parts = []
    spikes = [days for kind, days in (("spike_7d", 7), ("spike_1d", 1)) if kind in chosen]
    if spikes:  # both spans from one read of the weekly counts
        moment = _checked(con, level, by, moment)
        grids = _labels(con, level)
        counts = weekly_counts(con, level, by, as_of=moment, codes=grids["grid_code"].to_numpy(), where=where,
                               settings=settings)
    if 7 in spikes:
        parts.append(_spikes_from(con, level, by, counts, grids, moment, 7, where, settings))
    if 1 in spikes:
        today = _spikes_from(con, level, by, counts, grids, moment, 1, where, settings)
        if parts and len(today):
            seen = set(zip(parts[0]["grid_code"], parts[0]["key"]))
            today = today[[(g, k) not in seen for g, k in zip(today["grid_code"], today["key"])]]
        parts.append(today)
    if "backlog" in chosen:
        parts.append(backlog_warnings(con, level, as_of=moment, where=where))
    if "repeat_place" in chosen:
        parts.append(place_warnings(con, level, as_of=moment))
    if "repeat_person" in chosen:
        parts.append(person_warnings(con, level, as_of=moment))
    if "patrol_gap" in chosen:
        parts.append(patrol_warnings(con, level, as_of=moment, where=where))
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty()
    out = pd.concat(parts, ignore_index=True)
    out["kind_name"] = out["kind"].map(KINDS)
    order = {k: i for i, k in enumerate(KINDS)}
    out["_order"] = out["kind"].map(order)
    out = out.sort_values(["_order", "p_value", "grid_code", "key"], kind="stable", na_position="last")
    return out.drop(columns="_order").reset_index(drop=True)


def grid_warnings(warnings: pd.DataFrame, code: str) -> pd.DataFrame:
    """The rows of a warnings frame about grid `code`."""
    return warnings[warnings["grid_code"] == code].reset_index(drop=True)
