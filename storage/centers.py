"""Community centers: lookup, text search and the bulk upsert behind imports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.text import exonym, fold, search_terms
from storage.database import dialect_insert
from storage.schema import centers, meta

CENTERS_REVISION = "centers_revision"
_UPSERT_BATCH = 1_000


@dataclass(frozen=True, slots=True)
class Center:
    id: int
    external_id: str
    name: str
    address: str
    city: str
    region: str | None
    latitude: float
    longitude: float
    timezone: str
    opening_hours: str | None
    phone: str | None


CENTER_COLUMNS = [centers.c[name] for name in Center.__slots__]


def search_key(name: str, address: str, city: str, region: str | None) -> str:
    return fold(" ".join(part for part in (name, address, city, region, exonym(city)) if part))


async def get_center(conn: AsyncConnection, center_id: int) -> Center | None:
    row = (await conn.execute(select(*CENTER_COLUMNS).where(centers.c.id == center_id))).first()
    return Center(*row) if row else None


async def search_centers(
    conn: AsyncConnection, query: str, *, limit: int, offset: int = 0
) -> list[Center]:
    """Centers whose name, address, city or region contain every word of the query."""
    terms = search_terms(query)
    if not terms:
        return []
    # Folded terms hold only [a-z0-9], so no LIKE wildcard or FTS syntax can come from the user.
    conditions = [centers.c.search_key.contains(term) for term in terms]
    indexed = [term for term in terms if len(term) >= 3]  # a trigram needs three characters
    if conn.dialect.name == "sqlite" and indexed:
        # The index narrows the rows down; LIKE still decides, for the shorter words too.
        conditions.append(centers.c.id.in_(_SEARCH_INDEX.params(match=_match(indexed))))
    rows = await conn.execute(
        select(*CENTER_COLUMNS)
        .where(and_(*conditions))
        .order_by(centers.c.city, centers.c.name, centers.c.id)
        .limit(limit)
        .offset(offset)
    )
    return [Center(*row) for row in rows]


# The trigram index of migration 0004: rowids of centers whose search_key contains a phrase.
_SEARCH_INDEX = (
    select(literal_column("rowid"))
    .select_from(text("centers_search"))
    .where(text("centers_search MATCH :match"))
)


def _match(terms: list[str]) -> str:
    return " AND ".join(f'"{term}"' for term in terms)


async def centers_for_links(
    conn: AsyncConnection, external_ids: Sequence[str]
) -> list[tuple[int, str, str]]:
    """(id, external_id, name) of the given centers, or of all when none is given."""
    query = select(centers.c.id, centers.c.external_id, centers.c.name).order_by(
        centers.c.external_id
    )
    if external_ids:
        query = query.where(centers.c.external_id.in_(external_ids))
    return [tuple(row) for row in await conn.execute(query)]


async def all_centers(conn: AsyncConnection) -> list[Center]:
    return [Center(*row) for row in await conn.execute(select(*CENTER_COLUMNS))]


async def centers_revision(conn: AsyncConnection) -> int:
    value = await conn.scalar(select(meta.c.value).where(meta.c.key == CENTERS_REVISION))
    return value or 0


async def count_centers(conn: AsyncConnection) -> int:
    return await conn.scalar(select(func.count()).select_from(centers)) or 0


async def upsert_centers(
    conn: AsyncConnection, rows: Iterable[dict[str, Any]], *, now: datetime
) -> int:
    """Insert or update centers by ``external_id``; returns how many rows were written.

    Each row holds the columns of :class:`Center` but ``id``, and may bring its
    ``search_key`` computed beforehand (outside the write lock). Ids of existing centers never
    change, so deep links printed on posters keep working after a re-import.
    """
    table_columns = [name for name in Center.__slots__ if name != "id"]
    insert = dialect_insert(conn)
    statement = insert(centers)
    statement = statement.on_conflict_do_update(
        index_elements=[centers.c.external_id],
        set_={
            name: statement.excluded[name]
            for name in [*table_columns, "search_key", "updated_at"]
            if name != "external_id"
        },
    )
    written = 0
    batch: list[dict[str, Any]] = []
    for row in rows:
        values = {name: row.get(name) for name in table_columns}
        values["search_key"] = row.get("search_key") or search_key(
            row["name"], row["address"], row["city"], row["region"]
        )
        values["updated_at"] = now
        batch.append(values)
        if len(batch) >= _UPSERT_BATCH:
            await conn.execute(statement, batch)
            written += len(batch)
            batch = []
    if batch:
        await conn.execute(statement, batch)
        written += len(batch)
    if written:
        await bump_centers_revision(conn)
    return written


async def bump_centers_revision(conn: AsyncConnection) -> None:
    insert = dialect_insert(conn)
    statement = insert(meta).values(key=CENTERS_REVISION, value=1)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[meta.c.key], set_={"value": meta.c.value + 1}
        )
    )
