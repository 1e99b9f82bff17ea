"""The menu's "Figures": a center's last four weeks as a table and as a bar chart."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape

from aiogram import Bot, F, Router
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _
from babel.dates import format_date
from babel.numbers import format_decimal

from domain.chart import BarChart, Series, render_bar_chart
from domain.stats import WEEKS, Figures, last_weeks, percent, text_table, total
from handlers.access import CenterAccess
from handlers.callbacks import CoordMenuCb, CoordSection
from handlers.coord import back_to_menu
from handlers.ui import N_, show_in_place
from storage.centers import Center
from storage.database import Database
from storage.stats import CenterStats, center_stats

router = Router(name=__name__)

# Short: the table has to fit a phone's width next to four columns.
_ROWS: tuple[tuple[str, Callable[[Figures, str], str]], ...] = (
    (N_("Sign-ups"), lambda f, _locale: str(f.signups)),
    (N_("Attended"), lambda f, _locale: percent(f.attendance_rate)),
    (N_("No-shows"), lambda f, _locale: percent(f.no_show_rate)),
    (N_("Waitlist"), lambda f, _locale: percent(f.waitlist_conversion)),
    (N_("Vol. hours"), lambda f, locale: hours(f.volunteer_hours, locale)),
    (N_("New subs"), lambda f, _locale: str(f.new_subscribers)),
)


def hours(value: float, locale: str) -> str:
    return format_decimal(round(value, 1), locale=locale)


@router.callback_query(CoordMenuCb.filter(F.section == CoordSection.STATS), CenterAccess())
async def show_figures(
    query: CallbackQuery,
    center: Center,
    bot: Bot,
    db: Database,
    i18n: I18n,
    clock: Callable[[], datetime],
) -> None:
    await query.answer()
    weeks = last_weeks(clock(), center.timezone)
    async with db.read() as conn:
        stats = await center_stats(conn, center.id, weeks)
    locale = i18n.current_locale
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[back_to_menu(center.id)]])
    await show_in_place(query, stats_text(center, stats, locale), keyboard)
    chart = BarChart(
        title=_("Sign-ups and attendance"),
        categories=[f"{week.first_day:%d.%m}" for week, _figures in stats.weeks],
        series=[
            Series(_("Signed up"), [figures.signups for _week, figures in stats.weeks]),
            Series(_("Came"), [figures.present for _week, figures in stats.weeks]),
        ],
        x_label=_("Week starting"),
        y_label=_("People"),
    )
    png = await asyncio.to_thread(render_bar_chart, chart)
    await bot.send_photo(
        query.from_user.id,
        BufferedInputFile(png, filename="figures.png"),
        caption=_("{name}: sign-ups and attendance by week").format(name=escape(center.name)),
    )


def stats_text(center: Center, stats: CenterStats, locale: str) -> str:
    weeks = stats.weeks
    first = weeks[0][0].first_day
    last = weeks[-1][0].first_day + timedelta(days=6)
    overall = total(figures for _week, figures in weeks)
    lines = [
        _("<b>📊 Figures: {name}</b>").format(name=escape(center.name)),
        _("The last {weeks} weeks, {first} – {last}").format(
            weeks=WEEKS,
            first=format_date(first, "d MMM", locale=locale),
            last=format_date(last, "d MMM", locale=locale),
        ),
        "",
        _("Subscribers: {total} (new in these weeks: {new})").format(
            total=stats.subscribers, new=overall.new_subscribers
        ),
    ]
    if stats.rating_average is None:
        lines.append(_("Average rating: no ratings yet"))
    else:
        lines.append(
            ngettext(
                "Average rating: {average} ({count} rating)",
                "Average rating: {average} ({count} ratings)",
                stats.ratings,
            ).format(
                average=format_decimal(round(stats.rating_average, 1), locale=locale),
                count=stats.ratings,
            )
        )
    lines.append(
        _(
            "In all: {signups} sign-ups, attendance {attended}, no-shows {absent}, "
            "waitlist conversion {waitlist}, volunteer hours {hours}."
        ).format(
            signups=overall.signups,
            attended=percent(overall.attendance_rate),
            absent=percent(overall.no_show_rate),
            waitlist=percent(overall.waitlist_conversion),
            hours=hours(overall.volunteer_hours, locale),
        )
    )
    table = text_table(
        [f"{week.first_day:%d.%m}" for week, _figures in weeks],
        [(_(label), [value(f, locale) for _week, f in weeks]) for label, value in _ROWS],
    )
    lines += [
        "",
        f"<pre>{escape(table)}</pre>",
        _(
            "Weeks by when the activities took place. Attended and no-shows: of those marked "
            "at the roll call. Waitlist: how many of those who had to wait got a place."
        ),
    ]
    return "\n".join(lines)
