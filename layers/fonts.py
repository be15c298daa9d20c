"""The CJK TrueType font the briefings embed (PDF, chart images): found among the system's fonts, or a clear error.

`.ci/system-packages` (run by `make test`) installs Debian's fonts-wqy-microhei. reportlab embeds TrueType outlines
only (CFF-flavoured OpenType such as Noto CJK .otf does not work), so the candidates are TrueType files.
"""

from __future__ import annotations

from pathlib import Path

from store.errors import UserError

__all__ = ["CANDIDATES", "cjk_font_path", "MISSING_FONT"]

CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
MISSING_FONT = ("简报需要中文 TrueType 字体，但本机未安装 / the briefing needs a CJK TrueType font and none is installed: "
                "install Debian's fonts-wqy-microhei (sudo apt-get install fonts-wqy-microhei, or `make system-packages` "
                "as root), then run the command again")


def cjk_font_path() -> Path:
    """The first installed candidate; UserError (MISSING_FONT) when there is none."""
    for candidate in CANDIDATES:
        path = Path(candidate)
        if path.is_file():
            return path
    raise UserError(MISSING_FONT)
