"""Activities, weekly series, sign-ups, volunteer profiles.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from storage.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activity_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("weekdays", sa.String(length=13), nullable=False),
        sa.Column("every_weeks", sa.Integer(), server_default="1", nullable=False),
        sa.Column("local_time", sa.String(length=5), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.Column("last_date", sa.Date(), nullable=True),
        sa.Column("place_note", sa.String(length=200), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("max_companions", sa.Integer(), server_default="0", nullable=False),
        sa.Column("accepts_participants", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("volunteer_role", sa.String(length=100), nullable=True),
        sa.Column("volunteer_places", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["center_id"],
            ["centers.id"],
            name=op.f("fk_activity_series_center_id_centers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_series")),
        sa.UniqueConstraint("external_id", name=op.f("uq_activity_series_external_id")),
    )
    op.create_table(
        "volunteer_profiles",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=True),
        sa.Column("skills", sa.String(length=300), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_volunteer_profiles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_volunteer_profiles")),
    )
    op.create_table(
        "activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("place_note", sa.String(length=200), nullable=True),
        sa.Column("accepts_participants", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("max_companions", sa.Integer(), server_default="0", nullable=False),
        sa.Column("seats_taken", sa.Integer(), server_default="0", nullable=False),
        sa.Column("volunteer_role", sa.String(length=100), nullable=True),
        sa.Column("volunteer_places", sa.Integer(), server_default="0", nullable=False),
        sa.Column("volunteers_taken", sa.Integer(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=12), server_default="scheduled", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "capacity IS NULL OR seats_taken <= capacity",
            name="ck_activities_seats_within_capacity",
        ),
        sa.CheckConstraint("ends_at > starts_at", name="ck_activities_ends_after_start"),
        sa.CheckConstraint(
            "seats_taken >= 0 AND volunteers_taken >= 0", name="ck_activities_taken"
        ),
        sa.CheckConstraint(
            "volunteers_taken <= volunteer_places", name="ck_activities_volunteers_within_places"
        ),
        sa.ForeignKeyConstraint(
            ["center_id"],
            ["centers.id"],
            name=op.f("fk_activities_center_id_centers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["activity_series.id"],
            name=op.f("fk_activities_series_id_activity_series"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
        sa.UniqueConstraint("external_id", name=op.f("uq_activities_external_id")),
        sa.UniqueConstraint("series_id", "starts_at", name="uq_activities_series_id_starts_at"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activities_center_id_starts_at", ["center_id", "starts_at"], unique=False
        )
        batch_op.create_index("ix_activities_starts_at", ["starts_at"], unique=False)

    op.create_table(
        "signups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("party_size", sa.Integer(), server_default="1", nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("offer_expires_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("party_size >= 1", name="ck_signups_party_size"),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_signups_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_signups_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signups")),
        sa.UniqueConstraint("activity_id", "user_id", name="uq_signups_activity_id_user_id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("signups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_signups_activity_id_status", ["activity_id", "status"], unique=False
        )
        batch_op.create_index("ix_signups_user_id_status", ["user_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signups", schema=None) as batch_op:
        batch_op.drop_index("ix_signups_user_id_status")
        batch_op.drop_index("ix_signups_activity_id_status")

    op.drop_table("signups")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_starts_at")
        batch_op.drop_index("ix_activities_center_id_starts_at")

    op.drop_table("activities")
    op.drop_table("volunteer_profiles")
    op.drop_table("activity_series")
