"""PDF certificate of a volunteer's hours at community centers.

Volunteers ask for it for schools, universities and employers, so it has to look like a
document: title, name, a table of centers and months, the total and the issue date, on A4.
All wording arrives already translated; this module only formats numbers and month names
for the locale and lays the page out.

The only I/O is reading the DejaVu fonts the project ships: the PDF standard fonts have no
Cyrillic, and embedding the font makes the text render the same in every viewer.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple
from xml.sax.saxutils import escape

from babel.dates import format_date
from babel.numbers import format_decimal
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    HRFlowable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

__all__ = [
    "BOLD_FONT",
    "FONT_DIR",
    "REGULAR_FONT",
    "CertificateLabels",
    "HoursCertificate",
    "HoursRow",
    "register_fonts",
    "render_certificate",
]

# The fonts live in the repository's assets/, two levels up from this file.
FONT_DIR = Path(__file__).resolve().parent.parent / "assets" / "fonts"

# Project-specific names, so registering them cannot clash with fonts other code registers
# in reportlab's process-wide registry.
_REGULAR = "SosediDejaVuSans"
_BOLD = "SosediDejaVuSans-Bold"
# The same faces serve every PDF the bot makes (the QR poster too).
REGULAR_FONT = _REGULAR
BOLD_FONT = _BOLD

_MARGIN = 20 * mm
_FOOTER_SPACE = 14 * mm
# Platypus frames inset their content by 6 pt; the footer and running head use the same
# edges as the table, so everything on the page lines up.
_FRAME_PADDING = 6
_ACCENT = colors.HexColor("#2E7D5B")
_MUTED = colors.HexColor("#5F6B66")
_HEADER_BG = colors.HexColor("#E3F0EA")
_STRIPE_BG = colors.HexColor("#F5F8F7")
_RULE = colors.HexColor("#C9D6D0")
_HOURS_PATTERN = "#,##0.##"


class HoursRow(NamedTuple):
    """Hours at one center in one month; ``month`` is the first day of that month."""

    center_name: str
    city: str
    month: date
    hours: float


@dataclass(frozen=True)
class HoursCertificate:
    """What the certificate states. ``total_hours`` is printed as given."""

    volunteer_name: str
    issued_on: date
    rows: Sequence[HoursRow]
    total_hours: float
    # Of the total, the hours the centers' roll calls confirmed; None: not stated.
    confirmed_hours: float | None = None


@dataclass(frozen=True)
class CertificateLabels:
    """Already translated wording, in the certificate's language."""

    title: str
    volunteer: str
    center: str
    month: str
    hours: str
    total: str
    issued_on: str
    footer: str
    confirmed: str = ""  # the lines under the table when the confirmed hours are stated
    unconfirmed: str = ""


def render_certificate(
    certificate: HoursCertificate, labels: CertificateLabels, locale: str
) -> bytes:
    """Lay the certificate out as A4 PDF bytes; long tables continue on further pages.

    ``locale`` (a Babel locale such as ``"ru"``, ``"uk"`` or ``"en"``) formats month names,
    numbers and the issue date. The same input always gives the same bytes.
    """
    rows = [HoursRow(*row) for row in certificate.rows]
    for row in rows:
        _check_hours(row.hours)
    _check_hours(certificate.total_hours)
    if certificate.confirmed_hours is not None:
        _check_hours(certificate.confirmed_hours)
        if certificate.confirmed_hours > certificate.total_hours + 1e-9:
            raise ValueError("confirmed hours exceed the total")
    _register_fonts()
    styles = _styles()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN + _FOOTER_SPACE,
        title=f"{labels.title} — {certificate.volunteer_name}",
        author="Sosedi",
        creator="Sosedi",
        subject=labels.title,
        lang=locale.replace("_", "-"),
        # Otherwise every page names Helvetica, a font that is neither embedded nor used.
        initialFontName=_REGULAR,
        initialFontSize=11,
        # Invariant mode drops the timestamp and random file ID, so equal input gives
        # equal bytes; the issue date is written as the creation date instead (below).
        invariant=True,
    )
    issued = _long_date(certificate.issued_on, locale)
    story = [
        Paragraph(_markup(labels.title), styles["title"]),
        HRFlowable(width="100%", thickness=1.2, color=_ACCENT, spaceBefore=2, spaceAfter=8 * mm),
        Paragraph(_markup(labels.volunteer), styles["label"]),
        Paragraph(_markup(certificate.volunteer_name), styles["name"]),
        Spacer(1, 8 * mm),
        _hours_table(rows, certificate.total_hours, labels, locale, styles),
        *_confirmation(certificate, labels, locale, styles),
        Spacer(1, 10 * mm),
        Paragraph(f"{_markup(labels.issued_on)}: <b>{_markup(issued)}</b>", styles["body"]),
    ]
    canvas_maker = functools.partial(
        _CertificateCanvas,
        footer=labels.footer,
        running_head=f"{labels.title} — {certificate.volunteer_name}",
        issued_on=certificate.issued_on,
    )
    doc.build(story, canvasmaker=canvas_maker)
    return buffer.getvalue()


def _check_hours(hours: float) -> None:
    if isinstance(hours, bool) or not isinstance(hours, int | float):
        raise TypeError(f"hours must be a number, got {type(hours).__name__}")
    # A certificate is an official-looking statement: NaN or negative hours are a bug
    # upstream and must not be printed.
    if not math.isfinite(hours) or hours < 0:
        raise ValueError(f"hours must be a finite non-negative number, got {hours!r}")


@functools.cache
def _register_fonts() -> None:
    for name, file_name in ((_REGULAR, "DejaVuSans.ttf"), (_BOLD, "DejaVuSans-Bold.ttf")):
        path = FONT_DIR / file_name
        if not path.is_file():
            raise FileNotFoundError(f"certificate font is missing: {path}")
        pdfmetrics.registerFont(TTFont(name, str(path)))
    # Lets <b> in paragraph markup switch to the bold face.
    pdfmetrics.registerFontFamily(
        _REGULAR, normal=_REGULAR, bold=_BOLD, italic=_REGULAR, boldItalic=_BOLD
    )


def register_fonts() -> None:
    """Make ``REGULAR_FONT`` and ``BOLD_FONT`` known to ReportLab (once per process)."""
    _register_fonts()


def _styles() -> dict[str, ParagraphStyle]:
    body = ParagraphStyle("body", fontName=_REGULAR, fontSize=11, leading=15)
    return {
        "body": body,
        "title": ParagraphStyle(
            "title",
            parent=body,
            fontName=_BOLD,
            fontSize=22,
            leading=28,
            alignment=TA_CENTER,
            textColor=_ACCENT,
            spaceAfter=4,
        ),
        "label": ParagraphStyle("label", parent=body, fontSize=10, textColor=_MUTED),
        "name": ParagraphStyle("name", parent=body, fontName=_BOLD, fontSize=18, leading=24),
        "cell": ParagraphStyle("cell", parent=body, fontSize=10.5, leading=13.5),
        "city": ParagraphStyle("city", parent=body, fontSize=9, leading=12, textColor=_MUTED),
        "head": ParagraphStyle("head", parent=body, fontName=_BOLD, fontSize=10.5, leading=13.5),
        "head_number": ParagraphStyle(
            "head_number",
            parent=body,
            fontName=_BOLD,
            fontSize=10.5,
            leading=13.5,
            alignment=TA_RIGHT,
        ),
        "number": ParagraphStyle(
            "number", parent=body, fontSize=10.5, leading=13.5, alignment=TA_RIGHT
        ),
        "total": ParagraphStyle("total", parent=body, fontName=_BOLD, fontSize=11, leading=14),
        "total_number": ParagraphStyle(
            "total_number", parent=body, fontName=_BOLD, fontSize=11, leading=14, alignment=TA_RIGHT
        ),
    }


def _hours_table(
    rows: list[HoursRow],
    total_hours: float,
    labels: CertificateLabels,
    locale: str,
    styles: dict[str, ParagraphStyle],
) -> Table:
    head, cell = styles["head"], styles["cell"]
    data: list[list[Any]] = [
        [
            Paragraph(_markup(labels.center), head),
            Paragraph(_markup(labels.month), head),
            Paragraph(_markup(labels.hours), styles["head_number"]),
        ]
    ]
    for row in rows:
        center = [Paragraph(_markup(row.center_name), cell)]
        if row.city:
            center.append(Paragraph(_markup(row.city), styles["city"]))
        data.append(
            [
                center,
                Paragraph(_markup(_month(row.month, locale)), cell),
                Paragraph(_hours(row.hours, locale), styles["number"]),
            ]
        )
    data.append(
        [
            Paragraph(_markup(labels.total), styles["total"]),
            "",
            Paragraph(_hours(total_hours, locale), styles["total_number"]),
        ]
    )

    last = len(data) - 1
    style = [
        # Cells are Paragraphs with their own fonts; this keeps the empty spanned cell from
        # pulling the non-embedded default Helvetica into the file.
        ("FONTNAME", (0, 0), (-1, -1), _REGULAR),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
        ("LEFTPADDING", (0, 0), (-1, -1), 6),
        ("RIGHTPADDING", (0, 0), (-1, -1), 6),
        ("BACKGROUND", (0, 0), (-1, 0), _HEADER_BG),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, _ACCENT),
        ("LINEBELOW", (0, 1), (-1, last - 1), 0.4, _RULE),
        ("LINEABOVE", (0, last), (-1, last), 1.2, _ACCENT),
        ("SPAN", (0, last), (1, last)),
    ]
    if last > 1:
        style.append(("ROWBACKGROUNDS", (0, 1), (-1, last - 1), [colors.white, _STRIPE_BG]))
    return Table(
        data,
        # Shares of the frame's width, so the table lines up with the title rule.
        colWidths=["56%", "26%", "18%"],
        # The header row is repeated on every page the table continues on.
        repeatRows=1,
        style=TableStyle(style),
        hAlign="LEFT",
    )


def _confirmation(
    certificate: HoursCertificate,
    labels: CertificateLabels,
    locale: str,
    styles: dict[str, ParagraphStyle],
) -> list[Any]:
    """How much of the total a coordinator's roll call confirmed, and how much not yet."""
    confirmed = certificate.confirmed_hours
    if confirmed is None:
        return []
    unconfirmed = max(0.0, certificate.total_hours - confirmed)
    return [
        Spacer(1, 4 * mm),
        *(
            Paragraph(f"{_markup(label)}: <b>{_hours(hours, locale)}</b>", styles["body"])
            for label, hours in ((labels.confirmed, confirmed), (labels.unconfirmed, unconfirmed))
        ),
    ]


def _markup(text: str) -> str:
    # Paragraph text is XML-like markup: names such as "Tom & Jerry" must not be parsed.
    return escape(text)


def _month(month: date, locale: str) -> str:
    # "LLLL" is the stand-alone month name ("июль", not the genitive "июля"); in a table
    # cell it starts with a capital letter, as a heading would.
    text = format_date(month, "LLLL yyyy", locale=locale)
    return text[:1].upper() + text[1:]


def _hours(hours: float, locale: str) -> str:
    return format_decimal(hours, format=_HOURS_PATTERN, locale=locale)


def _long_date(day: date, locale: str) -> str:
    return format_date(day, "long", locale=locale)


class _CertificateCanvas(Canvas):
    """Canvas that adds the footer and "page / pages" once the page count is known."""

    def __init__(
        self, *args: Any, footer: str, running_head: str, issued_on: date, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._running_head = running_head
        self._pages: list[dict[str, Any]] = []
        # The document's creation date is the issue date, not the moment of rendering, so
        # re-rendering the same certificate gives identical bytes.
        stamp = f"D:{issued_on:%Y%m%d}000000+00'00'"
        self.setDateFormatter(lambda *_: stamp)

    def showPage(self) -> None:
        # Pages are held back until save(), when the total for "1 / 3" is known.
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._draw_footer(number, total)
            if number > 1:
                self._draw_running_head()
            super().showPage()
        super().save()

    def _draw_footer(self, number: int, total: int) -> None:
        page_width, _ = self._pagesize
        left, right = _MARGIN + _FRAME_PADDING, page_width - _MARGIN - _FRAME_PADDING
        width = right - left
        self.saveState()
        self.setStrokeColor(_RULE)
        self.setLineWidth(0.5)
        self.line(left, _MARGIN + 9 * mm, right, _MARGIN + 9 * mm)
        self.setFont(_REGULAR, 8.5)
        self.setFillColor(_MUTED)
        page_label = f"{number} / {total}" if total > 1 else ""
        # Keep the footer clear of the page number on the right.
        text_width = width - (2 * self.stringWidth(page_label, _REGULAR, 8.5) + 8 * mm)
        lines = simpleSplit(self._footer, _REGULAR, 8.5, text_width)[:2]
        y = _MARGIN + 5 * mm
        for line in lines:
            self.drawCentredString(page_width / 2, y, line)
            y -= 3.6 * mm
        if page_label:
            self.drawRightString(right, _MARGIN + 5 * mm, page_label)
        self.restoreState()

    def _draw_running_head(self) -> None:
        # A loose continuation page still says whose certificate it belongs to.
        page_width, page_height = self._pagesize
        left = _MARGIN + _FRAME_PADDING
        width = page_width - 2 * left
        self.saveState()
        self.setFont(_REGULAR, 8.5)
        self.setFillColor(_MUTED)
        (line, *_rest) = simpleSplit(self._running_head, _REGULAR, 8.5, width) or [""]
        self.drawString(left, page_height - _MARGIN + 4 * mm, line)
        self.restoreState()
