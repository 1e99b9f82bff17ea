"""A demo set of community centers, for trying the bot out before real data is imported.

The centers sit in the cities where the stores run community spaces, several per big
city at different distances from the middle of town, so that "nearest" and search show a
meaningful order. Names and addresses are in the local language; addresses use real
streets with plausible house numbers but describe no actual shop.

Every center also gets a week of activities and volunteer shifts from today, in its own
local time, and a weekly walking group. An activity's external id names its center, its
local date and its kind, so loading again on the same day adds nothing and loading on a
later day adds only the days that have come into the week.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from domain.activities import Category
from domain.recurrence import local_to_utc
from domain.timezones import timezone_at
from storage.centers import upsert_centers
from storage.database import Database
from storage.series import (
    centers_by_external_id,
    insert_activities,
    insert_missing_series,
    materialise,
)

__all__ = [
    "DEMO_CENTERS",
    "DEMO_WEEKS",
    "demo_rows",
    "load_demo_activities",
    "load_demo_data",
]


class _City(NamedTuple):
    name: str
    region: str
    phone_prefix: str
    ukrainian: bool = False


_CITIES = {
    "msk": _City("Москва", "Москва", "+7 (495) "),
    "spb": _City("Санкт-Петербург", "Санкт-Петербург", "+7 (812) "),
    "ekb": _City("Екатеринбург", "Свердловская область", "+7 (343) "),
    "kamensk": _City("Каменск-Уральский", "Свердловская область", "+7 (3439) "),
    "nkz": _City("Новокузнецк", "Кемеровская область — Кузбасс", "+7 (3843) "),
    "kem": _City("Кемерово", "Кемеровская область — Кузбасс", "+7 (3842) "),
    "krsk": _City("Красноярск", "Красноярский край", "+7 (391) "),
    "achinsk": _City("Ачинск", "Красноярский край", "+7 (39151) "),
    "sayan": _City("Саяногорск", "Республика Хакасия", "+7 (39042) "),
    "vvo": _City("Владивосток", "Приморский край", "+7 (423) "),
    "kholmsk": _City("Холмск", "Сахалинская область", "+7 (42433) "),
    "sev": _City("Севастополь", "Севастополь", "+7 (8692) "),
    "kgd": _City("Калининград", "Калининградская область", "+7 (4012) "),
    "kzn": _City("Казань", "Республика Татарстан", "+7 (843) "),
    "nsk": _City("Новосибирск", "Новосибирская область", "+7 (383) "),
    "poltava": _City("Полтава", "Полтавська область", "+380 (532) ", ukrainian=True),
    "myrhorod": _City("Миргород", "Полтавська область", "+380 (5355) ", ukrainian=True),
    "kyiv": _City("Київ", "Київ", "+380 (44) ", ukrainian=True),
}

# Opening-hours patterns, (Russian, Ukrainian): Daily, Long daily, Weekdays, Short week.
_HOURS = {
    "D": ("пн–вс 10:00–20:00", "пн–нд 10:00–20:00"),
    "L": ("пн–вс 09:00–21:00", "пн–нд 09:00–21:00"),
    "W": ("пн–пт 11:00–19:00, сб 12:00–16:00", "пн–пт 11:00–19:00, сб 12:00–16:00"),
    "S": ("вт–сб 12:00–18:00", "вт–сб 12:00–18:00"),
}

# Per city: (name after "Соседи"/"Сусіди", address, latitude, longitude, hours, local phone).
# The position in the list is the number in the external id: append, never reorder.
DEMO_CENTERS: dict[str, tuple[tuple[str, str, float, float, str, str], ...]] = {
    "msk": (
        ("на Тверской", "ул. Тверская, 12", 55.7616, 37.6094, "L", "123-45-67"),
        ("на Бутырской", "ул. Бутырская, 46", 55.8044, 37.5853, "D", "214-36-58"),
        ("на Профсоюзной", "Профсоюзная ул., 56", 55.6702, 37.5524, "D", "330-18-42"),
        ("в Марьине", "ул. Люблинская, 169", 55.6510, 37.7445, "W", "354-71-09"),
        ("в Митине", "Пятницкое ш., 23", 55.8530, 37.3568, "D", "751-22-83"),
    ),
    "spb": (
        ("на Невском", "Невский пр., 88", 59.9322, 30.3489, "L", "272-40-15"),
        ("на Петроградской", "Большой пр. П.С., 45", 59.9602, 30.3004, "D", "232-17-64"),
        ("на Московском", "Московский пр., 153", 59.8795, 30.3188, "D", "388-52-30"),
        ("на Савушкина", "ул. Савушкина, 119", 59.9893, 30.2061, "W", "345-09-71"),
        ("на Просвещения", "пр. Просвещения, 87", 60.0518, 30.3970, "D", "598-63-24"),
    ),
    "ekb": (
        ("на Малышева", "ул. Малышева, 30", 56.8367, 60.6052, "L", "371-20-45"),
        ("на 8 Марта", "ул. 8 Марта, 46", 56.8268, 60.6035, "D", "222-61-38"),
        ("на ВИЗе", "ул. Викулова, 33", 56.8327, 60.5384, "W", "242-75-16"),
        ("на Бардина", "ул. Бардина, 40", 56.7961, 60.5302, "D", "240-33-97"),
        ("на Уралмаше", "ул. Бакинских Комиссаров, 56", 56.8968, 60.6131, "D", "331-48-02"),
        ("на ЖБИ", "ул. Новгородцевой, 11", 56.8512, 60.6905, "S", "348-19-60"),
    ),
    "kamensk": (
        ("на Кирова", "ул. Кирова, 28", 56.4157, 61.9221, "D", "32-14-75"),
        ("на Алюминиевой", "ул. Алюминиевая, 55", 56.4238, 61.8894, "W", "34-52-08"),
    ),
    "nkz": (
        ("на Металлургов", "пр. Металлургов, 45", 53.7572, 87.1318, "D", "74-26-13"),
        ("на Кирова", "ул. Кирова, 71", 53.7553, 87.1034, "W", "45-81-39"),
        ("на Авиаторов", "пр. Авиаторов, 63", 53.7211, 86.9986, "D", "37-60-42"),
    ),
    "kem": (
        ("на Советском", "пр. Советский, 56", 55.3541, 86.0867, "L", "36-45-20"),
        ("на Ленина", "пр. Ленина, 90", 55.3405, 86.1426, "D", "54-12-87"),
        ("в Рудничном", "пр. Шахтёров, 74", 55.3852, 86.0612, "W", "64-39-51"),
    ),
    "krsk": (
        ("на Мира", "пр. Мира, 91", 56.0124, 92.8704, "L", "227-58-14"),
        ("на Взлётке", "ул. Взлётная, 7", 56.0486, 92.9082, "D", "277-30-66"),
        ("в Кировском", "пр. Красноярский рабочий, 120", 55.9952, 92.9497, "D", "264-17-38"),
        ("в Академгородке", "ул. Академгородок, 50", 56.0067, 92.7705, "W", "249-85-02"),
    ),
    "achinsk": (
        ("на Ленина", "ул. Ленина, 26", 56.2687, 90.4998, "D", "5-24-61"),
        ("на Дзержинского", "ул. Дзержинского, 28", 56.2641, 90.4946, "W", "7-13-90"),
    ),
    "sayan": (
        ("в Советском", "мкр. Советский, 22", 53.0958, 91.4097, "D", "2-35-47"),
        ("в Ленинградском", "мкр. Ленинградский, 15", 53.0894, 91.3986, "W", "6-72-18"),
    ),
    "vvo": (
        ("на Светланской", "ул. Светланская, 29", 43.1163, 131.8879, "L", "241-36-90"),
        ("на Океанском", "Океанский пр., 108", 43.1391, 131.9086, "D", "245-18-73"),
        ("на Второй Речке", "ул. Русская, 57", 43.1672, 131.9339, "D", "232-64-05"),
        ("на Чуркине", "ул. Калинина, 275", 43.0917, 131.9412, "W", "263-51-29"),
    ),
    "kholmsk": (
        ("на Советской", "ул. Советская, 70", 47.0432, 142.0452, "D", "5-17-34"),
        ("на Победы", "ул. Победы, 16", 47.0518, 142.0487, "S", "4-60-92"),
    ),
    "sev": (
        ("на Большой Морской", "ул. Большая Морская, 32", 44.6097, 33.5226, "L", "54-31-70"),
        ("на Острякова", "пр. Генерала Острякова, 64", 44.5836, 33.5231, "D", "48-26-13"),
        ("на Октябрьской", "пр. Октябрьской Революции, 40", 44.5951, 33.4712, "W", "41-58-07"),
    ),
    "kgd": (
        ("на Ленинском", "Ленинский пр., 30", 54.7063, 20.5115, "D", "53-14-96"),
        ("на Московском", "Московский пр., 182", 54.6996, 20.5612, "W", "77-40-28"),
    ),
    "kzn": (
        ("на Баумана", "ул. Баумана, 44", 55.7907, 49.1137, "L", "292-35-81"),
        ("на Победы", "пр. Победы, 141", 55.7704, 49.2126, "D", "298-67-14"),
        ("на Восстания", "ул. Восстания, 100", 55.8343, 49.0748, "W", "554-20-39"),
    ),
    "nsk": (
        ("на Красном", "Красный пр., 25", 55.0288, 82.9203, "L", "223-47-15"),
        ("на Маркса", "пл. Карла Маркса, 7", 54.9843, 82.8953, "D", "346-18-72"),
        ("в Академгородке", "Морской пр., 26", 54.8384, 83.1051, "W", "330-52-64"),
    ),
    "poltava": (
        ("на Соборності", "вул. Соборності, 40", 49.5896, 34.5497, "D", "56-12-48"),
        ("на Зіньківській", "вул. Зіньківська, 6", 49.5734, 34.5162, "W", "60-37-15"),
        ("на Київському шосе", "Київське шосе, 54", 49.6118, 34.5102, "D", "69-24-83"),
    ),
    "myrhorod": (
        ("на Гоголя", "вул. Гоголя, 108", 49.9672, 33.6083, "D", "5-31-27"),
        ("біля курорту", "вул. Курортна, 6", 49.9751, 33.6197, "S", "4-18-62"),
    ),
    "kyiv": (
        ("на Хрещатику", "вул. Хрещатик, 15", 50.4481, 30.5219, "L", "235-14-67"),
        ("на Оболоні", "Оболонський просп., 21", 50.5101, 30.4984, "D", "418-52-30"),
        ("на Васильківській", "вул. Велика Васильківська, 100", 50.4262, 30.5153, "D", "287-60-19"),
        ("на Позняках", "просп. Миколи Бажана, 8", 50.4008, 30.6302, "W", "575-23-41"),
    ),
}  # fmt: skip


class _Kind(NamedTuple):
    category: Category
    minutes: int
    capacity: int | None  # None: unlimited; 0: a shift for volunteers only
    companions: int
    ru: tuple[str, str, str, str]  # title, description, place note, volunteer role
    uk: tuple[str, str, str, str]


_KINDS = {
    "chess": _Kind(Category.OTHER, 120, 12, 0,
        ("Шахматный клуб", "Играем партии и разбираем задачи. Доски и часы на месте, "
         "приходите с любым уровнем игры.", "Малый зал", ""),
        ("Шаховий клуб", "Граємо партії та розбираємо задачі. Дошки й годинники на місці, "
         "приходьте з будь-яким рівнем гри.", "Мала зала", "")),
    "clay": _Kind(Category.CRAFTS, 90, 10, 0,
        ("Мастер-класс по лепке", "Лепим чашки и тарелки из глины вместе с керамистом. "
         "Материалы и фартуки выдаём, изделие заберёте после обжига.", "Мастерская",
         "Помощь на мастер-классе"),
        ("Майстер-клас з ліплення", "Ліпимо чашки й тарілки з глини разом із керамісткою. "
         "Матеріали та фартухи видаємо, виріб заберете після випалу.", "Майстерня",
         "Допомога на майстер-класі")),
    "finance": _Kind(Category.LECTURES, 60, None, 0,
        ("Лекция о финансовой грамотности", "Как вести семейный бюджет, распознать "
         "мошенников и выбрать вклад. После лекции отвечаем на вопросы.", "Большой зал",
         "Встреча гостей"),
        ("Лекція з фінансової грамотності", "Як вести сімейний бюджет, розпізнати шахраїв "
         "і обрати депозит. Після лекції відповідаємо на запитання.", "Велика зала",
         "Зустріч гостей")),
    "english": _Kind(Category.LECTURES, 60, 12, 0,
        ("Английский для начинающих", "Разговорная группа с нуля: простые фразы для "
         "магазина, дороги и знакомства.", "Кабинет 2", ""),
        ("Англійська для початківців", "Розмовна група з нуля: прості фрази для магазину, "
         "дороги та знайомства.", "Кабінет 2", "")),
    "kids": _Kind(Category.CHILDREN, 60, 16, 2,
        ("Мастерская для детей", "Рисуем, клеим и мастерим из картона, для детей 5–10 лет. "
         "Взрослый записывается сам и добавляет одного-двух детей.", "Детская комната", ""),
        ("Майстерня для дітей", "Малюємо, клеїмо й майструємо з картону, для дітей 5–10 "
         "років. Дорослий записується сам і додає одну-двох дітей.", "Дитяча кімната", "")),
    "phone": _Kind(Category.SENIORS, 60, 8, 0,
        ("Смартфон без страха", "Для старшего поколения: видеозвонки внукам, запись к "
         "врачу, как не попасться мошенникам. Приходите со своим телефоном.", "Кабинет 2", ""),
        ("Смартфон без страху", "Для старшого покоління: відеодзвінки онукам, запис до "
         "лікаря, як не потрапити на гачок шахраям. Приходьте зі своїм телефоном.",
         "Кабінет 2", "")),
    "cleanup": _Kind(Category.ECOLOGY, 120, None, 0,
        ("Субботник во дворе", "Убираем двор и сажаем цветы у входа. Перчатки, мешки и "
         "грабли выдаём, после работы — чай.", "Сбор у входа в магазин", ""),
        ("Толока у дворі", "Прибираємо двір і висаджуємо квіти біля входу. Рукавички, "
         "мішки й граблі видаємо, після роботи — чай.", "Збір біля входу до магазину", "")),
    "shelter": _Kind(Category.CHARITY, 180, None, 0,
        ("Сбор помощи приюту", "Принимаем корм, пледы и миски для городского приюта для "
         "животных и вместе сортируем собранное.", "Вход со двора", "Сортировка вещей"),
        ("Збір допомоги притулку", "Приймаємо корм, пледи та миски для міського притулку "
         "для тварин і разом сортуємо зібране.", "Вхід із двору", "Сортування речей")),
    "hall": _Kind(Category.OTHER, 45, 0, 0,
        ("Подготовка зала", "Расставить стулья, включить проектор и встретить лектора "
         "перед лекцией.", "Большой зал", "Подготовка зала"),
        ("Підготовка зали", "Розставити стільці, увімкнути проєктор і зустріти лектора "
         "перед лекцією.", "Велика зала", "Підготовка зали")),
    "walk": _Kind(Category.SPORT, 60, 15, 0,
        ("Скандинавская ходьба", "Неспешная прогулка с палками по району с инструктором. "
         "Палки можно взять у нас.", "Сбор у входа в магазин", ""),
        ("Скандинавська ходьба", "Неспішна прогулянка з палицями районом з інструктором. "
         "Палиці можна взяти в нас.", "Збір біля входу до магазину", "")),
}  # fmt: skip

# A center's week: (ISO weekday, local time, kind, volunteer places), and its weekly walking
# group (weekdays, local time). "short" suits the centers open on weekdays and Saturday only
# ("W", "S"); the others alternate between "a" and "b".
DEMO_WEEKS: dict[str, tuple[tuple[tuple[int, str, str, int], ...], tuple[str, str]]] = {
    "a": (
        ((1, "18:30", "english", 0), (2, "11:00", "phone", 0), (3, "18:00", "chess", 0),
         (4, "17:15", "hall", 2), (4, "18:00", "finance", 2), (5, "17:00", "kids", 0),
         (6, "12:00", "clay", 1), (7, "11:00", "cleanup", 0)),
        ("2,4", "10:00"),
    ),
    "b": (
        ((1, "11:00", "phone", 0), (2, "18:30", "english", 0), (3, "17:00", "kids", 0),
         (4, "18:00", "chess", 0), (6, "11:00", "shelter", 3), (7, "12:00", "clay", 1)),
        ("3,6", "10:00"),
    ),
    "short": (
        ((2, "17:00", "kids", 0), (3, "12:30", "phone", 0), (3, "16:15", "hall", 1),
         (3, "17:00", "finance", 0), (4, "16:00", "chess", 0), (5, "16:30", "english", 0),
         (6, "12:00", "clay", 0)),
        ("2,5", "12:00"),
    ),
}  # fmt: skip

_WEEK = timedelta(days=7)


def demo_rows() -> list[dict[str, Any]]:
    """The demo centers in the shape ``storage.centers.upsert_centers`` takes."""
    return [
        _row(key, number, *center)
        for key, city_centers in DEMO_CENTERS.items()
        for number, center in enumerate(city_centers, start=1)
    ]


async def load_demo_data(db: Database, *, now: datetime) -> int:
    """Insert or refresh the demo centers and add their coming week (see
    :func:`load_demo_activities`); returns how many centers were written.

    External ids are fixed (``demo-ekb-1``), so running it again updates in place.
    """
    rows = demo_rows()
    async with db.write() as conn:
        written = await upsert_centers(conn, rows, now=now)
        await load_demo_activities(conn, now=now)
    return written


async def load_demo_activities(conn: AsyncConnection, *, now: datetime) -> int:
    """Add to every demo center the activities that start within 7 days after ``now`` and
    are not there yet, its weekly walking group, and the group's occurrences 4 weeks ahead;
    returns how many activities were added. What exists already is never changed."""
    centers = await centers_by_external_id(conn)
    activities: list[dict[str, Any]] = []
    series: list[dict[str, Any]] = []
    for key, city_centers in DEMO_CENTERS.items():
        language = 1 if _CITIES[key].ukrainian else 0
        for number, center in enumerate(city_centers, start=1):
            external_id = f"demo-{key}-{number}"
            if external_id not in centers:
                continue
            center_id, zone_name = centers[external_id]
            hours = center[4]
            week = "short" if hours in ("W", "S") else "b" if number % 2 == 0 else "a"
            slots, walks = DEMO_WEEKS[week]
            zone = ZoneInfo(zone_name)
            today = now.astimezone(zone).date()
            for day in (today + timedelta(days=n) for n in range(8)):
                for weekday, start, kind, helpers in slots:
                    if weekday != day.isoweekday():
                        continue
                    starts_at = local_to_utc(day, time.fromisoformat(start), zone)
                    if not now < starts_at <= now + _WEEK:
                        continue
                    minutes = timedelta(minutes=_KINDS[kind].minutes)
                    activities.append(
                        {
                            **_values(kind, helpers, language),
                            "external_id": f"{external_id}-{day:%Y%m%d}-{kind}",
                            "center_id": center_id,
                            "starts_at": starts_at,
                            "ends_at": starts_at + minutes,
                            "created_at": now,
                        }
                    )
            weekdays, start = walks
            series.append(
                {
                    **_values("walk", 0, language),
                    "external_id": f"{external_id}-walk",
                    "center_id": center_id,
                    "weekdays": weekdays,
                    "every_weeks": 1,
                    "local_time": start,
                    "duration_minutes": _KINDS["walk"].minutes,
                    "first_date": today,
                    "last_date": None,
                    "created_at": now,
                }
            )
    added = await insert_activities(conn, activities)
    series_ids = await insert_missing_series(conn, series)
    return added + await materialise(conn, today_utc=now, series_ids=series_ids.values())


def _values(kind: str, helpers: int, language: int) -> dict[str, Any]:
    spec = _KINDS[kind]
    title, description, place_note, role = spec.uk if language else spec.ru
    return {
        "title": title,
        "description": description,
        "category": spec.category.value,
        "place_note": place_note,
        "accepts_participants": spec.capacity != 0,
        "capacity": spec.capacity,
        "max_companions": spec.companions,
        "volunteer_role": role if helpers else None,
        "volunteer_places": helpers,
    }


def _row(
    key: str,
    number: int,
    place: str,
    address: str,
    latitude: float,
    longitude: float,
    hours: str,
    phone: str,
) -> dict[str, Any]:
    city = _CITIES[key]
    return {
        "external_id": f"demo-{key}-{number}",
        "name": f"{'Сусіди' if city.ukrainian else 'Соседи'} {place}",
        "address": address,
        "city": city.name,
        "region": city.region,
        "latitude": latitude,
        "longitude": longitude,
        # Derived rather than written down, so the table cannot disagree with the map.
        "timezone": timezone_at(latitude, longitude),
        "opening_hours": _HOURS[hours][city.ukrainian],
        "phone": city.phone_prefix + phone,
    }
