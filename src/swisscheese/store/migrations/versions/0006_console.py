"""The operator console: the traffic index (every verdict's deployment, time, stage, action and
monitors with findings, paged by key), console users and sessions. Verdicts recorded before this
migration are indexed from their events here.

Revision ID: 0006
Revises: 0005
"""

import json

import sqlalchemy as sa
from alembic import op

from swisscheese.store._log import Listing

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CHUNK = 10_000


def upgrade() -> None:
    op.create_table(
        "verdict_index",
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("deployment", sa.String(128), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("found", sa.Text, nullable=False),
    )
    op.create_index("ix_verdict_index_deployment", "verdict_index", ["deployment", "idx"])
    op.create_index("ix_verdict_index_stage", "verdict_index", ["stage", "idx"])
    op.create_index("ix_verdict_index_action", "verdict_index", ["action", "idx"])
    op.create_index("ix_verdict_index_at", "verdict_index", ["at"])
    op.create_table(
        "verdict_monitors",
        sa.Column("monitor", sa.String(64), primary_key=True),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    )
    op.create_table(
        "console_users",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password", sa.String(256), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_sessions_user", "console_sessions", ["user"])
    _index_recorded_verdicts()


def _index_recorded_verdicts() -> None:
    conn = op.get_bind()
    index = sa.table(
        "verdict_index",
        *(sa.column(c) for c in ("idx", "deployment", "at", "stage", "action", "found")),
    )
    found_by = sa.table("verdict_monitors", sa.column("monitor"), sa.column("idx"))
    last = -1
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT idx, event FROM log_entries WHERE type = 'verdict' AND idx > :last "
                "ORDER BY idx LIMIT :n"
            ),
            {"last": last, "n": CHUNK},
        ).all()
        if not rows:
            return
        listed, monitors = [], []
        for idx, raw in rows:
            entry = Listing.of(json.loads(bytes(raw)))
            if entry is None:
                continue
            listed.append(
                {
                    "idx": idx,
                    "deployment": entry.deployment,
                    "at": entry.at,
                    "stage": entry.stage,
                    "action": entry.action,
                    "found": " ".join(entry.found),
                }
            )
            monitors += [{"monitor": m, "idx": idx} for m in entry.found]
        if listed:
            conn.execute(index.insert(), listed)
        if monitors:
            conn.execute(found_by.insert(), monitors)
        last = rows[-1][0]


def downgrade() -> None:
    for table in ("console_sessions", "console_users", "verdict_monitors", "verdict_index"):
        op.drop_table(table)
