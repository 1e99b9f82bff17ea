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


async def activity_at_quiet_center(env, day: date, at: time, **values) -> int:
    """An activity at the quiet test center, on a local day and time."""
    from tests.activity_helpers import add_activity

    starts_at = at_local(day, at)
    hours = (starts_at - env.clock()) / timedelta(hours=1)
    return await add_activity(env, "test-quiet", in_hours=hours, **values)


async def join(env, user, activity_id: int, role=None):
    from domain.activities import Role, SignupRules
    from storage.signups import sign_up

    async with env.db.write() as conn:
        outcome = await sign_up(
            conn,
            activity_id=activity_id,
            user_id=user.id,
            role=role or Role.PARTICIPANT,
            party_size=1,
            now=env.clock(),
            rules=SignupRules(),
        )
    return outcome.signup


async def press_forged(env, user, message_id: int, data: str) -> str | None:
    """Press a button the bot never showed; the text the press was answered with."""
    await user.callback(message_id, data)
    answers = [c for c in await env.tg.callbacks(user.id) if c["data"] == data]
    answer = answers[-1]["answer"]
    return answer and answer.get("text")
