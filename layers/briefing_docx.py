"""The briefing as DOCX (python-docx): the same content and order as the PDF, editable by the office before the
meeting; Chinese text in the east-Asian font slot so Word and WPS pick a CJK face."""

from __future__ import annotations

import io

import pandas as pd
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from layers.briefing import BriefingContent, headline_table, period_line, sections

__all__ = ["render_docx", "EAST_ASIA_FONT"]

EAST_ASIA_FONT = "微软雅黑"


def _text(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    if isinstance(value, (int,)) or str(getattr(value, "dtype", "")).startswith("int"):
        return f"{int(value):,}"
    return str(value)


def _table(doc, frame: pd.DataFrame) -> None:
    table = doc.add_table(rows=1, cols=len(frame.columns))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, frame.columns):
        cell.text = str(name)
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in frame.itertuples(index=False):
        cells = table.add_row().cells
        for cell, value in zip(cells, row):
            cell.text = _text(value)


def render_docx(content: BriefingContent) -> bytes:
    """The briefing as DOCX bytes."""
    doc = Document()
    style = doc.styles["Normal"]
    style.font.size = Pt(10.5)
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), EAST_ASIA_FONT)
    for section in doc.sections:
        section.left_margin = section.right_margin = Cm(2)
    title = doc.add_heading(content.title, level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    sub = doc.add_paragraph(period_line(content))
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_heading("一、总体情况", level=1)
    _table(doc, headline_table(content))
    doc.add_paragraph(f"截至统计时点，在办事件 {content.open_now:,} 件，其中超期 {content.overdue_now:,} 件。")
    doc.add_heading("二、分布与热点", level=1)
    for caption, png in content.images.items():
        doc.add_picture(io.BytesIO(png), width=Cm(15))
        doc.add_paragraph(caption).alignment = WD_ALIGN_PARAGRAPH.CENTER
    for heading, note, frame in sections(content):
        doc.add_heading(heading, level=1)
        if note:
            doc.add_paragraph(note)
        if frame is None:
            continue
        if len(frame):
            _table(doc, frame)
        else:
            doc.add_paragraph("无。")
    for name, text in content.definitions:
        doc.add_paragraph(f"{name}：{text}")
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
