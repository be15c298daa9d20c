"""A foreign city's own files for `minqing init`, made in the suite: grids near São Paulo with accented UTF-8 names
(a Shapefile without .cpg, GeoJSON, GeoPackage), two levels without parent codes, and event exports as real users
send them (UTM metres, ";" with decimal commas, tabs, an XLSX with date cells, gzip, 0/0 placeholders with grid
names spelt otherwise). Every builder returns what an independent check needs."""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyproj
import shapely

WEST, SOUTH, SIZE = -46.90, -23.70, 0.10  # six 0.1° squares: 3 columns x 2 rows
SMALL_NAMES = ["Araçariguama", "São Roque", "Embu-Guaçu", "Santana de Parnaíba", "Itapecerica da Serra", "Cotia"]
SMALL_CODES = ["0101", "0102", "0103", "0201", "0202", "0203"]  # written with leading zeros
MEDIUM_NAMES = ["Região Sul", "Região Norte"]  # the south row and the north row of squares
MEDIUM_CODES = ["R1", "R2"]
UTM = "EPSG:32723"  # WGS 84 / UTM zone 23S
CATEGORIES = ["Furto", "Roubo", "Perturbação do sossego", "Vandalismo"]
ENGLISH_STATUSES = ["Open", "In Progress", "Closed"]


def small_polygons() -> list[shapely.Polygon]:
    return [shapely.box(WEST + c * SIZE, SOUTH + r * SIZE, WEST + (c + 1) * SIZE, SOUTH + (r + 1) * SIZE)
            for r in range(2) for c in range(3)]


def small_grids() -> gpd.GeoDataFrame:
    """Six small grids: code (leading zeros), name (accented), population; no parent column."""
    return gpd.GeoDataFrame({"codigo": SMALL_CODES, "nome": SMALL_NAMES, "populacao": [1200, 3400, 560, 7800, 90, 4321]},
                            geometry=small_polygons(), crs="EPSG:4326")


def medium_grids() -> gpd.GeoDataFrame:
    """Two regions, each the union of a row of three small squares; the small grids do not name them."""
    polygons = small_polygons()
    return gpd.GeoDataFrame({"regiao": MEDIUM_CODES, "nome_regiao": MEDIUM_NAMES},
                            geometry=[shapely.union_all(polygons[:3]), shapely.union_all(polygons[3:])],
                            crs="EPSG:4326")


def write_shapefile_without_cpg(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """UTF-8 attributes, no .cpg and no code page byte: how many tools write a Shapefile."""
    frame.to_file(path, encoding="utf-8", engine="pyogrio")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    dbf = path.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[29] = 0  # no language driver (code page) either
    dbf.write_bytes(bytes(data))
    return path


@dataclass
class Events:
    """What was written and the truth an independent check compares with."""

    path: Path
    frame: pd.DataFrame  # one row per file row: lon, lat (WGS84, NaN when withheld), and the columns written
    placeholders: int = 0  # rows whose coordinates were 0/0


def _points(rng: np.random.Generator, n: int, outside: int) -> tuple[np.ndarray, np.ndarray]:
    """n points inside the six squares and `outside` just outside them (east of the city)."""
    lon = rng.uniform(WEST + 0.001, WEST + 3 * SIZE - 0.001, n)
    lat = rng.uniform(SOUTH + 0.001, SOUTH + 2 * SIZE - 0.001, n)
    lon[:outside] = rng.uniform(WEST + 3 * SIZE + 0.01, WEST + 3 * SIZE + 0.05, outside)
    return np.round(lon, 6), np.round(lat, 6)


def _times(rng: np.random.Generator, n: int) -> pd.Series:
    start = pd.Timestamp("2024-01-01")
    minutes = rng.integers(0, 365 * 24 * 60, n)
    return pd.Series(start + pd.to_timedelta(minutes, unit="min")).dt.floor("min")


def base_rows(seed: int, n: int, outside: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lon, lat = _points(rng, n, outside)
    created = _times(rng, n)
    status = rng.choice(ENGLISH_STATUSES, n)
    closed = created + pd.to_timedelta(rng.integers(30, 5000, n), unit="min")
    return pd.DataFrame({
        "id": [f"SP-{seed}-{i:05d}" for i in range(n)], "category": rng.choice(CATEGORIES, n), "status": status,
        "created": created, "closed": closed.where(status == "Closed"), "lon": lon, "lat": lat,
        "address": [f"Rua {i % 37} nº {i}" for i in range(n)], "description": [f"ocorrência {i}" for i in range(n)],
    })


def _text_frame(rows: pd.DataFrame, fmt: str = "%Y-%m-%d %H:%M") -> pd.DataFrame:
    out = rows.copy()
    for column in ("created", "closed"):
        out[column] = rows[column].dt.strftime(fmt).fillna("")
    return out


def utm_csv(folder: Path, n: int = 400) -> Events:
    """Events in projected metres (UTM 23S), columns x / y, an id column, Portuguese headers."""
    rows = base_rows(1, n, outside=12)
    x, y = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True).transform(rows["lon"], rows["lat"])
    text = _text_frame(rows)
    frame = pd.DataFrame({"protocolo": text["id"], "tipo": text["category"], "situacao": text["status"],
                          "data_abertura": text["created"], "data_fechamento": text["closed"],
                          "x": np.round(x, 2), "y": np.round(y, 2), "endereco": text["address"]})
    path = folder / "ocorrencias_utm.csv"
    frame.to_csv(path, index=False, encoding="utf-8")
    return Events(path=path, frame=rows)


def semicolon_csv(folder: Path, n: int = 300) -> Events:
    """";" as delimiter, decimal commas, two title lines above the header, NULL for empty cells (Excel in Brazil)."""
    rows = base_rows(2, n, outside=5)
    text = _text_frame(rows, "%d/%m/%Y %H:%M")  # day-first
    out = io.StringIO()
    out.write("Relatório de ocorrências;;;;;;;\nExportado em 05/03/2025;;;;;;;\n")
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["id", "categoria", "status", "data", "encerrado_em", "longitude", "latitude", "endereco"])
    for r, t in zip(rows.itertuples(), text.itertuples()):
        writer.writerow([r.id, r.category, r.status, t.created, t.closed or "NULL", f"{r.lon:.6f}".replace(".", ","),
                         f"{r.lat:.6f}".replace(".", ","), r.address])
    path = folder / "ocorrencias_ponto_e_virgula.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return Events(path=path, frame=rows)


def tab_file(folder: Path, n: int = 250) -> Events:
    """Tab-separated (.tab), lat before lon, ISO times with a Z."""
    rows = base_rows(3, n)
    frame = pd.DataFrame({"ID": rows["id"], "Type": rows["category"], "Status": rows["status"],
                          "Created": rows["created"].dt.tz_localize("America/Sao_Paulo").dt.tz_convert("UTC")
                          .dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                          "Closed": rows["closed"].dt.tz_localize("America/Sao_Paulo").dt.tz_convert("UTC")
                          .dt.strftime("%Y-%m-%dT%H:%M:%SZ").fillna(""),
                          "Latitude": rows["lat"], "Longitude": rows["lon"]})
    path = folder / "calls.tab"
    frame.to_csv(path, sep="\t", index=False)
    return Events(path=path, frame=rows)


def workbook(folder: Path, n: int = 200) -> Events:
    """An XLSX whose times are real date cells, on its second sheet, below a title row."""
    rows = base_rows(4, n)
    book = openpyxl.Workbook()
    book.active.title = "Leia-me"
    book.active.append(["Planilha exportada pelo sistema; os dados estão na aba Ocorrências"])
    sheet = book.create_sheet("Ocorrências")
    sheet.append(["Relatório mensal"])
    sheet.append(["Número", "Categoria", "Status", "Data de registro", "Data de encerramento", "Lon", "Lat"])
    for r in rows.itertuples():
        closed = r.closed.to_pydatetime() if pd.notna(r.closed) else None
        sheet.append([r.id, r.category, r.status, r.created.to_pydatetime(), closed, r.lon, r.lat])
    path = folder / "ocorrencias.xlsx"
    book.save(path)
    return Events(path=path, frame=rows)


def gzipped_csv(folder: Path, n: int = 300) -> Events:
    """A gzipped CSV (month-first US times with AM/PM)."""
    rows = base_rows(5, n, outside=7)
    text = _text_frame(rows, "%m/%d/%Y %I:%M:%S %p")
    frame = pd.DataFrame({"Unique Key": text["id"], "Complaint Type": text["category"], "Status": text["status"],
                          "Created Date": text["created"], "Closed Date": text["closed"],
                          "Latitude": rows["lat"], "Longitude": rows["lon"]})
    path = folder / "requests.csv.gz"
    path.write_bytes(gzip.compress(frame.to_csv(index=False).encode("utf-8")))
    return Events(path=path, frame=rows)


# Grid names as a department spells them: case, accents, punctuation and spaces differ from the grid file
OTHER_SPELLINGS = {"Araçariguama": "ARACARIGUAMA", "São Roque": "sao roque", "Embu-Guaçu": "Embu Guacu",
                   "Santana de Parnaíba": "SANTANA DE PARNAIBA", "Itapecerica da Serra": "itapecerica-da-serra",
                   "Cotia": " Cotia "}


def placeholder_csv(folder: Path, n: int = 240, withheld: int = 60) -> Events:
    """No id column; 0/0 for withheld locations; a grid-name column in other spellings (every row)."""
    rows = base_rows(6, n)
    small = small_grids()
    points = gpd.GeoSeries(gpd.points_from_xy(rows["lon"], rows["lat"]), crs="EPSG:4326")
    joined = gpd.sjoin(gpd.GeoDataFrame(geometry=points), small, predicate="within", how="left")
    rows["grid_name"] = joined["nome"].reindex(rows.index).to_numpy()
    rows["spelt"] = rows["grid_name"].map(OTHER_SPELLINGS)
    lon, lat = rows["lon"].astype(str), rows["lat"].astype(str)
    lon[:withheld], lat[:withheld] = "0", "0"
    rows.loc[:withheld - 1, ["lon", "lat"]] = np.nan
    text = _text_frame(rows)
    frame = pd.DataFrame({"created": text["created"], "category": text["category"], "status": text["status"],
                          "closed": text["closed"], "lon": lon, "lat": lat, "bairro_name": rows["spelt"]})
    path = folder / "withheld.csv"
    frame.to_csv(path, index=False)
    return Events(path=path, frame=rows, placeholders=withheld)


def write_grid_files(folder: Path) -> tuple[Path, Path]:
    """The small grids as a Shapefile without .cpg and the regions as GeoJSON (both UTF-8, accented)."""
    small = write_shapefile_without_cpg(small_grids(), folder / "distritos.shp")
    medium = folder / "regioes.geojson"
    medium_grids().to_file(medium, driver="GeoJSON")
    return small, medium


def expected_counts(events: Events, grids: gpd.GeoDataFrame, code: str) -> pd.Series:
    """Points per grid by an independent geopandas sjoin on the true positions (withheld rows have none)."""
    truth = events.frame.dropna(subset=["lon", "lat"])
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(truth["lon"], truth["lat"]), crs="EPSG:4326")
    joined = gpd.sjoin(points, grids, predicate="within", how="inner")
    return joined[code].value_counts().sort_index()

