"""Dashboard benchmark: server time to render each page cold and warm (Streamlit AppTest) and the map payload,
on the 5M-event store, next to the baseline of a bare Streamlit script (the framework's own cost) in the same run.

Run: .venv/bin/python bench/dashboard.py [--db bench/out/full.duckdb]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

from streamlit.testing.v1 import AppTest  # noqa: E402

APP = ROOT / "dashboard" / "app.py"
PAGES = {"指挥中心": None, "网格详情": "views/grid_detail.py", "趋势与导出": "views/trends.py",
         "分析研判": "views/analysis.py"}


def map_payload_bytes(at: AppTest) -> int:
    """UTF-8 bytes of the map component's arguments: what streamlit-folium sends to the browser (as the page
    tests measure it, tests/dashboard/test_page_command_center.py). Every page draws one map."""
    components = at.get("component_instance")
    if len(components) != 1:
        raise SystemExit(f"expected one map component, found {len(components)}")
    return len(components[0].proto.json_args.encode("utf-8"))


def render(page: str | None) -> tuple[float, AppTest]:
    """Seconds for one run of app.py showing `page` (None: the default page) in a new session, and the result."""
    at = AppTest.from_file(str(APP), default_timeout=300)
    if page:
        at.switch_page(page)
    started = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - started
    if at.exception:
        raise SystemExit(f"{page or 'command center'} raised: {at.exception[0].message}")
    return elapsed, at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, default=ROOT / "bench" / "out" / "full.duckdb")
    args = parser.parse_args()
    if not args.db.exists():
        raise SystemExit(f"{args.db} missing: run `.venv/bin/python bench/etl.py --events 5000000` first")
    os.environ["MINQING_DB"] = str(args.db.resolve())
    os.environ["MINQING_CLOCK"] = "data"
    print(f"store: {args.db}")
    print(f"{'page':<10} {'cold s':>7} {'warm s':>7} {'map payload KB':>15}")
    results = {}
    bare = AppTest.from_string("import streamlit as st\nst.title('民情地图')")
    started = time.perf_counter()
    bare.run()
    print(f"{'baseline':<10} {time.perf_counter() - started:>7.2f} {'':>7} {'':>15}  (a bare Streamlit script)")
    from dashboard.widgets.analysis.warnings import warning_board

    for title, page in PAGES.items():
        cold, _ = render(page)  # first run in this process: caches empty
        started = time.perf_counter()  # the 预警 tile's counts, started by the command center's run on a thread
        if not warning_board().wait_settled(timeout=600):
            raise SystemExit("the 预警 tile's counts were still being computed after 600 s")
        background = time.perf_counter() - started
        warm, at = render(page)  # a new session: cached queries and prepared geometry reused
        if title not in [t.value for t in at.title]:
            raise SystemExit(f"{page or 'the default page'} did not show {title}")
        payload = map_payload_bytes(at)
        results[title] = {"cold_s": cold, "warm_s": warm, "map_kb": payload / 1000, "after_cold_s": background}
        print(f"{title:<10} {cold:>7.2f} {warm:>7.2f} {payload / 1000:>15.0f}"
              + (f"  (+{background:.2f} s of 预警 counts after the cold run, off the page's thread)"
                 if background >= 0.01 else ""), flush=True)
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
