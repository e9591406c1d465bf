"""Text in any script on the documents' PDF pages (labels, invoices, packing slips).

A name or address may mix scripts ("Mohammed محمد", "山田太郎", "דוד כהן, Herzl 12"), and no
single font covers them all, so each line is cut into runs and every run gets the first font
that has its characters (Noto Sans for Latin, Greek, Cyrillic and Vietnamese; Noto Sans Arabic;
Noto Sans Hebrew; Noto Sans JP, KR, SC and TC, in the order the destination country prefers,
because one Han character looks different in Japan, Korea, mainland China and Taiwan). All
fonts come from PyPI wheels and are embedded in the PDF as subsets, so the page prints the same
anywhere.

Right-to-left text: the line's embedding levels come from the Unicode bidirectional algorithm
(python-bidi's implementation of UAX #9, rules up to I2), the runs are put in visual order by
rule L2, and each run is shaped by HarfBuzz (through ReportLab): Arabic letters join in their
initial, medial and final forms, Hebrew and Arabic runs read right to left, and numbers inside
them stay left to right. Not done: mirroring of brackets in right-to-left runs (rule L4), and
right alignment of right-to-left lines (every line keeps the layout's alignment).

Lines of plain ASCII take the old path (one run, no shaping), so they render as before.
"""

import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from bidi.algorithm import (
    explicit_embed_and_overrides,
    get_base_level,
    get_embedding_levels,
    get_empty_storage,
    resolve_implicit_levels,
    resolve_neutral_types,
    resolve_weak_types,
)
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont, shapeStr
from reportlab.pdfgen.canvas import Canvas


@dataclass(frozen=True)
class FontFile:
    name: str  # the name it is registered (and embedded) under
    package: str  # the PyPI wheel's import package that ships it
    path: str
    shape: bool  # joins or reorders letters: always shaped by HarfBuzz
    # These wheels ship variable fonts whose default instance (the outlines ReportLab embeds)
    # is Thin for some: those are drawn filled and stroked with a line this share of the font
    # size wide, which brings their strokes to about Regular, legible on a thermal printer.
    embolden: float = 0.0


LATIN = FontFile("NotoSans", "fontpkg_noto_sans", "files/NotoSans[wdth,wght].ttf", False)
ARABIC = FontFile("NotoSansArabic", "justmytype_intl_rtl",
                  "fonts/ofl/notosansarabic/NotoSansArabic[wdth,wght].ttf", True)
THIN = 0.045
HEBREW = FontFile("NotoSansHebrew", "justmytype_intl_rtl",
                  "fonts/ofl/notosanshebrew/NotoSansHebrew[wdth,wght].ttf", True, THIN)
JAPANESE = FontFile("NotoSansJP", "justmytype_intl_cjk", "fonts/ofl/notosansjp/NotoSansJP[wght].ttf", False, THIN)
KOREAN = FontFile("NotoSansKR", "justmytype_intl_cjk", "fonts/ofl/notosanskr/NotoSansKR[wght].ttf", False, THIN)
SIMPLIFIED_CHINESE = FontFile("NotoSansSC", "justmytype_intl_cjk", "fonts/ofl/notosanssc/NotoSansSC[wght].ttf", False,
                              THIN)
TRADITIONAL_CHINESE = FontFile("NotoSansTC", "justmytype_intl_cjk", "fonts/ofl/notosanstc/NotoSansTC[wght].ttf",
                               False, THIN)

# Han characters are drawn in the forms the destination reads; elsewhere simplified Chinese,
# the widest coverage, comes first.
_CJK_BY_COUNTRY: dict[str, tuple[FontFile, ...]] = {
    "JP": (JAPANESE, SIMPLIFIED_CHINESE, TRADITIONAL_CHINESE, KOREAN),
    "KR": (KOREAN, JAPANESE, SIMPLIFIED_CHINESE, TRADITIONAL_CHINESE),
    "TW": (TRADITIONAL_CHINESE, SIMPLIFIED_CHINESE, JAPANESE, KOREAN),
    "HK": (TRADITIONAL_CHINESE, SIMPLIFIED_CHINESE, JAPANESE, KOREAN),
    "MO": (TRADITIONAL_CHINESE, SIMPLIFIED_CHINESE, JAPANESE, KOREAN),
}
_CJK_DEFAULT = (SIMPLIFIED_CHINESE, TRADITIONAL_CHINESE, JAPANESE, KOREAN)

_registering = threading.Lock()  # documents render in worker threads


def fallback_fonts(country: str | None = None) -> tuple[FontFile, ...]:
    """The fonts tried for each character, in order, for text going to ``country``."""
    return (LATIN, ARABIC, HEBREW, *_CJK_BY_COUNTRY.get((country or "").upper(), _CJK_DEFAULT))


@lru_cache(maxsize=None)
def _loaded(font: FontFile) -> TTFont:
    """Registered with ReportLab on first use (the CJK fonts are 10-18 MB each: a document
    that needs none of them does not pay for reading them)."""
    with _registering:
        with resources.as_file(resources.files(font.package) / font.path) as file:
            ttf = TTFont(font.name, str(file))
        pdfmetrics.registerFont(ttf)
        return ttf


def register(font: FontFile = LATIN) -> str:
    return _loaded(font).fontName


def _covers(font: FontFile, char: str) -> bool:
    return ord(char) in _loaded(font).face.charToGlyph


def _font_for(char: str, fonts: tuple[FontFile, ...], current: FontFile | None) -> FontFile:
    # Spaces, punctuation and digits stay in the font of the run they are in.
    if current is not None and not char.isalpha() and _covers(current, char):
        return current
    for font in fonts:
        if _covers(font, char):
            return font
    return fonts[0]  # nobody has it: the primary font's "missing glyph" box


def _levels(text: str) -> list[int]:
    """The resolved embedding level of each character (UAX #9 up to rule I2); the paragraph
    direction comes from the line's first strong character."""
    storage = get_empty_storage()
    storage["base_level"] = get_base_level(text)
    storage["base_dir"] = ("L", "R")[storage["base_level"]]
    get_embedding_levels(text, storage, False, False)
    explicit_embed_and_overrides(storage, False)
    resolve_weak_types(storage, False)
    resolve_neutral_types(storage, False)
    resolve_implicit_levels(storage, False)
    return [c["level"] for c in storage["chars"]]


@dataclass
class Run:
    text: str  # logical order; a shaped run's str is ReportLab's shaped string
    font: FontFile
    level: int
    width: float = 0.0


def _visual_order(runs: list[Run]) -> list[Run]:
    """Rule L2: from the highest level down to the lowest odd one, reverse every sequence of
    runs at that level or higher. (The characters inside a right-to-left run are put in
    order by HarfBuzz when it is shaped.)"""
    runs = list(runs)
    odd = [r.level for r in runs if r.level % 2]
    if not odd:
        return runs
    for level in range(max(r.level for r in runs), min(odd) - 1, -1):
        i = 0
        while i < len(runs):
            if runs[i].level >= level:
                j = i
                while j < len(runs) and runs[j].level >= level:
                    j += 1
                runs[i:j] = runs[i:j][::-1]
                i = j
            else:
                i += 1
    return runs


def layout(text: str, size: float, country: str | None = None) -> list[Run]:
    """``text`` as runs in visual (left-to-right drawing) order, each with its font, shaped
    where its script needs it, and its width at ``size``."""
    if text.isascii():
        name = register(LATIN)
        return [Run(text, LATIN, 0, pdfmetrics.stringWidth(text, name, size))]
    fonts = fallback_fonts(country)
    levels = _levels(text)
    runs: list[Run] = []
    for char, level in zip(text, levels, strict=True):
        last = runs[-1] if runs else None
        font = _font_for(char, fonts, last.font if last and last.level == level else None)
        if last is not None and last.font == font and last.level == level:
            last.text += char
        else:
            runs.append(Run(char, font, level))
    for run in runs:
        name = register(run.font)
        if run.font.shape or run.level % 2:
            # HarfBuzz picks the joined forms and, for a right-to-left run, gives the glyphs
            # in visual order; ReportLab draws a ShapedStr glyph by glyph at those advances.
            shaped = shapeStr(run.text, name, size, force=True)
            run.text, run.width = shaped, sum(d.x_advance for d in shaped.__shapeData__) * size / 1000
        else:
            run.width = pdfmetrics.stringWidth(run.text, name, size)
    return _visual_order(runs)


class PageText:
    """Writes lines on a canvas at the current size: ``left``, ``right`` (ending at x) or
    ``centre``d, each cut into runs with fonts that cover them."""

    def __init__(self, canvas: Canvas, country: str | None = None) -> None:
        self._c = canvas
        self._country = country
        self._size = 10.0

    def size(self, size: float) -> None:
        self._size = size

    def width(self, text: str) -> float:
        return sum(r.width for r in layout(text, self._size, self._country))

    def left(self, x: float, y: float, text: str) -> None:
        self._draw(x, y, layout(text, self._size, self._country))

    def right(self, x: float, y: float, text: str) -> None:
        runs = layout(text, self._size, self._country)
        self._draw(x - sum(r.width for r in runs), y, runs)

    def centre(self, x: float, y: float, text: str) -> None:
        runs = layout(text, self._size, self._country)
        self._draw(x - sum(r.width for r in runs) / 2, y, runs)

    def _draw(self, x: float, y: float, runs: list[Run]) -> None:
        for run in runs:
            self._c.setFont(run.font.name, self._size)
            if run.font.embolden:
                self._c.saveState()
                self._c.setLineWidth(run.font.embolden * self._size)
                self._c.setLineJoin(1)
                self._c.drawString(x, y, run.text, mode=2)  # fill, then stroke
                self._c.restoreState()
            else:
                self._c.drawString(x, y, run.text)
            x += run.width
