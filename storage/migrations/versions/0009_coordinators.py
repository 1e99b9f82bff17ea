"""Coordinators and admins: roles, invites, the audit log, guests at the desk, roll call,
broadcasts and residents' ideas.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from storage.schema import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_STATES = "'pending', 'sending', 'sent', 'failed', 'unknown'"


def upgrade() -> None:
    op.create_table(
        "coordinators",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.Column("appointed_by", sa.BigInteger(), nullable=False),
        sa.Column("appointed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_coordinators_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["center_id"],
            ["centers.id"],
            name="fk_coordinators_center_id_centers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "center_id", name="pk_coordinators"),
    )
    op.create_index("ix_coordinators_center_id", "coordinators", ["center_id"])
    op.create_table(
        "invites",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("replaces", sa.BigInteger()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_by", sa.BigInteger()),
        sa.Column("used_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("token", name="pk_invites"),
    )
    op.create_table(
        "invite_centers",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["token"], ["invites.token"], name="fk_invite_centers_token_invites", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["center_id"],
            ["centers.id"],
            name="fk_invite_centers_center_id_centers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token", "center_id", name="pk_invite_centers"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("center_id", sa.Integer()),
        sa.Column("details", sa.Text()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_center_id", "audit_log", ["center_id"])
    op.create_table(
        "guest_signups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("party_size", sa.Integer(), server_default="1", nullable=False),
        sa.Column("attended", sa.Boolean()),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("party_size >= 1", name="ck_guest_signups_party_size"),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name="fk_guest_signups_activity_id_activities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_guest_signups"),
    )
    op.create_index("ix_guest_signups_activity_id", "guest_signups", ["activity_id"])
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("photo", sa.String(length=256)),
        sa.Column("audience", sa.String(length=12), nullable=False),
        sa.Column("activity_id", sa.Integer()),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("send_at", UTCDateTime(), nullable=False),
        sa.Column("recipients", sa.Integer()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("report_chat_id", sa.BigInteger()),
        sa.Column("report_message_id", sa.BigInteger()),
        sa.ForeignKeyConstraint(
            ["center_id"],
            ["centers.id"],
            name="fk_broadcasts_center_id_centers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name="fk_broadcasts_activity_id_activities",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_broadcasts"),
    )
    op.create_index("ix_broadcasts_state_send_at", "broadcasts", ["state", "send_at"])
    op.create_table(
        "ideas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("center_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("can_help", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="new", nullable=False),
        sa.Column("reply", sa.String(length=2000)),
        sa.Column("activity_id", sa.Integer()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["center_id"], ["centers.id"], name="fk_ideas_center_id_centers", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_ideas_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name="fk_ideas_activity_id_activities",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_ideas"),
    )
    op.create_index("ix_ideas_center_id_status", "ideas", ["center_id", "status"])
    with op.batch_alter_table("signups") as batch:
        batch.add_column(sa.Column("attended", sa.Boolean()))
        batch.add_column(sa.Column("waitlisted_at", UTCDateTime()))
    # SQLite cannot alter a CHECK constraint: batch mode rebuilds the table for it.
    with op.batch_alter_table("deliveries", recreate="always") as batch:
        batch.alter_column("state", type_=sa.String(length=12), existing_type=sa.String(length=8))
        batch.add_column(sa.Column("photo", sa.String(length=256)))
        batch.add_column(sa.Column("broadcast_id", sa.Integer()))
        batch.create_foreign_key(
            "fk_deliveries_broadcast_id_broadcasts",
            "broadcasts",
            ["broadcast_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.drop_constraint("ck_deliveries_state", type_="check")
        batch.create_check_constraint("ck_deliveries_state", f"state IN ({_STATES}, 'cancelled')")
        batch.create_index("ix_deliveries_broadcast_id_state", ["broadcast_id", "state"])


def downgrade() -> None:
    with op.batch_alter_table("deliveries", recreate="always") as batch:
        batch.drop_index("ix_deliveries_broadcast_id_state")
        batch.drop_constraint("ck_deliveries_state", type_="check")
        batch.create_check_constraint("ck_deliveries_state", f"state IN ({_STATES})")
        batch.drop_constraint("fk_deliveries_broadcast_id_broadcasts", type_="foreignkey")
        batch.drop_column("broadcast_id")
        batch.drop_column("photo")
        batch.alter_column("state", type_=sa.String(length=8), existing_type=sa.String(length=12))
    with op.batch_alter_table("signups") as batch:
        batch.drop_column("waitlisted_at")
        batch.drop_column("attended")
    for table in (
        "ideas",
        "broadcasts",
        "guest_signups",
        "audit_log",
        "invite_centers",
        "invites",
        "coordinators",
    ):
        op.drop_table(table)
