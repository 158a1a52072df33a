"""Tables of the store. Portable types only; the log is append-only."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

metadata = MetaData()

# One row per leaf: the canonical event (what the leaf hash is computed from) and the hash.
log_entries = Table(
    "log_entries",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("event", LargeBinary, nullable=False),
    Column("type", String(64), nullable=False),
    Column("payload_digest", String(80), nullable=True, index=True),
)
# The few events governance reads (evaluations, policies, decisions), found without a scan.
Index("ix_log_entries_type_idx", log_entries.c.type, log_entries.c.idx)

# Hashes of complete subtrees above the leaves: level >= 1, index within the level.
log_nodes = Table(
    "log_nodes",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

# The tree size; its row is the lock that gives every writer one global order.
log_head = Table(
    "log_head",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
)

# Payloads apart from the leaves, so they can be erased without breaking the log.
payloads = Table(
    "payloads",
    metadata,
    Column("digest", String(80), primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

# Verdicts per deployment, hour, stage and action, kept in the append's transaction: production
# rates over any window are an indexed sum, not a scan of the log.
verdict_counts = Table(
    "verdict_counts",
    metadata,
    Column("deployment", String(128), primary_key=True),
    Column("hour", BigInteger, primary_key=True, autoincrement=False),
    Column("stage", String(32), primary_key=True),
    Column("action", String(16), primary_key=True),
    Column("n", BigInteger, nullable=False),
)

# Every verdict's listing, kept in the append's transaction: the console's traffic page reads
# pages of it by key (newest first, by deployment, stage, action, time or monitor).
verdict_index = Table(
    "verdict_index",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("deployment", String(128), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("stage", String(32), nullable=False),
    Column("action", String(16), nullable=False),
    Column("found", Text, nullable=False),
)
Index("ix_verdict_index_deployment", verdict_index.c.deployment, verdict_index.c.idx)
Index("ix_verdict_index_stage", verdict_index.c.stage, verdict_index.c.idx)
Index("ix_verdict_index_action", verdict_index.c.action, verdict_index.c.idx)
Index("ix_verdict_index_at", verdict_index.c.at)

verdict_monitors = Table(
    "verdict_monitors",
    metadata,
    Column("monitor", String(64), primary_key=True),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("note", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Gateway access: client keys (hashed), approvals awaiting a human, deployment halt state.
client_keys = Table(
    "client_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("deployment", String(128), nullable=True),
    Column("rate", Float, nullable=True),
    Column("burst", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)
# One active key per name; a revoked key's name may be given again.
Index(
    "ix_client_keys_active_name",
    client_keys.c.name,
    unique=True,
    sqlite_where=client_keys.c.revoked_at.is_(None),
    postgresql_where=client_keys.c.revoked_at.is_(None),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("deployment", String(128), nullable=False),
    Column("stage", String(32), nullable=False),
    Column("verdict", String(64), nullable=False),
    Column("summary", Text, nullable=False),
    Column("content", Text, nullable=True),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("decided_by", String(128), nullable=True),
)

deployments = Table(
    "deployments",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("halted", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("policy_digest", String(80), nullable=True),
    Column("model", String(256), nullable=True),
    Column("served_at", DateTime(timezone=True), nullable=True),
)

# Console users: a memory-hard password hash, a role, and the failures that lock them out.
console_users = Table(
    "console_users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password", String(256), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True), nullable=True),
)

# Console sessions by the SHA-256 of their cookie: the cookie alone cannot be forged from a
# stolen database, and a session ends on sign-out, expiry or its user's removal.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user", String(64), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
