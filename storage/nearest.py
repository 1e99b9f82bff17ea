"""The nearest-center lookup: an in-memory index over the centers table, kept fresh."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from domain.geo import NearestIndex
from storage.centers import Center, all_centers, centers_revision
from storage.database import Database


class NearestCenters:
    """Answers "which centers are closest" in well under a millisecond, from memory: the
    centers themselves (a few hundred bytes each) are kept next to the index, since they
    change only when an import runs.

    The index is rebuilt when the centers revision in the database moves (an import in
    another process bumps it). The revision is read at most every ``check_every`` seconds,
    so a busy bot does not pay a query per lookup.
    """

    def __init__(
        self,
        db: Database,
        *,
        check_every: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._check_every = check_every
        self._monotonic = monotonic
        self._index = NearestIndex(())
        self._centers: dict[int, Center] = {}
        self._revision: int | None = None
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()

    async def refresh(self, *, force: bool = False) -> None:
        async with self._lock:
            now = self._monotonic()
            if not force and now - self._checked_at < self._check_every:
                return
            async with self._db.read() as conn:
                revision = await centers_revision(conn)
                loaded = await all_centers(conn) if revision != self._revision or force else None
            if loaded is not None:
                points = [(c.id, c.latitude, c.longitude) for c in loaded]
                # Built off the event loop: 100,000 centers take long enough to stall updates.
                self._index = await asyncio.to_thread(NearestIndex, points)
                self._centers = {center.id: center for center in loaded}
                self._revision = revision
            self._checked_at = now

    async def find(
        self, latitude: float, longitude: float, *, limit: int, offset: int = 0
    ) -> tuple[list[tuple[Center, float]], bool]:
        """One page of centers with their distance in metres, and whether more follow."""
        await self.refresh()
        found = self._index.nearest(latitude, longitude, offset + limit + 1)
        page = [(self._centers[center_id], metres) for metres, center_id in found[offset:][:limit]]
        return page, len(found) > offset + limit
