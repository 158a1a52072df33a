"""Flight recorder: log entries, subtree nodes, head, payloads, checkpoints.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_entries",
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("event", sa.LargeBinary, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("payload_digest", sa.String(80), nullable=True),
    )
    op.create_index("ix_log_entries_payload_digest", "log_entries", ["payload_digest"])
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "log_head",
        sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO log_head (id, size) VALUES (1, 0)")
    op.create_table(
        "payloads",
        sa.Column("digest", sa.String(80), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "checkpoints",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("checkpoints", "payloads", "log_head", "log_nodes", "log_entries"):
        op.drop_table(table)
