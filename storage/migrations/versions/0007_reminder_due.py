"""When the reminder job next has work for a sign-up.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from storage.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("signups") as batch:
        batch.add_column(sa.Column("reminder_due_at", UTCDateTime(), nullable=True))
    op.create_index("ix_signups_status_reminder_due_at", "signups", ["status", "reminder_due_at"])


def downgrade() -> None:
    op.drop_index("ix_signups_status_reminder_due_at", "signups")
    with op.batch_alter_table("signups") as batch:
        batch.drop_column("reminder_due_at")
