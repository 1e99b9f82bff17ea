import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.geo import EARTH_RADIUS_M, NearestIndex, brute_force_nearest, haversine_m

MOSCOW = (55.7558, 37.6173)
SAINT_PETERSBURG = (59.9386, 30.3141)


def _cluster(rng, n, lat, lon, spread_deg, first_id):
    points = []
    for i in range(n):
        p_lat = max(-90.0, min(90.0, lat + rng.gauss(0.0, spread_deg)))
        p_lon = (lon + rng.gauss(0.0, spread_deg) + 180.0) % 360.0 - 180.0
        points.append((first_id + i, p_lat, p_lon))
    return points


def _mixed_points(seed, n_cluster, n_uniform):
    """Clusters in the awkward places (antimeridian, far north, a pole) plus a uniform
    background over the whole sphere and some exact duplicates."""
    rng = random.Random(seed)
    points = []
    for lat, lon, spread in (
        (55.75, 37.62, 0.1),  # dense city
        (64.73, 177.5, 0.5),  # Anadyr
        (66.0, -179.9, 0.3),  # straddles the antimeridian
        (80.0, 50.0, 1.0),  # Franz Josef Land
        (89.9, 0.0, 0.05),  # next to the pole
    ):
        points += _cluster(rng, n_cluster, lat, lon, spread, len(points))
    for _ in range(n_uniform):
        points.append(
            (len(points), math.degrees(math.asin(rng.uniform(-1, 1))), rng.uniform(-180, 180))
        )
    for center_id, lat, lon in rng.sample(points, 10):
        points.append((len(points) + 10_000 + center_id, lat, lon))
    rng.shuffle(points)
    return points


# ---- haversine ----------------------------------------------------------------------


def test_moscow_to_saint_petersburg_is_about_634_km():
    assert haversine_m(*MOSCOW, *SAINT_PETERSBURG) == pytest.approx(634_000, rel=0.01)


def test_zero_distance():
    assert haversine_m(*MOSCOW, *MOSCOW) == 0.0
    assert haversine_m(0.0, 180.0, 0.0, -180.0) == pytest.approx(0.0, abs=1e-6)


def test_distance_is_symmetric():
    assert haversine_m(*MOSCOW, *SAINT_PETERSBURG) == pytest.approx(
        haversine_m(*SAINT_PETERSBURG, *MOSCOW), rel=1e-12
    )


def test_antimeridian_takes_the_short_way():
    one_degree = EARTH_RADIUS_M * math.pi / 180
    assert haversine_m(0.0, 179.5, 0.0, -179.5) == pytest.approx(one_degree, rel=1e-9)


def test_poles_and_antipodes():
    assert haversine_m(90.0, 0.0, 90.0, 123.0) == pytest.approx(0.0, abs=1e-6)
    half_circumference = math.pi * EARTH_RADIUS_M
    assert haversine_m(90.0, 0.0, -90.0, 0.0) == pytest.approx(half_circumference, rel=1e-12)
    assert haversine_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(half_circumference, rel=1e-12)


# ---- brute force --------------------------------------------------------------------


def test_brute_force_orders_by_distance_then_id():
    points = [(3, 0.0, 1.0), (1, 0.0, 2.0), (2, 0.0, -1.0), (4, 0.0, 0.5)]
    got = brute_force_nearest(points, 0.0, 0.0, 3)
    assert [center_id for _, center_id in got] == [4, 2, 3]
    assert got[1][0] == got[2][0]


def test_brute_force_small_k():
    assert brute_force_nearest([(1, 0.0, 0.0)], 0.0, 0.0, 0) == []
    assert brute_force_nearest([], 0.0, 0.0, 5) == []


# ---- index --------------------------------------------------------------------------


def test_empty_index():
    index = NearestIndex([])
    assert len(index) == 0
    assert index.nearest(*MOSCOW, 5) == []


def test_k_larger_than_index_returns_everything_sorted():
    points = [(10, 55.0, 37.0), (20, 56.0, 38.0), (5, 54.0, 36.0)]
    index = NearestIndex(points)
    assert len(index) == 3
    got = index.nearest(55.1, 37.1, 10)
    assert [center_id for _, center_id in got] == [10, 20, 5]
    assert got == brute_force_nearest(points, 55.1, 37.1, 10)


def test_non_positive_k():
    index = NearestIndex([(1, 0.0, 0.0)])
    assert index.nearest(0.0, 0.0, 0) == []
    assert index.nearest(0.0, 0.0, -3) == []


def test_ties_are_ordered_by_id():
    # On the equator these four are bit-for-bit equidistant from the origin.
    equidistant = [(7, 0.0, 1.0), (3, 1.0, 0.0), (9, -1.0, 0.0), (5, 0.0, -1.0)]
    # Forty identical points force ties inside one leaf and across leaves.
    stacked = [(100 + i, 10.0, 10.0) for i in range(40)]
    rng = random.Random(4)
    points = equidistant + stacked
    rng.shuffle(points)
    index = NearestIndex(points)

    got = index.nearest(0.0, 0.0, 3)
    assert [center_id for _, center_id in got] == [3, 5, 7]
    assert len({distance for distance, _ in got}) == 1

    got = index.nearest(10.0, 10.0, 5)
    assert got == [(0.0, 100 + i) for i in range(5)]


def test_nearest_across_the_antimeridian():
    points = [(1, 65.0, 179.5), (2, 65.0, -179.99), (3, 64.0, 179.99)]
    index = NearestIndex(points)
    assert index.nearest(65.0, 179.99, 1)[0][1] == 2
    assert index.nearest(65.0, -179.5, 3) == brute_force_nearest(points, 65.0, -179.5, 3)


def test_nearest_in_the_far_north():
    # Near the pole meridians converge: 90° of longitude apart can be closer than 1° of
    # latitude.
    points = [(1, 82.0, 0.0), (2, 81.0, 0.0), (3, 89.5, 90.0)]
    index = NearestIndex(points)
    assert [center_id for _, center_id in index.nearest(89.5, 0.0, 3)] == [3, 1, 2]


def test_accepts_any_iterable_and_integer_coordinates():
    index = NearestIndex((i, 55, 37 + i) for i in range(3))
    assert len(index) == 3
    assert index.nearest(55, 37, 1) == [(0.0, 0)]


@pytest.mark.parametrize(
    ("lat", "lon"), [(91.0, 0.0), (-90.5, 0.0), (math.nan, 0.0), (0.0, math.inf)]
)
def test_invalid_query_coordinates(lat, lon):
    index = NearestIndex([(1, 0.0, 0.0)])
    with pytest.raises(ValueError):
        index.nearest(lat, lon, 1)


def test_invalid_point_coordinates():
    with pytest.raises(ValueError):
        NearestIndex([(1, 100.0, 0.0)])


def test_matches_brute_force_on_seeded_random_points():
    rng = random.Random(20_240_601)
    points = _mixed_points(seed=1, n_cluster=500, n_uniform=1_500)
    index = NearestIndex(points)
    queries = [
        (math.degrees(math.asin(rng.uniform(-1, 1))), rng.uniform(-180, 180)) for _ in range(60)
    ]
    queries += [
        (66.0 + rng.uniform(-1, 1), rng.choice([179.95, -179.95, 180.0, -180.0])) for _ in range(30)
    ]
    queries += [(80.0 + rng.uniform(-1, 2), rng.uniform(-180, 180)) for _ in range(30)]
    queries += [(55.75 + rng.gauss(0, 0.05), 37.62 + rng.gauss(0, 0.05)) for _ in range(30)]
    queries += [(lat, lon) for _, lat, lon in rng.sample(points, 30)]
    queries += [(90.0, 0.0), (-90.0, 0.0)]
    for lat, lon in queries:
        # The k smallest are a prefix of the 50 smallest, so one scan checks every k.
        expected = brute_force_nearest(points, lat, lon, 50)
        for k in (1, 5, 50):
            assert index.nearest(lat, lon, k) == expected[:k], (lat, lon, k)


_FIXED_POINTS = _mixed_points(seed=2, n_cluster=30, n_uniform=150)
_FIXED_INDEX = NearestIndex(_FIXED_POINTS)


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(min_value=-90, max_value=90),
    lon=st.floats(min_value=-180, max_value=180),
    k=st.integers(min_value=0, max_value=len(_FIXED_POINTS) + 5),
)
def test_matches_brute_force_property(lat, lon, k):
    assert _FIXED_INDEX.nearest(lat, lon, k) == brute_force_nearest(_FIXED_POINTS, lat, lon, k)
