"""A trigram index for searching centers by any part of a word (SQLite).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

The search matches every word of the query anywhere in a center's folded name, address and
city. As a LIKE scan that read all 20,000 rows of a large chain for each search (about 10 ms
of the event loop each time); SQLite's FTS5 trigram index finds the candidates directly. It is
an external-content index over ``centers.search_key``, kept in step by triggers.

PostgreSQL's ``pg_trgm`` GIN index serves the same LIKE directly. Creating the extension
needs a privileged role (a superuser, or the database owner on PostgreSQL 13+ for this
trusted extension): without it, or without the extension installed, the scan stays.
"""

from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_CREATE = (
    "CREATE VIRTUAL TABLE centers_search USING fts5("
    "search_key, content='centers', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER centers_search_insert AFTER INSERT ON centers BEGIN "
    "INSERT INTO centers_search(rowid, search_key) VALUES (new.id, new.search_key); END",
    "CREATE TRIGGER centers_search_delete AFTER DELETE ON centers BEGIN "
    "INSERT INTO centers_search(centers_search, rowid, search_key) "
    "VALUES ('delete', old.id, old.search_key); END",
    "CREATE TRIGGER centers_search_update AFTER UPDATE OF search_key ON centers BEGIN "
    "INSERT INTO centers_search(centers_search, rowid, search_key) "
    "VALUES ('delete', old.id, old.search_key); "
    "INSERT INTO centers_search(rowid, search_key) VALUES (new.id, new.search_key); END",
    "INSERT INTO centers_search(centers_search) VALUES ('rebuild')",
)


_PG_INDEX = "ix_centers_search_key_trgm"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _upgrade_postgresql()
    if dialect != "sqlite":
        return
    for statement in _CREATE:
        op.execute(statement)


def _upgrade_postgresql() -> None:
    bind = op.get_bind()
    available = bind.exec_driver_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
    ).scalar()
    if not available:
        return
    try:
        with bind.begin_nested():  # a refusal must not abort the migration's transaction
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError:
        return
    op.execute(f"CREATE INDEX {_PG_INDEX} ON centers USING gin (search_key gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {_PG_INDEX}")
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER centers_search_{trigger}")
    op.execute("DROP TABLE centers_search")
