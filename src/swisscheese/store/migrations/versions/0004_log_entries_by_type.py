"""Entries by type: the few events that governance reads (evaluations, policies, decisions) are
found by index, not by scanning a log of millions of verdicts.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_log_entries_type_idx", "log_entries", ["type", "idx"])


def downgrade() -> None:
    op.drop_index("ix_log_entries_type_idx", table_name="log_entries")
