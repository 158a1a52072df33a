"""Gateway access state shared by every replica: client keys (stored hashed), approvals that
wait for a human, and whether a deployment is halted."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, insert, select, text, update

from swisscheese.store._engine import Database, StoreError
from swisscheese.store._notify import CHANNEL
from swisscheese.store._schema import approvals, client_keys, deployments

KEY_PREFIX = "sc-"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ClientKey:
    id: str
    name: str
    deployment: str | None
    rate: float | None
    burst: int | None
    created_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Deployment:
    """A deployment some gateway has served: its halt state and what it last ran."""

    name: str
    halted: bool
    reason: str
    changed_at: dt.datetime
    policy_digest: str | None
    model: str | None
    served_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Approval:
    id: str
    deployment: str
    stage: str
    verdict: str
    summary: str
    status: str  # pending | approved | denied
    decided_by: str | None
    content: str = ""
    created_at: dt.datetime | None = None


class AccessStore:
    def __init__(self, db: Database | str | None = None) -> None:
        self.db = db if isinstance(db, Database) else Database(db)

    def close(self) -> None:
        self.db.close()

    # -- client keys --------------------------------------------------------------------------

    def create_key(
        self,
        name: str,
        *,
        deployment: str | None = None,
        rate: float | None = None,
        burst: int | None = None,
    ) -> tuple[ClientKey, str]:
        """A new key: the record, and the secret (shown once, stored only as its hash)."""
        key_id = secrets.token_hex(6)
        secret = f"{KEY_PREFIX}{key_id}.{secrets.token_urlsafe(24)}"
        with self.db.writer.begin() as conn:
            if conn.execute(select(client_keys.c.id).where(_active(name))).first():
                raise StoreError(f"an active client key named {name!r} exists")
            key = self._insert_key(conn, key_id, name, secret, deployment, rate, burst)
        return key, secret

    @staticmethod
    def _insert_key(
        conn: Connection,
        key_id: str,
        name: str,
        secret: str,
        deployment: str | None,
        rate: float | None,
        burst: int | None,
    ) -> ClientKey:
        created = _now()
        conn.execute(
            insert(client_keys).values(
                id=key_id,
                name=name,
                key_hash=_hash(secret),
                deployment=deployment,
                rate=rate,
                burst=burst,
                created_at=created,
            )
        )
        return ClientKey(key_id, name, deployment, rate, burst, created)

    def rotate_key(self, name: str) -> tuple[ClientKey, ClientKey, str] | None:
        """Replace the active key ``name`` with a new secret and the same limits, in one
        transaction: (old, new, new secret), or None if there is no such active key."""
        key_id = secrets.token_hex(6)
        secret = f"{KEY_PREFIX}{key_id}.{secrets.token_urlsafe(24)}"
        with self.db.writer.begin() as conn:
            row = conn.execute(select(client_keys).where(_active(name))).first()
            if row is None:
                return None
            old = _client_key(row)
            conn.execute(update(client_keys).where(_active(name)).values(revoked_at=_now()))
            new = self._insert_key(conn, key_id, name, secret, old.deployment, old.rate, old.burst)
        return old, new, secret

    def client_keys(self, *, include_revoked: bool = False) -> list[ClientKey]:
        query = select(client_keys).order_by(client_keys.c.name, client_keys.c.created_at)
        if not include_revoked:
            query = query.where(client_keys.c.revoked_at.is_(None))
        with self.db.reader.connect() as conn:
            return [_client_key(row) for row in conn.execute(query)]

    def authenticate(self, secret: str) -> ClientKey | None:
        if not secret.startswith(KEY_PREFIX) or "." not in secret:
            return None
        key_id = secret[len(KEY_PREFIX) :].split(".", 1)[0]
        with self.db.reader.connect() as conn:
            row = conn.execute(
                select(client_keys).where(
                    client_keys.c.id == key_id, client_keys.c.revoked_at.is_(None)
                )
            ).first()
        if row is None or not hmac.compare_digest(row.key_hash, _hash(secret)):
            return None
        return _client_key(row)

    def revoke_key(self, name: str) -> bool:
        with self.db.writer.begin() as conn:
            result = conn.execute(
                update(client_keys).where(_active(name)).values(revoked_at=_now())
            )
        return bool(result.rowcount)

    # -- approvals ----------------------------------------------------------------------------

    def request_approval(
        self, deployment: str, stage: str, verdict: str, summary: str, content: str = ""
    ) -> str:
        approval_id = secrets.token_hex(8)
        with self.db.writer.begin() as conn:
            conn.execute(
                insert(approvals).values(
                    id=approval_id,
                    deployment=deployment,
                    stage=stage,
                    verdict=verdict,
                    summary=summary,
                    content=content,
                    status="pending",
                    created_at=_now(),
                )
            )
        return approval_id

    def approval(self, approval_id: str) -> Approval | None:
        with self.db.reader.connect() as conn:
            row = conn.execute(select(approvals).where(approvals.c.id == approval_id)).first()
        return None if row is None else _approval(row)

    def pending(self, deployment: str | None = None) -> list[Approval]:
        query = select(approvals).where(approvals.c.status == "pending")
        if deployment:
            query = query.where(approvals.c.deployment == deployment)
        with self.db.reader.connect() as conn:
            rows = conn.execute(query.order_by(approvals.c.created_at)).all()
        return [_approval(r) for r in rows]

    def decide(self, approval_id: str, approved: bool, by: str) -> bool:
        """Approve or deny a pending request; False if there is no such pending request."""
        with self.db.writer.begin() as conn:
            result = conn.execute(
                update(approvals)
                .where(approvals.c.id == approval_id, approvals.c.status == "pending")
                .values(
                    status="approved" if approved else "denied", decided_at=_now(), decided_by=by
                )
            )
        return bool(result.rowcount)

    # -- deployments --------------------------------------------------------------------------

    def register_deployment(self, name: str, policy_digest: str, model: str) -> None:
        """A gateway starts serving ``name``: note what it runs, keep its halt state."""
        now = _now()
        served = {"policy_digest": policy_digest, "model": model, "served_at": now}
        with self.db.writer.begin() as conn:
            exists = conn.execute(
                select(deployments.c.name).where(deployments.c.name == name)
            ).first()
            if exists:
                conn.execute(update(deployments).where(deployments.c.name == name).values(**served))
            else:
                conn.execute(
                    insert(deployments).values(
                        name=name, halted=False, reason="", changed_at=now, **served
                    )
                )

    def deployment(self, name: str) -> Deployment | None:
        with self.db.reader.connect() as conn:
            row = conn.execute(select(deployments).where(deployments.c.name == name)).first()
        return None if row is None else Deployment(**row._mapping)

    def deployments(self) -> list[Deployment]:
        with self.db.reader.connect() as conn:
            rows = conn.execute(select(deployments).order_by(deployments.c.name)).all()
        return [Deployment(**row._mapping) for row in rows]

    # -- halt ---------------------------------------------------------------------------------

    def halted(self, deployment: str) -> str | None:
        """The reason the deployment is halted, or None."""
        with self.db.reader.connect() as conn:
            row = conn.execute(
                select(deployments.c.halted, deployments.c.reason).where(
                    deployments.c.name == deployment
                )
            ).first()
        return row.reason if row is not None and row.halted else None

    def set_halted(self, deployment: str, halted: bool, reason: str) -> None:
        with self.db.writer.begin() as conn:
            exists = conn.execute(
                select(deployments.c.name).where(deployments.c.name == deployment)
            ).first()
            values = {"halted": halted, "reason": reason, "changed_at": _now()}
            if exists:
                conn.execute(
                    update(deployments).where(deployments.c.name == deployment).values(**values)
                )
            else:
                conn.execute(insert(deployments).values(name=deployment, **values))
            if self.db.dialect == "postgresql":  # delivered to every listener on commit
                conn.execute(
                    text("SELECT pg_notify(:channel, :deployment)"),
                    {"channel": CHANNEL, "deployment": deployment},
                )


def _active(name: str) -> ColumnElement[bool]:
    return (client_keys.c.name == name) & client_keys.c.revoked_at.is_(None)


def _client_key(row: Any) -> ClientKey:
    return ClientKey(
        row.id, row.name, row.deployment, row.rate, row.burst, row.created_at, row.revoked_at
    )


def _approval(row: Any) -> Approval:
    return Approval(
        row.id,
        row.deployment,
        row.stage,
        row.verdict,
        row.summary,
        row.status,
        row.decided_by,
        row.content or "",
        row.created_at,
    )
