"""Nearest-center lookup: NearestIndex against a brute-force haversine scan, and the bot's
whole query as handlers run it (``NearestCenters.find`` over a SQLite database it loaded).

A full scan of 100,000 centers takes tens of milliseconds in pure Python, so only the
first ``SCAN_TIMED`` queries are timed with it; the remaining queries are still checked
against brute force (spread over all cores, untimed) so every index answer is verified.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from bench.common import (
    Figure,
    median,
    ns_to_ms,
    ns_to_s,
    percentile,
    progress,
    settle,
    timed_ns,
)
from bench.synthetic import generate_centers, query_points
from domain.geo import NearestIndex, brute_force_nearest
from storage.centers import upsert_centers
from storage.database import Database
from storage.migrate import upgrade
from storage.nearest import NearestCenters

N_CENTERS = 100_000
N_QUERIES = 1_000
K = 5
# Pagination asks for offset + page size, so deeper pages mean larger k.
K_DEEP = 50
SCAN_TIMED = 200
SEED = 7

BASELINE = "brute-force haversine scan, same run"

Point = tuple[int, float, float]


def _scan_chunk(
    points: list[Point], queries: list[tuple[float, float]]
) -> list[list[tuple[float, int]]]:
    return [brute_force_nearest(points, lat, lon, K) for lat, lon in queries]


def _verify_rest(
    points: list[Point], queries: list[tuple[float, float]]
) -> list[list[tuple[float, int]]]:
    workers = max(1, min(os.cpu_count() or 1, 8))
    if workers == 1 or len(queries) < 2 * workers:
        return _scan_chunk(points, queries)
    # One chunk per worker: the points are pickled once per task, which is cheap next to
    # hundreds of full scans.
    size = -(-len(queries) // workers)
    chunks = [queries[i : i + size] for i in range(0, len(queries), size)]
    with ProcessPoolExecutor(workers) as pool:
        parts = pool.map(_scan_chunk, [points] * len(chunks), chunks)
        return [result for part in parts for result in part]


async def _bot_query_ns(queries: list[tuple[float, float]]) -> list[int]:
    """Time ``NearestCenters.find`` over a real SQLite database of the same centers."""
    with tempfile.TemporaryDirectory() as directory:
        db = Database.from_url(f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}")
        try:
            await upgrade(db)
            rows = (
                {**center._asdict(), "timezone": "Europe/Moscow", "opening_hours": None,
                 "phone": None}
                for center in generate_centers(N_CENTERS, seed=SEED)
            )  # fmt: skip
            async with db.write() as conn:
                await upsert_centers(conn, rows, now=datetime.now(UTC))
            nearest = NearestCenters(db)
            await nearest.refresh(force=True)
            timings = []
            for lat, lon in queries:
                started = time.perf_counter_ns()
                await nearest.find(lat, lon, limit=K)
                timings.append(time.perf_counter_ns() - started)
            return timings
        finally:
            await db.close()


def run() -> list[Figure]:
    progress(f"  generating {N_CENTERS:,} synthetic centers")
    points: list[Point] = [
        (number, center.latitude, center.longitude)
        for number, center in enumerate(generate_centers(N_CENTERS, seed=SEED), start=1)
    ]
    queries = query_points(N_QUERIES, seed=SEED + 1)

    progress("  building the index")
    settle()
    index, build_ns = timed_ns(NearestIndex, points)

    progress(f"  {N_QUERIES:,} index queries, k={K} and k={K_DEEP}")
    settle()
    index_ns: list[int] = []
    index_results: list[list[tuple[float, int]]] = []
    for lat, lon in queries:
        result, elapsed = timed_ns(index.nearest, lat, lon, K)
        index_ns.append(elapsed)
        index_results.append(result)
    deep_ns = [timed_ns(index.nearest, lat, lon, K_DEEP)[1] for lat, lon in queries]

    progress(f"  timing the brute-force scan on {SCAN_TIMED} queries")
    settle()
    scan_ns: list[int] = []
    scan_results: list[list[tuple[float, int]]] = []
    for lat, lon in queries[:SCAN_TIMED]:
        result, elapsed = timed_ns(brute_force_nearest, points, lat, lon, K)
        scan_ns.append(elapsed)
        scan_results.append(result)

    progress(f"  verifying the other {N_QUERIES - SCAN_TIMED} queries by brute force")
    scan_results.extend(_verify_rest(points, queries[SCAN_TIMED:]))
    mismatches = sum(
        got != expected for got, expected in zip(index_results, scan_results, strict=True)
    )

    progress("  the bot's query: NearestCenters.find over a SQLite database")
    settle()
    bot_ns = asyncio.run(_bot_query_ns(queries))

    index_median = median(index_ns)
    # Same queries on both sides, so the ratio is not skewed by query mix.
    index_median_timed_subset = median(index_ns[:SCAN_TIMED])
    scan_median = median(scan_ns)
    return [
        Figure("nearest.build_s", ns_to_s(build_ns), "s"),
        Figure("nearest.index.median_ms", ns_to_ms(index_median), "ms", "<= 1"),
        Figure("nearest.index.p99_ms", ns_to_ms(percentile(index_ns, 99)), "ms"),
        Figure("nearest.index.k50.median_ms", ns_to_ms(median(deep_ns)), "ms"),
        Figure("nearest.scan.median_ms", ns_to_ms(scan_median), "ms"),
        Figure("nearest.scan.p99_ms", ns_to_ms(percentile(scan_ns, 99)), "ms"),
        Figure("nearest.bot_query.median_ms", ns_to_ms(median(bot_ns)), "ms"),
        Figure("nearest.bot_query.p99_ms", ns_to_ms(percentile(bot_ns, 99)), "ms"),
        Figure(
            "nearest.bot_query.speedup_vs_scan",
            scan_median / median(bot_ns[:SCAN_TIMED]),
            "x",
            ">= 50",
            BASELINE,
        ),
        Figure(
            "nearest.speedup_vs_scan",
            scan_median / index_median_timed_subset,
            "x",
            ">= 50",
            BASELINE,
        ),
        Figure(
            "nearest.mismatches",
            mismatches,
            "queries",
            "== 0",
            f"brute-force haversine scan, all {N_QUERIES:,} queries",
        ),
    ]
