"""The PDF's typeface: a Unicode TrueType font when the machine has one, else core Helvetica.

fpdf2 bundles no TrueType font, so :data:`DEFAULT_FONTS` lists where Linux distributions put
DejaVu Sans (Debian/Ubuntu package ``fonts-dejavu-core``); the first present is used. Without
one, the report is set in the PDF core font Helvetica, which every viewer has but which
covers only Windows-1252: other characters are transliterated (``č`` → ``c``) or become
``?``. With a TrueType font, characters it has no glyph for (Chinese in DejaVu) become ``?``
too, rather than silently vanishing; pass a font that covers them (e.g. Noto Sans CJK) to
:func:`~factoryos.apps.reports.pdf.to_pdf`.
"""

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import TTFFont

CORE_ENCODING = "windows-1252"  # what fpdf2 declares for core fonts (WinAnsiEncoding)
FAMILY = "report"


@dataclass(frozen=True)
class PdfFont:
    """A TrueType font: the regular face and, if there is one, the bold face."""

    regular: Path
    bold: Path | None = None


def _dejavu(folder: str) -> PdfFont:
    return PdfFont(Path(folder, "DejaVuSans.ttf"), Path(folder, "DejaVuSans-Bold.ttf"))


DEFAULT_FONTS: tuple[PdfFont, ...] = (
    _dejavu("/usr/share/fonts/truetype/dejavu"),  # Debian, Ubuntu
    _dejavu("/usr/share/fonts/dejavu-sans-fonts"),  # Fedora, RHEL
    _dejavu("/usr/share/fonts/TTF"),  # Arch
    _dejavu("/usr/share/fonts/dejavu"),  # Alpine, openSUSE
)


@dataclass(frozen=True)
class Typeface:
    """The family set on the document and how text is made printable in it."""

    family: str
    fit: Callable[[str], str]


def install(pdf: FPDF, fonts: Sequence[PdfFont]) -> Typeface:
    """Register the first font that exists on ``pdf``; core Helvetica when none does."""
    for font in fonts:
        if font.regular.is_file():
            pdf.add_font(FAMILY, "", str(font.regular))
            bold = font.bold if font.bold is not None and font.bold.is_file() else font.regular
            pdf.add_font(FAMILY, "B", str(bold))
            ttf = pdf.fonts[FAMILY]
            assert isinstance(ttf, TTFFont)
            return Typeface(FAMILY, _glyph_filter(set(ttf.cmap)))
    pdf.core_fonts_encoding = CORE_ENCODING
    return Typeface("helvetica", _transliterate)


def _glyph_filter(codepoints: set[int]) -> Callable[[str], str]:
    def fit(text: str) -> str:
        return "".join(c if ord(c) in codepoints or c in "\n\t" else "?" for c in text)

    return fit


def _transliterate(text: str) -> str:
    return "".join(_core_char(c) for c in text)


def _core_char(char: str) -> str:
    try:
        char.encode(CORE_ENCODING)
        return char
    except UnicodeEncodeError:
        base = (
            unicodedata.normalize("NFKD", char)
            .encode(CORE_ENCODING, "ignore")
            .decode(CORE_ENCODING)
        )
        return base or "?"
