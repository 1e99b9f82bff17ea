"""The QR poster a coordinator prints for the store: the center, the QR code of its deep
link, a call to scan it and the coming week's activities, as an A4 PDF and as a PNG.

The page is laid out once, in PDF points from the top-left corner, as a list of boxes and
lines of text; the PDF and the PNG only paint that list. Both files therefore show the same
lines, and as many activities fit on one as on the other. Text is measured with the fonts'
own metrics (ReportLab's), and the PNG draws the same DejaVu faces at the same sizes scaled
to its resolution. All wording arrives already translated.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import segno
from babel.dates import format_date
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from domain.certificate import BOLD_FONT, FONT_DIR, REGULAR_FONT, register_fonts

__all__ = [
    "PNG_DPI",
    "PNG_SIZE",
    "Layout",
    "Poster",
    "PosterActivity",
    "PosterLabels",
    "poster_layout",
    "qr_matrix",
    "render_pdf",
    "render_png",
    "shown_activities",
]

PAGE_WIDTH, PAGE_HEIGHT = A4  # points
PNG_DPI: Final = 150
_SCALE = PNG_DPI / 72
PNG_SIZE: Final = (round(PAGE_WIDTH * _SCALE), round(PAGE_HEIGHT * _SCALE))  # 1240 × 1754

_MARGIN = 18 * mm
_QR_SIDE = 72 * mm
_LINE_SIZE = 13
_LINE_LEADING = 21
_ACCENT = (0x2E, 0x7D, 0x5B)
_MUTED = (0x5F, 0x6B, 0x66)
_INK = (0x1C, 0x24, 0x20)
_WHITE = (0xFF, 0xFF, 0xFF)
_ELLIPSIS = "…"

Color = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class PosterActivity:
    starts_at: datetime  # in the center's time zone
    title: str


@dataclass(frozen=True, slots=True)
class Poster:
    center_name: str
    address: str
    opening_hours: str | None
    link: str  # the center's deep link: what the QR code holds
    activities: Sequence[PosterActivity]  # the week's first ones, soonest first
    total_activities: int  # all of the week's, which may be more than ``activities``


@dataclass(frozen=True, slots=True)
class PosterLabels:
    """Already translated wording, in the poster's language."""

    call_to_action: str
    opening_hours: str  # "Opening hours: {hours}"
    this_week: str
    nothing_this_week: str
    more: Callable[[int], str]  # "and 5 more"


@dataclass(frozen=True, slots=True)
class Box:
    x: float
    y: float  # top edge, from the top of the page
    width: float
    height: float
    color: Color


@dataclass(frozen=True, slots=True)
class Text:
    x: float
    baseline: float  # from the top of the page
    text: str
    size: float
    bold: bool = False
    color: Color = _INK
    align: str = "left"  # left | center


@dataclass(frozen=True, slots=True)
class Layout:
    boxes: list[Box]
    texts: list[Text]
    qr_box: tuple[float, float, float]  # left, top, side: the symbol with its quiet zone
    shown: int  # activities listed
    more: int  # activities left out ("and N more")


def qr_matrix(link: str) -> list[list[bool]]:
    """The QR code of ``link`` with its four-module quiet zone, row by row (True: dark).

    Error correction M survives a crease or a smudge on a printed sheet; a larger symbol
    version is picked automatically as the link grows."""
    code = segno.make_qr(link, error="m", boost_error=False)
    return [[bool(module) for module in row] for row in code.matrix_iter(scale=1, border=4)]


def shown_activities(total: int, room: int) -> tuple[int, int]:
    """How many activities to list when ``room`` lines are free, and how many to leave for
    "and N more", which takes a line of its own."""
    if total <= room:
        return total, 0
    shown = max(room - 1, 0)
    return shown, total - shown


def poster_layout(poster: Poster, labels: PosterLabels, locale: str) -> Layout:
    register_fonts()
    boxes: list[Box] = []
    texts: list[Text] = []
    width = PAGE_WIDTH - 2 * _MARGIN
    center = PAGE_WIDTH / 2

    # The band at the top: the center's name and where it is.
    y = _MARGIN + 6
    band_lines: list[Text] = []
    for line in _wrap(poster.center_name, BOLD_FONT, 26, width - 24, 2):
        y += 32
        band_lines.append(Text(_MARGIN + 12, y, line, 26, bold=True, color=_WHITE))
    for line in _wrap(poster.address, REGULAR_FONT, 14, width - 24, 2):
        y += 20
        band_lines.append(Text(_MARGIN + 12, y, line, 14, color=_WHITE))
    if poster.opening_hours:
        hours = labels.opening_hours.format(hours=poster.opening_hours)
        for line in _wrap(hours, REGULAR_FONT, 12, width - 24, 2):
            y += 18
            band_lines.append(Text(_MARGIN + 12, y, line, 12, color=_WHITE))
    band_bottom = y + 16
    boxes.append(Box(_MARGIN, _MARGIN, width, band_bottom - _MARGIN, _ACCENT))
    texts += band_lines

    # The QR code, centred, with the call to scan it and the link for those who type.
    qr_top = band_bottom + 10
    qr_box = (center - _QR_SIDE / 2, qr_top, _QR_SIDE)
    y = qr_top + _QR_SIDE + 6
    for line in _wrap(labels.call_to_action, BOLD_FONT, 22, width, 2):
        y += 28
        texts.append(Text(center, y, line, 22, bold=True, color=_ACCENT, align="center"))
    link = poster.link.removeprefix("https://")
    y += 20
    texts.append(
        Text(center, y, _fit(link, REGULAR_FONT, 11, width), 11, color=_MUTED, align="center")
    )

    # The week: as many lines as the rest of the page holds.
    y += 18
    boxes.append(Box(_MARGIN, y, width, 1.2, _ACCENT))
    y += 26
    texts.append(Text(_MARGIN, y, labels.this_week, 17, bold=True, color=_ACCENT))
    room = int((PAGE_HEIGHT - _MARGIN - y) // _LINE_LEADING)
    shown, more = shown_activities(poster.total_activities, room)
    shown = min(shown, len(poster.activities))
    more = poster.total_activities - shown
    listed = poster.activities[:shown]
    whens = [_when(activity.starts_at, locale) for activity in listed]
    column = max((stringWidth(w, BOLD_FONT, _LINE_SIZE) for w in whens), default=0) + 12
    for activity, moment in zip(listed, whens, strict=True):
        y += _LINE_LEADING
        texts.append(Text(_MARGIN, y, moment, _LINE_SIZE, bold=True))
        title = _fit(activity.title, REGULAR_FONT, _LINE_SIZE, width - column)
        texts.append(Text(_MARGIN + column, y, title, _LINE_SIZE))
    if more:
        y += _LINE_LEADING
        texts.append(Text(_MARGIN, y, labels.more(more), _LINE_SIZE, color=_MUTED))
    elif not listed:
        y += _LINE_LEADING
        text = _fit(labels.nothing_this_week, REGULAR_FONT, _LINE_SIZE, width)
        texts.append(Text(_MARGIN, y, text, _LINE_SIZE, color=_MUTED))
    return Layout(boxes, texts, qr_box, shown, more)


def render_pdf(poster: Poster, labels: PosterLabels, locale: str) -> bytes:
    """One A4 page. The same input always gives the same bytes."""
    layout = poster_layout(poster, labels, locale)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True, initialFontName=REGULAR_FONT)
    canvas.setTitle(poster.center_name)
    canvas.setAuthor("Sosedi")
    canvas.setCreator("Sosedi")
    canvas.setSubject(labels.call_to_action)
    for box in layout.boxes:
        canvas.setFillColorRGB(*_unit(box.color))
        canvas.rect(box.x, PAGE_HEIGHT - box.y - box.height, box.width, box.height, 0, 1)
    for text in layout.texts:
        canvas.setFillColorRGB(*_unit(text.color))
        canvas.setFont(BOLD_FONT if text.bold else REGULAR_FONT, text.size)
        draw = canvas.drawCentredString if text.align == "center" else canvas.drawString
        draw(text.x, PAGE_HEIGHT - text.baseline, text.text)
    # The code in vector form: it prints sharp at any size.
    left, top, side = layout.qr_box
    matrix = qr_matrix(poster.link)
    module = side / len(matrix)
    canvas.setFillColorRGB(0, 0, 0)
    for row, modules in enumerate(matrix):
        for column, dark in enumerate(modules):
            if dark:
                x = left + column * module
                y = PAGE_HEIGHT - top - (row + 1) * module
                # A hair wider than the module: no white seams between neighbours.
                canvas.rect(x, y, module + 0.05, module + 0.05, 0, 1)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def render_png(poster: Poster, labels: PosterLabels, locale: str) -> bytes:
    """The same page as ``render_pdf``, ``PNG_SIZE`` pixels at ``PNG_DPI``: to post in a
    chat or print on a printer without a PDF viewer at hand."""
    layout = poster_layout(poster, labels, locale)
    image = Image.new("RGB", PNG_SIZE, _WHITE)
    draw = ImageDraw.Draw(image)
    for box in layout.boxes:
        draw.rectangle(_pixels(box.x, box.y, box.width, box.height), fill=box.color)
    for text in layout.texts:
        anchor = "ms" if text.align == "center" else "ls"
        font = _pil_font(text.bold, text.size * _SCALE)
        draw.text(
            (text.x * _SCALE, text.baseline * _SCALE),
            text.text,
            fill=text.color,
            font=font,
            anchor=anchor,
        )
    left, top, side = layout.qr_box
    matrix = qr_matrix(poster.link)
    module = side / len(matrix)
    for row, modules in enumerate(matrix):
        for column, dark in enumerate(modules):
            if dark:
                draw.rectangle(
                    _pixels(left + column * module, top + row * module, module, module), fill=0
                )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", dpi=(PNG_DPI, PNG_DPI))
    return buffer.getvalue()


def _pixels(x: float, y: float, width: float, height: float) -> tuple[int, int, int, int]:
    # Edges rounded to whole pixels, so neighbouring modules meet without gaps or overlaps.
    x0, y0 = round(x * _SCALE), round(y * _SCALE)
    x1, y1 = round((x + width) * _SCALE), round((y + height) * _SCALE)
    return x0, y0, max(x1 - 1, x0), max(y1 - 1, y0)


@functools.cache
def _pil_font(bold: bool, size: float) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONT_DIR / name), size)


def _unit(color: Color) -> tuple[float, float, float]:
    red, green, blue = color
    return red / 255, green / 255, blue / 255


def _when(moment: datetime, locale: str) -> str:
    """ "Mon 23 Nov 10:00" in the locale's words."""
    day = format_date(moment.date(), "EEE d MMM", locale=locale)
    return f"{day[:1].upper()}{day[1:]} {moment:%H:%M}"


def _fit(text: str, font: str, size: float, width: float) -> str:
    """``text`` on one line of ``width``, cut with an ellipsis when it is too long."""
    text = " ".join(text.split())
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + _ELLIPSIS, font, size) > width:
        text = text[:-1]
    return text.rstrip() + _ELLIPSIS


def _wrap(text: str, font: str, size: float, width: float, max_lines: int) -> list[str]:
    """Greedy word wrap into at most ``max_lines`` lines; the last one is cut with an
    ellipsis when the text goes on."""
    lines: list[str] = []
    words = text.split()
    while words and len(lines) < max_lines:
        line = words.pop(0)
        while words and stringWidth(f"{line} {words[0]}", font, size) <= width:
            line = f"{line} {words.pop(0)}"
        lines.append(line)
    if words:
        lines[-1] = f"{lines[-1]} {' '.join(words)}"
    return [_fit(line, font, size, width) for line in lines]
