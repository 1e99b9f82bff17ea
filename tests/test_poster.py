"""The QR poster: the PDF and PNG themselves, and /poster and the menu button end to end."""

import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import segno
from PIL import Image
from reportlab.pdfbase.pdfmetrics import stringWidth

from domain.poster import (
    PNG_SIZE,
    Poster,
    PosterActivity,
    PosterLabels,
    poster_layout,
    render_pdf,
    render_png,
    shown_activities,
)
from handlers.callbacks import CoordMenuCb, CoordSection
from storage.activities import insert_activity
from tests.activity_helpers import add_quiet_center
from tests.helpers import (
    center_id_by_external,
    consenting_user,
    coordinating_user,
    eventually,
    revoke_coordinator,
)
from tests.test_certificate import Pdf

YEKATERINBURG = ZoneInfo("Asia/Yekaterinburg")
LINK = "https://t.me/sosedi_bot?start=center_42"
LABELS = PosterLabels(
    call_to_action="Scan to find our activities",
    opening_hours="Opening hours: {hours}",
    this_week="This week",
    nothing_this_week="New activities are announced in the bot.",
    more=lambda n: f"and {n} more",
)


def make_poster(count=3, total=None, **changes) -> Poster:
    start = datetime(2026, 11, 23, 10, 0, tzinfo=YEKATERINBURG)
    values = {
        "center_name": "Соседи на Ленина",
        "address": "ул. Ленина, 24",
        "opening_hours": "ежедневно 9:00–21:00",
        "link": LINK,
        "activities": [
            PosterActivity(start + timedelta(hours=6 * i), f"Занятие {i}") for i in range(count)
        ],
        "total_activities": count if total is None else total,
        **changes,
    }
    return Poster(**values)


def expected_qr(link: str) -> list[list[bool]]:
    """The symbol as the QR library makes it, without the quiet zone."""
    code = segno.make_qr(link, error="m", boost_error=False)
    return [[bool(module) for module in row] for row in code.matrix_iter(border=0)]


def read_qr(png: bytes, size: int) -> list[list[bool]]:
    """The QR code's modules as printed: only the code is pure black on the page, so its
    dark pixels' bounding box is the symbol; each module is read at its centre."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    black = Image.eval(image.convert("L"), lambda v: 255 if v == 0 else 0)
    left, top, right, _bottom = black.getbbox()
    module = (right - left) / size
    return [
        [
            image.getpixel((int(left + (c + 0.5) * module), int(top + (r + 0.5) * module)))
            == (0, 0, 0)
            for c in range(size)
        ]
        for r in range(size)
    ]


def test_the_pdf_is_one_a4_page_with_everything_on_it():
    data = render_pdf(make_poster(), LABELS, "en")
    pdf = Pdf(data)
    assert len(pdf.pages()) == 1
    assert re.findall(rb"/MediaBox \[ 0 0 595.2756 841.8898 \]", data)
    text = pdf.text()
    for expected in (
        "Соседи на Ленина",
        "ул. Ленина, 24",
        "Opening hours: ежедневно 9:00–21:00",
        "Scan to find our activities",
        "t.me/sosedi_bot?start=center_42",
        "This week",
        "Mon 23 Nov 10:00",
        "Занятие 0",
        "Занятие 2",
    ):
        assert expected in text, expected
    assert "more" not in text
    assert render_pdf(make_poster(), LABELS, "en") == data, "the same input, the same bytes"
    # Dates in the poster's language.
    assert "Пн 23 нояб. 10:00" in Pdf(render_pdf(make_poster(), LABELS, "ru")).text()


def test_the_png_has_its_size_and_the_qr_code_of_the_link():
    png = render_png(make_poster(), LABELS, "en")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == PNG_SIZE == (1240, 1754)  # A4 at 150 dpi
    expected = expected_qr(LINK)
    assert read_qr(png, len(expected)) == expected
    other = render_png(make_poster(link="https://t.me/sosedi_bot?start=center_43"), LABELS, "en")
    assert read_qr(other, len(expected)) != expected


def test_as_many_activities_as_fit_then_and_n_more():
    assert shown_activities(3, 10) == (3, 0)
    assert shown_activities(10, 10) == (10, 0)
    assert shown_activities(11, 10) == (9, 2), "the last line says how many more"
    assert shown_activities(5, 0) == (0, 5)

    crowded = make_poster(count=60, total=75)
    layout = poster_layout(crowded, LABELS, "en")
    assert 10 <= layout.shown < 60
    assert layout.shown + layout.more == 75
    text = Pdf(render_pdf(crowded, LABELS, "en")).text()
    assert f"and {layout.more} more" in text
    assert f"Занятие {layout.shown - 1}\n" in text and f"Занятие {layout.shown}\n" not in text
    last = max(t.baseline for t in layout.texts)
    assert last <= 841.89 - 18 * 72 / 25.4 + 0.01, "within the bottom margin"

    # Fewer fetched than the week holds: the rest is counted all the same.
    layout = poster_layout(make_poster(count=4, total=6), LABELS, "en")
    assert (layout.shown, layout.more) == (4, 2)

    empty = Pdf(render_pdf(make_poster(count=0), LABELS, "en")).text()
    assert "New activities are announced in the bot." in empty


def test_long_names_wrap_and_are_cut_with_an_ellipsis():
    name = "Соседи " + "очень длинное название центра " * 8
    poster = make_poster(center_name=name, opening_hours=None, activities=[], total_activities=0)
    layout = poster_layout(poster, LABELS, "en")
    band = [t for t in layout.texts if t.size == 26]
    assert len(band) == 2 and band[-1].text.endswith("…")
    right_edge = 595.2756 - 18 * 72 / 25.4
    for text in layout.texts:
        font = "SosediDejaVuSans-Bold" if text.bold else "SosediDejaVuSans"
        width = stringWidth(text.text, font, text.size)
        left = text.x - width / 2 if text.align == "center" else text.x
        assert left + width <= right_edge + 0.01, text.text
    assert "Opening hours" not in Pdf(render_pdf(poster, LABELS, "en")).text()


# -- end to end ----------------------------------------------------------------------------


async def documents(user, count):
    async def arrived():
        found = [m for m in await user.messages() if m.document]
        return found if len(found) >= count else None

    return await eventually(arrived)


async def test_the_menu_button_sends_the_pdf_and_the_png(bot_env):
    env = bot_env
    center_id = await center_id_by_external(env, "demo-ekb-1")
    olga = await coordinating_user(env, center_id, first_name="Olga", language_code="en")
    [menu] = await olga.send("/coord")
    await olga.press("🖨 QR poster", message_id=menu.message_id)
    pdf_message, png_message = await documents(olga, 2)
    assert pdf_message.document["file_name"] == f"poster-{center_id}.pdf"
    assert pdf_message.caption.startswith("QR poster of Соседи")
    assert png_message.document["file_name"] == f"poster-{center_id}.png"

    pdf = Pdf(await env.tg.file_bytes(pdf_message.document["file_id"]))
    text = pdf.text()
    assert len(pdf.pages()) == 1
    async with env.db.read() as conn:
        from storage.centers import get_center

        center = await get_center(conn, center_id)
    assert center.name in text and center.address in text
    assert "Scan to find our activities" in text, "in the coordinator's language"
    assert f"t.me/sosedi_bot?start=center_{center_id}" in text
    assert "This week" in text

    png = await env.tg.file_bytes(png_message.document["file_id"])
    assert Image.open(io.BytesIO(png)).size == PNG_SIZE
    expected = expected_qr(f"https://t.me/sosedi_bot?start=center_{center_id}")
    assert read_qr(png, len(expected)) == expected


async def test_poster_command_lists_this_weeks_activities_in_russian(bot_env):
    env = bot_env
    external = await add_quiet_center(env)
    center_id = await center_id_by_external(env, external)
    now = env.clock()
    async with env.db.write() as conn:
        for title, days in (("Шахматный клуб", 1), ("Хор ветеранов", 3), ("Через неделю", 9)):
            starts_at = now + timedelta(days=days)
            await insert_activity(
                conn,
                center_id=center_id,
                title=title,
                category="other",
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=1),
                created_at=now,
            )
    olga = await coordinating_user(env, center_id)
    await olga.send("/poster")
    pdf_message, _png = await documents(olga, 2)
    text = Pdf(await env.tg.file_bytes(pdf_message.document["file_id"])).text()
    assert "Тихий центр" in text
    assert "Сканируйте" in text
    assert "Шахматный клуб" in text and "Хор ветеранов" in text
    assert "Через неделю" not in text, "only the coming week"
    local = (now + timedelta(days=1)).astimezone(YEKATERINBURG)
    assert f"{local:%H:%M}" in text


async def test_with_several_centers_poster_asks_which(bot_env):
    env = bot_env
    first = await center_id_by_external(env, "demo-ekb-1")
    second = await center_id_by_external(env, await add_quiet_center(env))
    olga = await coordinating_user(env, first, language_code="en")
    async with env.db.write() as conn:
        from storage.coordinators import appoint

        await appoint(conn, olga.id, second, by=0, now=env.clock())
    [question] = await olga.send("/poster")
    assert question.text == "Which center's poster?"
    assert len(question.buttons) == 2
    await olga.press("Тихий центр", message_id=question.message_id)
    pdf_message, _png_message = await documents(olga, 2)
    assert pdf_message.document["file_name"] == f"poster-{second}.pdf"


async def test_who_may_not_get_a_poster_is_refused(bot_env):
    env = bot_env
    center_id = await center_id_by_external(env, "demo-ekb-1")
    other_id = await center_id_by_external(env, "demo-ekb-2")
    resident = await consenting_user(env, language_code="en", first_name="Rita")
    other = await coordinating_user(env, other_id, first_name="Oleg", language_code="en")
    revoked = await coordinating_user(env, center_id, first_name="Vera", language_code="en")
    [menu] = await revoked.send("/coord")
    await revoke_coordinator(env, revoked, center_id)
    before = await env.rows()

    [answer] = await resident.send("/poster")
    assert answer.text.startswith("This is for the coordinators of a center.")
    [answer] = await revoked.send("/poster")
    assert answer.text.startswith("This is for the coordinators of a center.")

    button = CoordMenuCb(section=CoordSection.POSTER, center_id=center_id).pack()
    forged = {
        resident: [button],
        other: [button, CoordMenuCb(section=CoordSection.POSTER, center_id=999_999).pack()],
        revoked: [button],
    }
    for user, presses in forged.items():
        last = await user.last_bot_message()
        for data in presses:
            await user.callback(last.message_id, data)
        answers = {c["data"]: c["answer"] for c in await env.tg.callbacks(user.id)}
        for data in presses:
            assert answers[data]["text"] == "Only this center's coordinators can do that.", data
    await revoked.press("🖨 QR poster", message_id=menu.message_id)
    for user in (resident, other, revoked):
        assert not [m for m in await user.messages() if m.document], "no poster was sent"
    assert await env.rows() == before


def test_the_poster_at_this_very_moment_renders():
    # Whatever the day, the dates format in each language the bot speaks.
    poster = make_poster(
        activities=[PosterActivity(datetime.now(UTC).astimezone(YEKATERINBURG), "Сейчас")],
        total_activities=1,
    )
    for locale in ("ru", "uk", "en"):
        assert "Сейчас" in Pdf(render_pdf(poster, LABELS, locale)).text()
