"""Deployments are registered by the gateway that serves them (policy, model, last start); a
client key's name is unique among active keys only, so a revoked name can be reused; an
approval keeps an excerpt of what it is about.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ACTIVE = sa.text("revoked_at IS NULL")


def _client_keys(unique_name: bool) -> sa.Table:
    return sa.Table(
        "client_keys",
        sa.MetaData(),
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=unique_name),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("deployment", sa.String(128), nullable=True),
        sa.Column("rate", sa.Float, nullable=True),
        sa.Column("burst", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("policy_digest", sa.String(80), nullable=True))
        batch.add_column(sa.Column("model", sa.String(256), nullable=True))
        batch.add_column(sa.Column("served_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("content", sa.Text, nullable=True))
    if op.get_context().dialect.name == "sqlite":
        # SQLite cannot drop a constraint: the table is rebuilt without it.
        with op.batch_alter_table(
            "client_keys", copy_from=_client_keys(unique_name=False), recreate="always"
        ):
            pass
    else:
        op.drop_constraint("client_keys_name_key", "client_keys", type_="unique")
    op.create_index(
        "ix_client_keys_active_name",
        "client_keys",
        ["name"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_client_keys_active_name", "client_keys")
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("content")
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("served_at")
        batch.drop_column("model")
        batch.drop_column("policy_digest")
