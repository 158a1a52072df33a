"""Hourly verdict counts per deployment, stage and action, kept by every append: production
rates for governance without scanning the log. Counts start from this migration on (verdicts
recorded before it are not counted).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verdict_counts",
        sa.Column("deployment", sa.String(128), primary_key=True),
        sa.Column("hour", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("stage", sa.String(32), primary_key=True),
        sa.Column("action", sa.String(16), primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("verdict_counts")
