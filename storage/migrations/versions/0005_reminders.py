"""Reminder preferences and "I'm coming" answers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from storage.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("reminders", sa.String(length=32), nullable=True))
    with op.batch_alter_table("signups") as batch:
        batch.add_column(sa.Column("coming_confirmed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("signups") as batch:
        batch.drop_column("coming_confirmed_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("reminders")
