"""Great-circle distances and an exact k-nearest-neighbour index over community centers.

The index is a k-d tree over the points' unit vectors on the sphere rather than a lat/lon
grid: straight-line (chord) distance between unit vectors grows monotonically with the
great-circle distance, so a 3-D bounding box gives a provably correct lower bound with no
special cases for the antimeridian, the poles or the shrinking of meridians at high
latitude, and the tree adapts to the heavy clustering of stores in big cities.

Chords only prune the search. Every reported distance is the haversine value, computed by
the same arithmetic as ``brute_force_nearest``, so both return identical results.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Iterable

__all__ = [
    "EARTH_RADIUS_M",
    "NearestIndex",
    "brute_force_nearest",
    "haversine_m",
]

# Mean Earth radius (IUGG); the spherical model is off by at most ~0.5 % from the
# ellipsoid, which is irrelevant for "which store is closest".
EARTH_RADIUS_M = 6_371_008.8

_TWO_R = 2.0 * EARTH_RADIUS_M

# Degrees are converted by this one multiplication everywhere (instead of math.radians in
# some places) so the index and the brute-force scan see bit-identical angles by
# construction; it is also cheaper than a function call in the scan's inner loop.
_RAD_PER_DEG = math.pi / 180.0

# Points per leaf: small enough that a query scans few points, large enough that the
# per-node Python overhead does not dominate.
_LEAF_SIZE = 16

# Pruning works on chords computed from stored unit vectors while ranking uses haversine
# computed from angles; the two agree to ~1e-15, so these margins (a few micrometres on
# Earth) keep a rounding difference from ever dropping a true neighbour.
_CHORD_REL_MARGIN = 1e-9
_CHORD_ABS_MARGIN = 1e-12

Neighbour = tuple[float, int]


def _haversine_rad(
    phi1: float, lam1: float, cos1: float, phi2: float, lam2: float, cos2: float
) -> float:
    # The single implementation every public path goes through, so the index and the
    # brute-force scan produce bit-identical floats and therefore identical orderings.
    s_phi = math.sin((phi2 - phi1) * 0.5)
    s_lam = math.sin((lam2 - lam1) * 0.5)
    a = s_phi * s_phi + cos1 * cos2 * s_lam * s_lam
    # Rounding can push `a` a hair above 1 for antipodal points.
    return _TWO_R * math.asin(math.sqrt(a if a < 1.0 else 1.0))


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points given in degrees."""
    phi1 = lat1 * _RAD_PER_DEG
    phi2 = lat2 * _RAD_PER_DEG
    return _haversine_rad(
        phi1, lon1 * _RAD_PER_DEG, math.cos(phi1), phi2, lon2 * _RAD_PER_DEG, math.cos(phi2)
    )


def brute_force_nearest(
    points: Iterable[tuple[int, float, float]], lat: float, lon: float, k: int
) -> list[Neighbour]:
    """Scan every ``(center_id, lat, lon)`` and return the ``k`` nearest.

    Result is ``[(distance_m, center_id), ...]`` ordered by distance, then id. This is the
    reference the index is tested and benchmarked against.
    """
    if k <= 0:
        return []
    phi = lat * _RAD_PER_DEG
    lam = lon * _RAD_PER_DEG
    cos_phi = math.cos(phi)
    cos = math.cos
    # Same operands in the same order as haversine_m(lat, lon, p_lat, p_lon); only the
    # query-side conversions are hoisted out of the loop.
    return heapq.nsmallest(
        k,
        (
            (
                _haversine_rad(
                    phi,
                    lam,
                    cos_phi,
                    p_lat * _RAD_PER_DEG,
                    p_lon * _RAD_PER_DEG,
                    cos(p_lat * _RAD_PER_DEG),
                ),
                center_id,
            )
            for center_id, p_lat, p_lon in points
        ),
    )


def _check_coordinates(lat: float, lon: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError(f"coordinates must be finite, got ({lat!r}, {lon!r})")
    if not -90.0 <= lat <= 90.0:
        raise ValueError(f"latitude must be within [-90, 90], got {lat!r}")


def _chord_limit_sq(distance_m: float) -> float:
    """Squared chord on the unit sphere beyond which a point cannot be within
    ``distance_m`` (inflated by the rounding margins)."""
    chord = 2.0 * math.sin(distance_m / _TWO_R)
    chord = chord * (1.0 + _CHORD_REL_MARGIN) + _CHORD_ABS_MARGIN
    return chord * chord


class NearestIndex:
    """Immutable exact k-nearest index over ``(center_id, lat, lon)`` points.

    Build once (O(n log² n)), query many times; queries allocate only local state, so one
    instance may be shared between concurrent tasks and threads. Storage is a handful of
    flat ``array`` buffers: about 56 bytes per point plus ~10 bytes per point for tree nodes.
    """

    __slots__ = (
        "_cos",
        "_hi",
        "_ids",
        "_lam",
        "_left",
        "_lo",
        "_max_x",
        "_max_y",
        "_max_z",
        "_min_x",
        "_min_y",
        "_min_z",
        "_phi",
        "_right",
        "_x",
        "_y",
        "_z",
    )

    def __init__(self, points: Iterable[tuple[int, float, float]]) -> None:
        ids = array("q")
        phi = array("d")
        lam = array("d")
        cos_phi = array("d")
        xs = array("d")
        ys = array("d")
        zs = array("d")
        for center_id, lat, lon in points:
            lat = float(lat)
            lon = float(lon)
            _check_coordinates(lat, lon)
            p = lat * _RAD_PER_DEG
            q = lon * _RAD_PER_DEG
            c = math.cos(p)
            ids.append(center_id)
            phi.append(p)
            lam.append(q)
            cos_phi.append(c)
            xs.append(c * math.cos(q))
            ys.append(c * math.sin(q))
            zs.append(math.sin(p))

        order = list(range(len(ids)))
        self._lo = array("l")
        self._hi = array("l")
        self._left = array("l")
        self._right = array("l")
        self._min_x = array("d")
        self._min_y = array("d")
        self._min_z = array("d")
        self._max_x = array("d")
        self._max_y = array("d")
        self._max_z = array("d")
        if order:
            self._build(order, xs, ys, zs)

        # Lay the points out in tree order so every leaf is one contiguous slice.
        self._ids = array("q", [ids[i] for i in order])
        self._phi = array("d", [phi[i] for i in order])
        self._lam = array("d", [lam[i] for i in order])
        self._cos = array("d", [cos_phi[i] for i in order])
        self._x = array("d", [xs[i] for i in order])
        self._y = array("d", [ys[i] for i in order])
        self._z = array("d", [zs[i] for i in order])

    def _new_node(self, lo: int, hi: int) -> int:
        self._lo.append(lo)
        self._hi.append(hi)
        self._left.append(-1)
        self._right.append(-1)
        for box in (self._min_x, self._min_y, self._min_z, self._max_x, self._max_y, self._max_z):
            box.append(0.0)
        return len(self._lo) - 1

    def _build(self, order: list[int], xs: array, ys: array, zs: array) -> None:
        coords = (xs, ys, zs)
        mins = (self._min_x, self._min_y, self._min_z)
        maxs = (self._max_x, self._max_y, self._max_z)
        # The split axis is chosen from the node's cell (the parent's box cut at the split
        # value), which is known without touching the points; gathering every node's
        # points per axis just to measure them would dominate the build. Tight boxes,
        # which is what pruning needs, are computed per leaf and merged upwards below.
        root_cell = [bound for values in coords for bound in (min(values), max(values))]
        # Iterative so a pathological input cannot hit the recursion limit.
        stack = [(self._new_node(0, len(order)), root_cell)]
        while stack:
            node, cell = stack.pop()
            lo = self._lo[node]
            hi = self._hi[node]
            if hi - lo <= _LEAF_SIZE:
                segment = order[lo:hi]
                for dim, values in enumerate(coords):
                    picked = [values[i] for i in segment]
                    mins[dim][node] = min(picked)
                    maxs[dim][node] = max(picked)
                continue
            axis = max(range(3), key=lambda dim: cell[2 * dim + 1] - cell[2 * dim])
            values = coords[axis]
            segment = order[lo:hi]
            segment.sort(key=values.__getitem__)
            order[lo:hi] = segment
            mid = (lo + hi) // 2
            left = self._new_node(lo, mid)
            right = self._new_node(mid, hi)
            self._left[node] = left
            self._right[node] = right
            left_cell = cell.copy()
            left_cell[2 * axis + 1] = values[segment[mid - lo - 1]]
            right_cell = cell.copy()
            right_cell[2 * axis] = values[segment[mid - lo]]
            stack.append((left, left_cell))
            stack.append((right, right_cell))

        # Children are always created after their parent, so a reverse sweep sees both
        # children's boxes before the parent's.
        for node in range(len(self._lo) - 1, -1, -1):
            left = self._left[node]
            if left < 0:
                continue
            right = self._right[node]
            for low, high in zip(mins, maxs, strict=True):
                low[node] = min(low[left], low[right])
                high[node] = max(high[left], high[right])

    def __len__(self) -> int:
        return len(self._ids)

    def nearest(self, lat: float, lon: float, k: int) -> list[Neighbour]:
        """The ``k`` nearest centers to a point as ``[(distance_m, center_id), ...]``,
        ordered by distance, then id. Fewer than ``k`` if the index is smaller."""
        lat = float(lat)
        lon = float(lon)
        _check_coordinates(lat, lon)
        n = len(self._ids)
        if k <= 0 or n == 0:
            return []

        phi = lat * _RAD_PER_DEG
        lam = lon * _RAD_PER_DEG
        cos_phi = math.cos(phi)
        qx = cos_phi * math.cos(lam)
        qy = cos_phi * math.sin(lam)
        qz = math.sin(phi)

        ids = self._ids
        p_phi = self._phi
        p_lam = self._lam
        p_cos = self._cos
        if k >= n:
            return sorted(
                (_haversine_rad(phi, lam, cos_phi, p_phi[i], p_lam[i], p_cos[i]), ids[i])
                for i in range(n)
            )

        xs = self._x
        ys = self._y
        zs = self._z
        lo_of = self._lo
        hi_of = self._hi
        left_of = self._left
        right_of = self._right
        min_x = self._min_x
        min_y = self._min_y
        min_z = self._min_z
        max_x = self._max_x
        max_y = self._max_y
        max_z = self._max_z
        heappush = heapq.heappush
        heappop = heapq.heappop
        heapreplace = heapq.heapreplace

        # Max-heap of the best k so far, stored negated: best[0] is the current k-th.
        best: list[tuple[float, int]] = []
        limit_sq = math.inf
        # Best-first over nodes keyed by the squared chord to their bounding box, which
        # never exceeds the chord to any point inside (also under float rounding, since
        # subtraction, squaring and addition are monotonic).
        frontier: list[tuple[float, int]] = [(0.0, 0)]
        while frontier:
            box_sq, node = heappop(frontier)
            if box_sq > limit_sq:
                break
            left = left_of[node]
            if left < 0:
                for i in range(lo_of[node], hi_of[node]):
                    dx = xs[i] - qx
                    dy = ys[i] - qy
                    dz = zs[i] - qz
                    if dx * dx + dy * dy + dz * dz > limit_sq:
                        continue
                    d = _haversine_rad(phi, lam, cos_phi, p_phi[i], p_lam[i], p_cos[i])
                    center_id = ids[i]
                    if len(best) < k:
                        heappush(best, (-d, -center_id))
                        if len(best) == k:
                            limit_sq = _chord_limit_sq(-best[0][0])
                    else:
                        worst_d, worst_id = best[0]
                        if d < -worst_d or (d == -worst_d and center_id < -worst_id):
                            heapreplace(best, (-d, -center_id))
                            limit_sq = _chord_limit_sq(-best[0][0])
                continue
            for child in (left, right_of[node]):
                gap = min_x[child] - qx
                if gap <= 0.0:
                    gap = qx - max_x[child]
                    if gap < 0.0:
                        gap = 0.0
                child_sq = gap * gap
                gap = min_y[child] - qy
                if gap <= 0.0:
                    gap = qy - max_y[child]
                    if gap < 0.0:
                        gap = 0.0
                child_sq += gap * gap
                gap = min_z[child] - qz
                if gap <= 0.0:
                    gap = qz - max_z[child]
                    if gap < 0.0:
                        gap = 0.0
                child_sq += gap * gap
                if child_sq <= limit_sq:
                    heappush(frontier, (child_sq, child))

        # Negating back also turns a -0.0 distance into 0.0.
        return sorted((-d, -center_id) for d, center_id in best)
