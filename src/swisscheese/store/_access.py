"""Gateway access state shared by every replica: client keys (stored hashed), approvals that
wait for a human, and whether a deployment is halted."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import insert, select, update

from swisscheese.store._engine import Database, StoreError
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


@dataclass(frozen=True, slots=True)
class Approval:
    id: str
    deployment: str
    stage: str
    verdict: str
    summary: str
    status: str  # pending | approved | denied
    decided_by: str | None


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
            if conn.execute(select(client_keys.c.id).where(client_keys.c.name == name)).first():
                raise StoreError(f"a client key named {name!r} exists")
            conn.execute(
                insert(client_keys).values(
                    id=key_id,
                    name=name,
                    key_hash=_hash(secret),
                    deployment=deployment,
                    rate=rate,
                    burst=burst,
                    created_at=_now(),
                )
            )
        return ClientKey(key_id, name, deployment, rate, burst), secret

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
        return ClientKey(row.id, row.name, row.deployment, row.rate, row.burst)

    def revoke_key(self, name: str) -> bool:
        with self.db.writer.begin() as conn:
            result = conn.execute(
                update(client_keys)
                .where(client_keys.c.name == name, client_keys.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            )
        return bool(result.rowcount)

    # -- approvals ----------------------------------------------------------------------------

    def request_approval(self, deployment: str, stage: str, verdict: str, summary: str) -> str:
        approval_id = secrets.token_hex(8)
        with self.db.writer.begin() as conn:
            conn.execute(
                insert(approvals).values(
                    id=approval_id,
                    deployment=deployment,
                    stage=stage,
                    verdict=verdict,
                    summary=summary,
                    status="pending",
                    created_at=_now(),
                )
            )
        return approval_id

    def approval(self, approval_id: str) -> Approval | None:
        with self.db.reader.connect() as conn:
            row = conn.execute(select(approvals).where(approvals.c.id == approval_id)).first()
        if row is None:
            return None
        return Approval(
            row.id, row.deployment, row.stage, row.verdict, row.summary, row.status, row.decided_by
        )

    def pending(self, deployment: str | None = None) -> list[Approval]:
        query = select(approvals).where(approvals.c.status == "pending")
        if deployment:
            query = query.where(approvals.c.deployment == deployment)
        with self.db.reader.connect() as conn:
            rows = conn.execute(query.order_by(approvals.c.created_at)).all()
        return [
            Approval(r.id, r.deployment, r.stage, r.verdict, r.summary, r.status, r.decided_by)
            for r in rows
        ]

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
