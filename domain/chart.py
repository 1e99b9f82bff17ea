"""A small grouped bar chart as a PNG, drawn with Pillow: one group per week, one bar per
series (sign-ups and attendance), the axes labelled in the reader's language.

No plotting library: a chart of four weeks does not need one, and the DejaVu faces the
project ships already write Cyrillic.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageDraw, ImageFont

from domain.certificate import FONT_DIR

__all__ = ["CHART_SIZE", "BarChart", "Series", "nice_ceiling", "render_bar_chart"]

CHART_SIZE: Final = (960, 600)
_COLORS = ((0x2E, 0x7D, 0x5B), (0xE0, 0x9F, 0x3E), (0x4A, 0x78, 0xB5))
_INK = (0x1C, 0x24, 0x20)
_MUTED = (0x5F, 0x6B, 0x66)
_GRID = (0xDD, 0xE4, 0xE1)
_WHITE = (0xFF, 0xFF, 0xFF)
_LEFT, _RIGHT, _TOP, _BOTTOM = 96, 32, 120, 104


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[int]


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    categories: Sequence[str]  # one per group, under the x axis
    series: Sequence[Series]
    x_label: str
    y_label: str


def nice_ceiling(value: int) -> tuple[int, int]:
    """The top of the y axis and the step between its ticks: round numbers, four or five
    ticks, and at least 1 so that an empty chart still has an axis."""
    if value <= 4:
        return max(value, 1), 1
    magnitude = 10 ** math.floor(math.log10(value / 4))
    for factor in (1, 2, 5, 10):
        step = factor * magnitude
        if step * 5 >= value:
            return step * math.ceil(value / step), step
    raise AssertionError("unreachable: factor 10 always fits")


def render_bar_chart(chart: BarChart) -> bytes:
    width, height = CHART_SIZE
    image = Image.new("RGB", CHART_SIZE, _WHITE)
    draw = ImageDraw.Draw(image)
    plot_left, plot_right = _LEFT, width - _RIGHT
    plot_top, plot_bottom = _TOP, height - _BOTTOM

    draw.text((width / 2, 36), chart.title, fill=_INK, font=_font(True, 26), anchor="mm")
    # The legend, under the title.
    x = plot_left
    for index, series in enumerate(chart.series):
        color = _COLORS[index % len(_COLORS)]
        draw.rectangle((x, 64, x + 16, 80), fill=color)
        draw.text((x + 24, 72), series.name, fill=_INK, font=_font(False, 18), anchor="lm")
        x += 24 + draw.textlength(series.name, font=_font(False, 18)) + 32

    highest = max((value for series in chart.series for value in series.values), default=0)
    top, step = nice_ceiling(highest)
    scale = (plot_bottom - plot_top) / top
    for tick in range(0, top + 1, step):
        y = plot_bottom - tick * scale
        draw.line((plot_left, y, plot_right, y), fill=_GRID, width=1)
        draw.text((plot_left - 10, y), str(tick), fill=_MUTED, font=_font(False, 16), anchor="rm")
    draw.line((plot_left, plot_top, plot_left, plot_bottom), fill=_INK, width=2)
    draw.line((plot_left, plot_bottom, plot_right, plot_bottom), fill=_INK, width=2)

    groups = max(len(chart.categories), 1)
    group_width = (plot_right - plot_left) / groups
    bars = max(len(chart.series), 1)
    bar_width = group_width * 0.7 / bars
    for group, category in enumerate(chart.categories):
        left = plot_left + group * group_width + group_width * 0.15
        for index, series in enumerate(chart.series):
            value = series.values[group]
            x0 = left + index * bar_width
            y0 = plot_bottom - value * scale
            if value:
                color = _COLORS[index % len(_COLORS)]
                draw.rectangle((x0 + 2, y0, x0 + bar_width - 2, plot_bottom - 1), fill=color)
            draw.text(
                (x0 + bar_width / 2, y0 - 6),
                str(value),
                fill=_INK,
                font=_font(False, 15),
                anchor="ms",
            )
        center = plot_left + (group + 0.5) * group_width
        draw.text(
            (center, plot_bottom + 12), category, fill=_INK, font=_font(False, 17), anchor="mt"
        )

    draw.text(
        ((plot_left + plot_right) / 2, height - 30),
        chart.x_label,
        fill=_MUTED,
        font=_font(False, 18),
        anchor="mm",
    )
    # The y label runs up the left edge: drawn on its own strip, then turned.
    label_font = _font(False, 18)
    strip = Image.new("RGB", (plot_bottom - plot_top, 28), _WHITE)
    ImageDraw.Draw(strip).text(
        (strip.width / 2, 14), chart.y_label, fill=_MUTED, font=label_font, anchor="mm"
    )
    image.paste(strip.rotate(90, expand=True), (20, plot_top))

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


@functools.cache
def _font(bold: bool, size: int) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONT_DIR / name), size)
