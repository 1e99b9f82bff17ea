"""A trigram index for searching centers by any part of a word (SQLite).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

The search matches every word of the query anywhere in a center's folded name, address and
city. As a LIKE scan that read all 20,000 rows of a large chain for each search (about 10 ms
of the event loop each time); SQLite's FTS5 trigram index finds the candidates directly. It is
an external-content index over ``centers.search_key``, kept in step by triggers. Other
databases keep the scan until they get their own index.
"""

from alembic import op

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


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in _CREATE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER centers_search_{trigger}")
    op.execute("DROP TABLE centers_search")
