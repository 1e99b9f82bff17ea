"""Weekly digest and new-activity preferences, announcement marks, ratings.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

Activities that exist when this runs count as announced: subscribers are told about what is
new from now on, not about the whole schedule at once.
"""

import sqlalchemy as sa
from alembic import op

from storage.schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("weekly_digest", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch.add_column(sa.Column("announce_categories", sa.String(length=200), nullable=True))
    with op.batch_alter_table("activities") as batch:
        batch.add_column(sa.Column("announced_at", UTCDateTime(), nullable=True))
    op.execute("UPDATE activities SET announced_at = created_at")
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="ck_ratings_score"),
        sa.ForeignKeyConstraint(["activity_id"], ["activities.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("activity_id", "user_id", name="uq_ratings_activity_id_user_id"),
    )


def downgrade() -> None:
    op.drop_table("ratings")
    with op.batch_alter_table("activities") as batch:
        batch.drop_column("announced_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("announce_categories")
        batch.drop_column("weekly_digest")
