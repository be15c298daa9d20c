"""The briefing as PDF (reportlab platypus): A4, the CJK TrueType font embedded, images from layers.briefing_images.

reportlab because it writes PDF itself (no browser, no Pango/Cairo system libraries as weasyprint needs) and
embeds a TrueType font subset, so the file reads the same on any machine offline.
"""

from __future__ import annotations

import io
import threading

import pandas as pd
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from layers.briefing import BriefingContent, headline_table, period_line, sections
from layers.fonts import cjk_font_path

__all__ = ["render_pdf", "FONT_NAME"]

FONT_NAME = "MinqingCJK"
SUPERVISION_MM = (30, 30, 20, 20, 27, 16, 37)  # the 督办 table's columns (180 mm): its times on one line
_LOCK = threading.Lock()


def _font() -> str:
    with _LOCK:
        if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(FONT_NAME, str(cjk_font_path()), subfontIndex=0))
    return FONT_NAME


def _styles(font: str) -> dict[str, ParagraphStyle]:
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=18, leading=24, alignment=1, spaceAfter=4),
        "sub": ParagraphStyle("sub", fontName=font, fontSize=9.5, leading=13, alignment=1, textColor=colors.grey),
        "h": ParagraphStyle("h", fontName=font, fontSize=13, leading=18, spaceBefore=8, spaceAfter=4),
        "p": ParagraphStyle("p", fontName=font, fontSize=9, leading=12.5),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=8, leading=10),
    }


def _escape(text: object) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _table(frame: pd.DataFrame, styles: dict[str, ParagraphStyle], widths: list[float] | None = None) -> Table:
    def cell(value: object) -> Paragraph:
        if isinstance(value, (int,)) or (hasattr(value, "dtype") and str(getattr(value, "dtype", "")).startswith("int")):
            value = f"{int(value):,}"
        return Paragraph(_escape("—" if value is None or (not isinstance(value, str) and pd.isna(value)) else value),
                         styles["cell"])

    rows = [[cell(c) for c in frame.columns]] + [[cell(v) for v in row] for row in frame.itertuples(index=False)]
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e5e7eb")),
        ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#9ca3af")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return table


def _image(png: bytes, width: float) -> Image:
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(png)) as picture:
        w, h = picture.size
    return Image(io.BytesIO(png), width=width, height=width * h / w)


def render_pdf(content: BriefingContent) -> bytes:
    """The briefing as PDF bytes (A4 portrait)."""
    font = _font()
    styles = _styles(font)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=14 * mm,
                            bottomMargin=14 * mm, title=content.title, author="民情地图")
    width = A4[0] - 30 * mm
    story: list = [
        Paragraph(_escape(content.title), styles["title"]),
        Paragraph(_escape(period_line(content)), styles["sub"]),
        Spacer(1, 4 * mm),
        Paragraph("一、总体情况", styles["h"]),
    ]
    head = headline_table(content)
    story += [_table(head, styles), Spacer(1, 2 * mm),
              Paragraph(_escape(f"截至统计时点，在办事件 {content.open_now:,} 件，其中超期 {content.overdue_now:,} 件。"),
                        styles["p"])]
    story.append(Paragraph("二、分布与热点", styles["h"]))
    for caption, png in content.images.items():
        story += [_image(png, width * (0.85 if "趋势" not in caption and "构成" not in caption else 1.0)),
                  Paragraph(_escape(caption), styles["sub"]), Spacer(1, 2 * mm)]
    for heading, note, frame in sections(content):
        story.append(Paragraph(heading, styles["h"]))
        if note:
            story.append(Paragraph(_escape(note), styles["p"]))
        if frame is not None:
            widths = [w * mm for w in SUPERVISION_MM] if frame is content.supervision else None
            story.append(_table(frame, styles, widths) if len(frame) else Paragraph("无。", styles["p"]))
    for name, text in content.definitions:
        story.append(Paragraph(_escape(f"{name}：{text}"), styles["p"]))

    def footer(canvas, document) -> None:
        canvas.setFont(font, 8)
        canvas.setFillColor(colors.grey)
        canvas.drawCentredString(A4[0] / 2, 8 * mm, f"{content.title}　第 {document.page} 页")

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
