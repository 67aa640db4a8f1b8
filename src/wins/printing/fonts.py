"""Text → 1-bit picture, for text a thermal printer's code pages cannot print (Arabic, Cyrillic, CJK …).

Fonts are looked up in the usual Debian places (fonts-dejavu-core covers Latin, Greek, Cyrillic, Arabic,
Hebrew; fonts-noto-cjk or fonts-wqy-microhei add Chinese, Japanese, Korean). For each text the first font
that has every glyph wins; without any TrueType font Pillow's small built-in font is used, so printing never
fails for want of a font (it may then show boxes).
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

logger = logging.getLogger("wins.printing")

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

_REGULAR = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)
_BOLD = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansArabic-Bold.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
)
MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"


def candidate_paths(*, bold: bool, extra: tuple[str, ...] = ()) -> list[str]:
    """Font files to try, best first: `extra`, then WINS_PRINT_FONTS (colon-separated), then system fonts."""
    env = tuple(p for p in os.environ.get("WINS_PRINT_FONTS", "").split(os.pathsep) if p)
    ordered = [*extra, *env, *(_BOLD if bold else ()), *_REGULAR]
    return [p for p in dict.fromkeys(ordered) if Path(p).is_file()]


@lru_cache(maxsize=64)
def _load(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@lru_cache(maxsize=4096)
def _has_glyph(path: str, char: str) -> bool:
    # Pillow exposes no character map; a missing glyph draws the font's ".notdef" box, the same for every
    # missing character, so compare with a code point no font covers.
    font = _load(path, 24)
    missing = font.getmask("\U0010fffd")
    mask = font.getmask(char)
    return bool(mask.size != missing.size or bytes(mask) != bytes(missing))


def covers(path: str, text: str) -> bool:
    return all(_has_glyph(path, ch) for ch in set(text) if not ch.isspace() and ch.isprintable())


def pick_font(text: str, size: int, *, bold: bool = False, extra: tuple[str, ...] = ()) -> Font:
    paths = candidate_paths(bold=bold, extra=extra)
    for path in paths:
        if covers(path, text):
            return _load(path, size)
    if paths:
        logger.warning("no installed font has every character of %r; some may print as boxes", text)
        return _load(paths[0], size)
    logger.warning("no TrueType font found (install fonts-dejavu-core); using Pillow's built-in font")
    return ImageFont.load_default(size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        # Words where there are spaces; single characters for scripts written without them (CJK).
        tokens = paragraph.split(" ") if " " in paragraph else list(paragraph)
        joiner = " " if " " in paragraph else ""
        for token in tokens:
            candidate = f"{current}{joiner}{token}" if current else token
            if draw.textlength(candidate, font=font) <= width or not current:
                current = candidate
            else:
                lines.append(current)
                current = token
        lines.append(current)
    return lines


def text_image(
    text: str, *, size: int, width: int, bold: bool = False, extra_fonts: tuple[str, ...] = ()
) -> Image.Image:
    """`text` drawn black on white, centred, wrapped to `width` pixels, as a 1-bit image."""
    font = pick_font(text, size, bold=bold, extra=extra_fonts)
    scratch = ImageDraw.Draw(Image.new("L", (1, 1)))
    lines = _wrap(scratch, text, font, width - 8)
    line_height = int(size * 1.25)
    image = Image.new("L", (width, line_height * len(lines) + 4), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        # Raqm (bundled with Pillow) shapes Arabic and orders right-to-left text by itself.
        draw.text((width // 2, 2 + i * line_height + line_height // 2), line, font=font, fill=0, anchor="mm")
    # A hard threshold keeps letters crisp (the printer's own dithering would blur them).
    return image.point(lambda v: 0 if v < 160 else 255, mode="1")
