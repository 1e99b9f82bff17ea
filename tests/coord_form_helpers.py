"""Steps the coordinators' activity tests share: a clock at a local midday, the coordinator's
menu, the new-activity dialog answered step by step."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.jobs import announcements_job
from storage.audit import entries
from storage.schema import activities
from tests.activity_helpers import add_quiet_center
from tests.helpers import center_id_by_external, coordinating_user

YEKATERINBURG = ZoneInfo("Asia/Yekaterinburg")  # the quiet test center's zone: UTC+5 all year


def at_local(day: date, clock: time, zone: ZoneInfo = YEKATERINBURG) -> datetime:
    return datetime.combine(day, clock, zone).astimezone(UTC)


def local_midday(env, days: int = 1) -> None:
    """Move the test clock to 12:00 in Yekaterinburg ``days`` from today: outside quiet
    hours, so that pushes go out at once."""
    today = env.clock().astimezone(YEKATERINBURG).date()
    env.clock.now = at_local(today + timedelta(days=days), time(12, 0))


def local_today(env) -> date:
    return env.clock().astimezone(YEKATERINBURG).date()


async def quiet_center_with_coordinator(env, language_code="en", first_name="Olga"):
    external = await add_quiet_center(env)
    center_id = await center_id_by_external(env, external)
    user = await coordinating_user(
        env, center_id, first_name=first_name, language_code=language_code
    )
    return center_id, user


async def open_new_form(user):
    [menu] = await user.send("/coord")
    return await user.press("➕ New activity or shift", message_id=menu.message_id)


async def fill_form(user, answers):
    """Answer the dialog: a string is typed, ("press", label) presses a button of the last
    message. Returns the bot's messages after the last answer."""
    reply = None
    for answer in answers:
        if isinstance(answer, tuple):
            reply = await user.press(answer[1])
        else:
            reply = await user.send(answer)
    return reply


async def activity_rows(env, center_id):
    async with env.db.read() as conn:
        rows = await conn.execute(
            select(activities).where(activities.c.center_id == center_id).order_by(activities.c.id)
        )
        return list(rows)


async def audit_actions(env, center_id=None):
    async with env.db.read() as conn:
        return [(e.action, e.actor_id, e.details) for e in await entries(conn, center_id=center_id)]


async def run_news(env) -> None:
    d = env.dispatcher
    await announcements_job(env.db, d["i18n"], d["sender"], env.settings, env.clock)
