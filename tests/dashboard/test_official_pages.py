"""Every page for an official scoped to one medium grid (M) and to one large grid (L) of the demo city: the pages
run, nothing of another town (large grid) shows, and the figures equal an independent count over the jurisdiction."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from access.accounts import add_user

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PASSWORD = "official password 1"
PAGES = ("views/command_center.py", "views/grid_detail.py", "views/trends.py")


@pytest.fixture(scope="module")
def grids(demo_db: Path) -> pd.DataFrame:
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        return con.execute("SELECT grid_code, name, level, parent_code, population FROM grids").df()
    finally:
        con.close()


def town_of(grids: pd.DataFrame) -> dict[str, str]:
    """Each grid's large grid (town)."""
    parent = dict(zip(grids["grid_code"], grids["parent_code"]))
    level = dict(zip(grids["grid_code"], grids["level"]))
    out = {}
    for code in grids["grid_code"]:
        town = code
        while level[town] != "large":
            town = parent[town]
        out[code] = town
    return out


def scope_of(grids: pd.DataFrame, kind: str) -> str:
    mediums = grids[grids["level"] == "medium"].sort_values("grid_code")
    medium = mediums.iloc[0]
    return medium["grid_code"] if kind == "medium" else medium["parent_code"]


def signed_in(monkeypatch, tmp_path: Path, demo_db: Path, scope: str) -> AppTest:
    db = tmp_path / "minqing.duckdb"
    shutil.copyfile(demo_db, db)
    users = tmp_path / "users.toml"
    add_user(users, "official1", role="official", scope=[scope], name="网格员", password=PASSWORD)
    monkeypatch.setenv("MINQING_DB", str(db))
    monkeypatch.setenv("MINQING_CLOCK", "data")
    monkeypatch.setenv("MINQING_USERS", str(users))
    monkeypatch.setenv("MINQING_AUDIT", str(tmp_path / "audit.sqlite"))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.text_input(key="auth_username").input("official1")
    at.text_input(key="auth_password").input(PASSWORD)
    (button,) = [b for b in at.button if b.label == "登录"]
    button.click().run()
    assert not at.exception, at.exception
    return at


def rendered(at: AppTest) -> str:
    """Every element's protobuf as text: markdown, dataframes, metrics, widgets' options and component args."""
    out: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    for frame in at.dataframe:
        out.append(frame.value.to_string())
    return "\n".join(out)


@pytest.mark.parametrize("kind", ["medium", "large"])
def test_an_official_sees_only_their_jurisdiction(monkeypatch, tmp_path, demo_db, grids, kind):
    scope = scope_of(grids, kind)
    towns = town_of(grids)
    own_town = towns[scope]
    others = grids[[towns[c] != own_town for c in grids["grid_code"]]]
    other_names = set(grids[(grids["level"] == "large") & (grids["grid_code"] != own_town)]["name"])
    at = signed_in(monkeypatch, tmp_path, demo_db, scope)
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        text = rendered(at)
        leaked = [c for c in others["grid_code"] if c in text]
        assert not leaked, (page, leaked[:5])
        leaked_names = [n for n in other_names if n in text]
        assert not leaked_names, (page, leaked_names[:5])


@pytest.mark.parametrize("kind", ["medium", "large"])
def test_grid_detail_starts_at_the_scope_grid_with_its_figures(monkeypatch, tmp_path, demo_db, grids, kind):
    scope = scope_of(grids, kind)
    at = signed_in(monkeypatch, tmp_path, demo_db, scope)
    at.selectbox(key="frame_window").select("全部").run()
    at.switch_page("views/grid_detail.py").run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    row = grids.set_index("grid_code").loc[scope]
    assert metrics["人口"] == f"{int(row['population']):,}"
    children = int((grids["parent_code"] == scope).sum())
    assert metrics[next(k for k in metrics if k.startswith("下级"))] == f"{children:,}"
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        events = con.execute("SELECT grid_large, grid_medium FROM events").df()
    finally:
        con.close()
    column = "grid_medium" if kind == "medium" else "grid_large"
    assert metrics["事件数"] == f"{int((events[column] == scope).sum()):,}"
    # the breadcrumb never goes above the scope grid: no 全市 button
    assert not [b for b in at.button if b.key and b.key.startswith("drill_crumb_")]
