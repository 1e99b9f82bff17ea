"""Deterministic synthetic community centers and user locations spread over Russia.

Real stores are concentrated in big cities and thin out into towns and villages, with a
long tail across Siberia, the Far East and Chukotka (which straddles the antimeridian).
The generator reproduces that shape, because a uniform spread would flatter any spatial
index: the hard cases are dense clusters and remote, sparse points.

Everything is seeded, so two runs with the same arguments produce the same rows.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import NamedTuple

DEFAULT_SEED = 20_240_601

# Share of centers placed around settlements at town/village distance rather than inside
# a city.
RURAL_SHARE = 0.25

_KM_PER_DEG_LAT = 111.2

CSV_FIELDS = ("external_id", "name", "address", "city", "region", "latitude", "longitude")


class SyntheticCenter(NamedTuple):
    """One row in the shape of the center CSV import (field order = ``CSV_FIELDS``)."""

    external_id: str
    name: str
    address: str
    city: str
    region: str
    latitude: float
    longitude: float


class _Place(NamedTuple):
    city: str
    region: str
    lat: float
    lon: float
    population_k: float


# (city, region, lat, lon, population in thousands). Rounded real figures; only the
# relative weights matter.
CITIES: tuple[_Place, ...] = tuple(
    _Place(*row)
    for row in (
        ("Москва", "Москва", 55.7558, 37.6173, 13_100),
        ("Санкт-Петербург", "Санкт-Петербург", 59.9386, 30.3141, 5_600),
        ("Новосибирск", "Новосибирская область", 55.0084, 82.9357, 1_630),
        ("Екатеринбург", "Свердловская область", 56.8389, 60.6057, 1_540),
        ("Казань", "Республика Татарстан", 55.7963, 49.1088, 1_310),
        ("Нижний Новгород", "Нижегородская область", 56.3269, 44.0059, 1_210),
        ("Красноярск", "Красноярский край", 56.0153, 92.8932, 1_200),
        ("Челябинск", "Челябинская область", 55.1644, 61.4368, 1_180),
        ("Самара", "Самарская область", 53.1959, 50.1002, 1_160),
        ("Уфа", "Республика Башкортостан", 54.7388, 55.9721, 1_160),
        ("Краснодар", "Краснодарский край", 45.0355, 38.9753, 1_150),
        ("Ростов-на-Дону", "Ростовская область", 47.2357, 39.7015, 1_140),
        ("Омск", "Омская область", 54.9885, 73.3242, 1_100),
        ("Воронеж", "Воронежская область", 51.6720, 39.1843, 1_050),
        ("Пермь", "Пермский край", 58.0105, 56.2502, 1_030),
        ("Волгоград", "Волгоградская область", 48.7080, 44.5133, 1_020),
        ("Саратов", "Саратовская область", 51.5336, 46.0343, 900),
        ("Тюмень", "Тюменская область", 57.1522, 65.5272, 850),
        ("Тольятти", "Самарская область", 53.5303, 49.3461, 680),
        ("Барнаул", "Алтайский край", 53.3548, 83.7698, 630),
        ("Ижевск", "Удмуртская Республика", 56.8526, 53.2045, 630),
        ("Махачкала", "Республика Дагестан", 42.9849, 47.5047, 620),
        ("Хабаровск", "Хабаровский край", 48.4802, 135.0719, 610),
        ("Ульяновск", "Ульяновская область", 54.3142, 48.4031, 610),
        ("Иркутск", "Иркутская область", 52.2870, 104.3050, 610),
        ("Владивосток", "Приморский край", 43.1155, 131.8855, 600),
        ("Ярославль", "Ярославская область", 57.6261, 39.8845, 570),
        ("Томск", "Томская область", 56.4846, 84.9476, 570),
        ("Ставрополь", "Ставропольский край", 45.0428, 41.9734, 550),
        ("Кемерово", "Кемеровская область", 55.3547, 86.0873, 550),
        ("Набережные Челны", "Республика Татарстан", 55.7436, 52.3958, 550),
        ("Новокузнецк", "Кемеровская область", 53.7596, 87.1216, 540),
        ("Оренбург", "Оренбургская область", 51.7682, 55.0970, 540),
        ("Рязань", "Рязанская область", 54.6269, 39.6916, 520),
        ("Балашиха", "Московская область", 55.7963, 37.9382, 520),
        ("Пенза", "Пензенская область", 53.1959, 45.0183, 500),
        ("Липецк", "Липецкая область", 52.6031, 39.5708, 500),
        ("Чебоксары", "Чувашская Республика", 56.1439, 47.2489, 490),
        ("Калининград", "Калининградская область", 54.7104, 20.4522, 490),
        ("Астрахань", "Астраханская область", 46.3479, 48.0336, 470),
        ("Киров", "Кировская область", 58.6036, 49.6680, 470),
        ("Тула", "Тульская область", 54.1931, 37.6177, 470),
        ("Курск", "Курская область", 51.7373, 36.1874, 440),
        ("Сочи", "Краснодарский край", 43.5855, 39.7231, 440),
        ("Улан-Удэ", "Республика Бурятия", 51.8335, 107.5841, 430),
        ("Тверь", "Тверская область", 56.8587, 35.9176, 420),
        ("Магнитогорск", "Челябинская область", 53.4072, 58.9791, 410),
        ("Сургут", "Ханты-Мансийский АО", 61.2540, 73.3962, 400),
        ("Брянск", "Брянская область", 53.2521, 34.3717, 380),
        ("Иваново", "Ивановская область", 57.0004, 40.9739, 360),
        ("Якутск", "Республика Саха (Якутия)", 62.0355, 129.6755, 350),
        ("Владимир", "Владимирская область", 56.1291, 40.4066, 350),
        ("Чита", "Забайкальский край", 52.0340, 113.4994, 350),
        ("Нижний Тагил", "Свердловская область", 57.9101, 59.9813, 340),
        ("Белгород", "Белгородская область", 50.5997, 36.5983, 340),
        ("Грозный", "Чеченская Республика", 43.3178, 45.6949, 330),
        ("Калуга", "Калужская область", 54.5293, 36.2754, 330),
        ("Волжский", "Волгоградская область", 48.7858, 44.7797, 320),
        ("Смоленск", "Смоленская область", 54.7826, 32.0453, 310),
        ("Саранск", "Республика Мордовия", 54.1838, 45.1749, 310),
        ("Подольск", "Московская область", 55.4311, 37.5456, 310),
        ("Вологда", "Вологодская область", 59.2181, 39.8886, 310),
        ("Курган", "Курганская область", 55.4410, 65.3411, 300),
        ("Орёл", "Орловская область", 52.9651, 36.0785, 300),
        ("Череповец", "Вологодская область", 59.1333, 37.9000, 300),
        ("Владикавказ", "Республика Северная Осетия — Алания", 43.0367, 44.6678, 300),
        ("Архангельск", "Архангельская область", 64.5401, 40.5433, 300),
        ("Нижневартовск", "Ханты-Мансийский АО", 60.9344, 76.5531, 280),
        ("Йошкар-Ола", "Республика Марий Эл", 56.6344, 47.8999, 280),
        ("Петрозаводск", "Республика Карелия", 61.7849, 34.3469, 280),
        ("Стерлитамак", "Республика Башкортостан", 53.6300, 55.9300, 280),
        ("Мурманск", "Мурманская область", 68.9585, 33.0827, 270),
        ("Новороссийск", "Краснодарский край", 44.7235, 37.7686, 270),
        ("Кострома", "Костромская область", 57.7665, 40.9269, 270),
        ("Химки", "Московская область", 55.8970, 37.4297, 260),
        ("Тамбов", "Тамбовская область", 52.7212, 41.4523, 260),
        ("Таганрог", "Ростовская область", 47.2362, 38.8969, 250),
        ("Мытищи", "Московская область", 55.9116, 37.7308, 240),
        ("Комсомольск-на-Амуре", "Хабаровский край", 50.5500, 137.0100, 240),
        ("Благовещенск", "Амурская область", 50.2907, 127.5272, 240),
        ("Нальчик", "Кабардино-Балкарская Республика", 43.4853, 43.6071, 240),
        ("Братск", "Иркутская область", 56.1514, 101.6340, 220),
        ("Ангарск", "Иркутская область", 52.5448, 103.8885, 220),
        ("Великий Новгород", "Новгородская область", 58.5213, 31.2710, 220),
        ("Сыктывкар", "Республика Коми", 61.6688, 50.8364, 220),
        ("Южно-Сахалинск", "Сахалинская область", 46.9591, 142.7380, 200),
        ("Псков", "Псковская область", 57.8194, 28.3318, 200),
        ("Абакан", "Республика Хакасия", 53.7212, 91.4424, 190),
        ("Норильск", "Красноярский край", 69.3558, 88.1893, 180),
        ("Уссурийск", "Приморский край", 43.7971, 131.9518, 170),
        ("Каменск-Уральский", "Свердловская область", 56.4149, 61.9189, 160),
        ("Петропавловск-Камчатский", "Камчатский край", 53.0452, 158.6483, 160),
        ("Находка", "Приморский край", 42.8240, 132.8922, 140),
        ("Майкоп", "Республика Адыгея", 44.6098, 40.1006, 140),
        ("Новый Уренгой", "Ямало-Ненецкий АО", 66.0833, 76.6333, 120),
        ("Кызыл", "Республика Тыва", 51.7191, 94.4378, 120),
        ("Ачинск", "Красноярский край", 56.2694, 90.4993, 105),
        ("Ханты-Мансийск", "Ханты-Мансийский АО", 61.0042, 69.0019, 100),
        ("Элиста", "Республика Калмыкия", 46.3078, 44.2558, 100),
        ("Магадан", "Магаданская область", 59.5682, 150.8085, 90),
        ("Биробиджан", "Еврейская АО", 48.7946, 132.9218, 70),
        ("Горно-Алтайск", "Республика Алтай", 51.9581, 85.9603, 60),
        ("Салехард", "Ямало-Ненецкий АО", 66.5300, 66.6000, 50),
        ("Саяногорск", "Республика Хакасия", 53.1009, 91.4125, 45),
        ("Холмск", "Сахалинская область", 47.0409, 142.0416, 30),
        ("Нарьян-Мар", "Ненецкий АО", 67.6381, 53.0069, 25),
        ("Анадырь", "Чукотский АО", 64.7337, 177.5089, 15),
    )
)

# Remote settlements: too small to cluster around, but they carry the edge cases — the
# far north and both sides of the antimeridian in Chukotka.
REMOTE: tuple[_Place, ...] = tuple(
    _Place(*row)
    for row in (
        ("Воркута", "Республика Коми", 67.4975, 64.0625, 50),
        ("Мирный", "Республика Саха (Якутия)", 62.5353, 113.9611, 35),
        ("Певек", "Чукотский АО", 69.7008, 170.3133, 4),
        ("Билибино", "Чукотский АО", 68.0546, 166.4372, 5),
        ("Эгвекинот", "Чукотский АО", 66.3205, -179.1184, 3),
        ("Провидения", "Чукотский АО", 64.4235, -173.2258, 2),
        ("Лаврентия", "Чукотский АО", 65.5833, -170.9833, 1.5),
        ("Уэлен", "Чукотский АО", 66.1594, -169.8092, 0.7),
        ("Тикси", "Республика Саха (Якутия)", 71.6369, 128.8672, 4.5),
        ("Хатанга", "Красноярский край", 71.9800, 102.4700, 2.5),
        ("Диксон", "Красноярский край", 73.5069, 80.5464, 0.5),
        ("Нагурское", "Архангельская область", 80.8000, 47.6500, 0.1),
    )
)

_VILLAGES = (
    "Берёзовка",
    "Ивановка",
    "Никольское",
    "Покровка",
    "Александровка",
    "Сосновка",
    "Михайловка",
    "Петровка",
    "Каменка",
    "Октябрьский",
    "Первомайский",
    "Заречный",
    "Садовое",
    "Луговой",
)
_STREETS = (
    "Ленина",
    "Советская",
    "Мира",
    "Молодёжная",
    "Школьная",
    "Садовая",
    "Гагарина",
    "Победы",
    "Центральная",
    "Лесная",
    "Набережная",
    "Пушкина",
    "Кирова",
    "Октябрьская",
    "Комсомольская",
)
_STORES = ("Продукты", "Универсам", "Магазин у дома", "Гастроном", "Минимаркет")


def _city_spread_km(population_k: float) -> float:
    # Standard deviation of store positions around a city centre: ~10 km for Moscow,
    # ~4 km for a million-strong city, under 1 km for a small town.
    return 1.5 * (population_k / 100.0) ** 0.4


def _offset(lat: float, lon: float, dy_km: float, dx_km: float) -> tuple[float, float]:
    new_lat = lat + dy_km / _KM_PER_DEG_LAT
    new_lat = max(-89.9, min(89.9, new_lat))
    new_lon = lon + dx_km / (_KM_PER_DEG_LAT * math.cos(math.radians(new_lat)))
    # Wrap into [-180, 180) so points that drift across the antimeridian stay valid.
    new_lon = (new_lon + 180.0) % 360.0 - 180.0
    # Six decimals (~0.1 m) is what a CSV export carries.
    return round(new_lat, 6), round(new_lon, 6)


def _near_city(rng: random.Random, place: _Place, scale: float = 1.0) -> tuple[float, float]:
    sigma = _city_spread_km(place.population_k) * scale
    return _offset(place.lat, place.lon, rng.gauss(0.0, sigma), rng.gauss(0.0, sigma))


def _rural(rng: random.Random, place: _Place) -> tuple[float, float]:
    # Distance falls off with a long tail: most villages sit within ~60 km of a town,
    # a few are hundreds of km out.
    distance = min(400.0, 5.0 + rng.expovariate(1.0 / 45.0))
    bearing = rng.uniform(0.0, 2.0 * math.pi)
    return _offset(place.lat, place.lon, distance * math.cos(bearing), distance * math.sin(bearing))


def _weights() -> tuple[list[float], list[_Place], list[float]]:
    city_weights = [place.population_k for place in CITIES]
    # Rural stores follow the square root of population: the countryside around a small
    # town holds proportionally more shops than the one around a megacity.
    anchors = [*CITIES, *REMOTE]
    anchor_weights = [math.sqrt(place.population_k) for place in anchors]
    return city_weights, anchors, anchor_weights


def generate_centers(
    n: int, seed: int = DEFAULT_SEED, rural_share: float = RURAL_SHARE
) -> Iterator[SyntheticCenter]:
    """Yield ``n`` synthetic centers; the same ``(n, seed, rural_share)`` gives the same rows."""
    rng = random.Random(seed)
    city_weights, anchors, anchor_weights = _weights()
    for number in range(1, n + 1):
        if rng.random() < rural_share:
            anchor = rng.choices(anchors, anchor_weights)[0]
            lat, lon = _rural(rng, anchor)
            city = rng.choice(_VILLAGES)
        else:
            anchor = rng.choices(CITIES, city_weights)[0]
            lat, lon = _near_city(rng, anchor)
            city = anchor.city
        address = f"ул. {rng.choice(_STREETS)}, д. {rng.randint(1, 150)}"
        yield SyntheticCenter(
            external_id=f"SYN-{number:06d}",
            name=f"Соседи — {rng.choice(_STORES)} №{number}",
            address=address,
            city=city,
            region=anchor.region,
            latitude=lat,
            longitude=lon,
        )


def query_points(
    n: int, seed: int = DEFAULT_SEED + 1, rural_share: float = RURAL_SHARE
) -> list[tuple[float, float]]:
    """``n`` seeded ``(lat, lon)`` user locations, distributed like where people live."""
    rng = random.Random(seed)
    city_weights, anchors, anchor_weights = _weights()
    points = []
    for _ in range(n):
        if rng.random() < rural_share:
            points.append(_rural(rng, rng.choices(anchors, anchor_weights)[0]))
        else:
            # People live a bit further out than the stores are packed.
            points.append(_near_city(rng, rng.choices(CITIES, city_weights)[0], scale=1.5))
    return points
