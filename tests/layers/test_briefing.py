"""The briefing rendered: the numbers pdftotext finds equal the statistics functions, the pages as PNG in
tests/artifacts (looked at), the DOCX read back; the yearly statistics as leaders get them."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest
from docx import Document

from layers.briefing import briefing_content
from layers.briefing_docx import render_docx
from layers.briefing_pdf import render_pdf
from layers.stats import data_clock, period_changes
from layers.review import review_window
from layers.yearly import write_yearly_csv, write_yearly_xlsx, yearly_statistics
from references import PUBLISHED

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                   reason="poppler-utils missing (make test installs it as root)")


@pytest.fixture(scope="module")
def con(demo_db: Path):
    connection = duckdb.connect(str(demo_db), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def content(con):
    return briefing_content(con, "week", as_of=data_clock(con) + pd.Timedelta(minutes=1))


@needs_poppler
def test_pdf_numbers_equal_the_statistics(con, content, tmp_path: Path) -> None:
    pdf = tmp_path / "brief.pdf"
    pdf.write_bytes(render_pdf(content))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert content.title in text and "统计时点" in text
    start, end = review_window("week", content.as_of)
    city = period_changes(con, "city", start=start, end=end).iloc[0]
    for figure, label in (("events", "新增事件"), ("closed", "办结事件"), ("disputes_received", "受理纠纷"),
                          ("disputes_resolved", "化解纠纷")):
        line = next(l for l in text.splitlines() if l.strip().startswith(label))
        numbers = [int(n.replace(",", "")) for n in re.findall(r"(?<![\d.])[+-]?[\d,]+(?![\d.%])", line)]
        assert numbers[:3] == [int(city[figure]), int(city[f"{figure}_prev"]), int(city[f"{figure}_change_prev"])]
        assert int(city[f"{figure}_last_year"]) in numbers[3:]
    assert f"在办事件 {content.open_now:,} 件" in text.replace("\n", "")
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "70", "-png", str(pdf), str(ARTIFACTS / "briefing_week")], check=True)
    assert (ARTIFACTS / "briefing_week-1.png").stat().st_size > 20_000


def test_docx_reads_back_with_the_same_content(content) -> None:
    doc = Document(io.BytesIO(render_docx(content)))
    paragraphs = "\n".join(p.text for p in doc.paragraphs)
    assert content.title in paragraphs and "口径说明" in paragraphs
    head = doc.tables[0]
    assert [c.text for c in head.rows[0].cells] == ["指标", "本期", "上期", "较上期", "去年同期", "较去年同期"]
    assert [c.text for c in head.rows[1].cells][:3] == ["新增事件", f"{content.headlines[0].value:,}",
                                                       f"{content.headlines[0].previous:,}"]
    assert len(doc.inline_shapes) == len(content.images) >= 3


def test_yearly_statistics_as_leaders_get_them(con) -> None:
    as_of = data_clock(con) + pd.Timedelta(minutes=1)
    table = yearly_statistics(con, "large", year_from=2019, year_to=2025, as_of=as_of)
    assert len(table.rows) == 56 and table.rows["网格名称"].is_unique
    for year, resolved in PUBLISHED.items():
        assert table.total[f"{year}年化解"] == resolved
    rates = table.rows[table.rate_columns[0]].dropna()
    assert ((rates >= 0) & (rates <= 1)).all() and 0 < table.total[table.rate_columns[0]] <= 1
    buffer = io.BytesIO()
    write_yearly_xlsx(table, buffer)
    book = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    sheet = book["年度统计"]
    assert "2019–2025" in sheet["A1"].value and sheet["A2"].value.startswith("统计时点")
    header = [c.value for c in sheet[3]]
    last = sheet.max_row
    assert sheet.cell(last, header.index("网格名称") + 1).value == "合计"
    resolved_2019 = sheet.cell(last, header.index("2019年化解") + 1)
    assert resolved_2019.value == 1965 and resolved_2019.number_format == "#,##0"
    rate = sheet.cell(last, header.index(table.rate_columns[0]) + 1)
    assert isinstance(rate.value, float) and rate.number_format == "0.0%"
    assert "口径说明" in book.sheetnames and book["口径说明"].max_row == len(table.definitions) + 1
    text = io.BytesIO()
    write_yearly_csv(table, text)
    lines = text.getvalue().decode("utf-8-sig").splitlines()
    assert lines[0].startswith("矛盾纠纷化解统计") and lines[-1].split(",")[1] == "合计"
    assert "None" not in text.getvalue().decode("utf-8-sig") and "1,965" in lines[-1].replace('"', "")


def supervision_rows(event_ids: list[str]) -> pd.DataFrame:
    """Open 督办 items as layers.export_service.supervision_rows gives them (the first overdue)."""
    n = len(event_ids)
    return pd.DataFrame({
        "event_id": event_ids, "place": ["甲镇 · 乙村"] * n, "category_name": ["邻里纠纷"] * n,
        "status_label": ["督办中"] * n, "overdue": ["是"] + ["否"] * (n - 1),
        "deadline": [pd.Timestamp("2025-12-30 18:00")] * n, "last_at": [pd.Timestamp("2025-12-29 09:30")] * n,
        "last_action": ["督办"] * n,
    })


def test_the_briefing_is_in_the_stores_zone_and_numbers_its_parts(con, content) -> None:
    from layers.briefing import period_line, sections, with_supervision
    from store.timewindow import store_zone

    zone = store_zone(con)
    assert content.zone == zone and period_line(content).endswith(f"统计时点：{content.as_of:%Y-%m-%d %H:%M}（{zone}）")
    aware = pd.Timestamp(content.as_of).tz_localize(zone).tz_convert("UTC")  # the same moment, told in UTC
    assert briefing_content(con, "day", as_of=aware, with_images=False).as_of == content.as_of
    assert [h for h, _, _ in sections(content)] == ["三、事件最多的网格（前10）", "四、预警", "五、超期最久的事件",
                                                    "六、事件类别（前10）", "七、口径说明"]
    supervised = with_supervision(content, supervision_rows([f"e{i}" for i in range(20)]))
    headings = [h for h, _, _ in sections(supervised)]
    assert headings[3:] == ["六、督办事项", "七、事件类别（前10）", "八、口径说明"]
    assert supervised.supervision_note == "截至统计时点，未办结的督办事项 20 项，其中督办超期 1 项。下表列出前 15 项。"
    assert len(supervised.supervision) == 15 and supervised.rows == content.rows + 15
    assert supervised.definitions[-1][0] == "督办" and content.definitions[-1][0] != "督办"


@needs_poppler
def test_the_pdf_lists_the_supervision_items(content, tmp_path: Path) -> None:
    from layers.briefing import with_supervision

    pdf = tmp_path / "brief.pdf"
    pdf.write_bytes(render_pdf(with_supervision(content, supervision_rows(["police110:A-1", "hotline:B-2"]))))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "六、督办事项" in text and "未办结的督办事项 2 项，其中督办超期 1 项。" in text
    assert "police110:A-1" in text and "2025-12-30 18:00" in text and "八、口径说明" in text
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "70", "-png", str(pdf), str(ARTIFACTS / "briefing_supervision")], check=True)
