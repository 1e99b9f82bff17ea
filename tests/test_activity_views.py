"""How times, seats and statuses read, in each language."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiogram.utils.i18n import I18n

from domain.activities import Role
from handlers.activity_views import seats, when
from storage.activities import Activity

LOCALES = Path(__file__).resolve().parent.parent / "locales"


@pytest.fixture(scope="module")
def i18n():
    from bot.app import compile_catalogs

    compile_catalogs(LOCALES)
    return I18n(path=LOCALES, default_locale="ru", domain="messages")


def activity(**changes):
    values = {
        "id": 1,
        "center_id": 1,
        "series_id": None,
        "title": "Лекция",
        "description": "",
        "category": "lectures",
        "starts_at": datetime(2026, 7, 6, 13, 0, tzinfo=UTC),
        "ends_at": datetime(2026, 7, 6, 14, 30, tzinfo=UTC),
        "place_note": None,
        "accepts_participants": True,
        "capacity": 10,
        "max_companions": 0,
        "seats_taken": 0,
        "volunteer_role": None,
        "volunteer_places": 0,
        "volunteers_taken": 0,
        "status": "scheduled",
        "center_name": "Соседи",
        "timezone": "Asia/Yekaterinburg",
        "city": "Екатеринбург",
    }
    return Activity(**{**values, **changes})


def test_local_time_and_the_zone_only_when_it_differs(i18n):
    with i18n.context(), i18n.use_locale("en"):
        assert when(activity(), "en", "Asia/Yekaterinburg") == "Monday, 6 July, 18:00–19:30"
        assert when(activity(), "en", "Europe/Moscow") == (
            "Monday, 6 July, 18:00–19:30 (Yekaterinburg time, UTC+5)"
        )
        kyiv = activity(timezone="Europe/Kyiv")
        assert when(kyiv, "en", "Europe/Moscow").endswith("16:00–17:30 (Kyiv time, UTC+3)")
    with i18n.context(), i18n.use_locale("ru"):
        assert when(activity(), "ru", "Europe/Moscow") == (
            "Понедельник, 6 июля, 18:00–19:30 (время: Екатеринбург, UTC+5)"
        )


@pytest.mark.parametrize(
    ("locale", "taken", "text"),
    [
        ("ru", 9, "Осталось 1 место из 10"),
        ("ru", 8, "Осталось 2 места из 10"),
        ("ru", 5, "Осталось 5 мест из 10"),
        ("uk", 9, "Залишилося 1 місце з 10"),
        ("uk", 7, "Залишилося 3 місця з 10"),
        ("en", 9, "1 place left of 10"),
        ("en", 0, "10 places left of 10"),
    ],
)
def test_seats_left_in_each_language(i18n, locale, taken, text):
    with i18n.context(), i18n.use_locale(locale):
        assert seats(activity(seats_taken=taken), Role.PARTICIPANT, 0) == text


def test_full_and_unlimited(i18n):
    with i18n.context(), i18n.use_locale("en"):
        assert seats(activity(seats_taken=10), Role.PARTICIPANT, 3) == "Full — waitlist: 3"
        assert seats(activity(capacity=None), Role.PARTICIPANT, 0) == "No limit on places"
        shift = activity(volunteer_places=3, volunteers_taken=1)
        assert seats(shift, Role.VOLUNTEER, 0) == "2 places left of 3"
