"""Every ``SWISSCHEESE_*`` environment variable, in one class (the README lists them).

Read where a process starts (``Settings()``), never on a request's path; command-line options
override them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SWISSCHEESE_", extra="ignore")

    db: str | None = None
    """The store: a SQLite path or a PostgreSQL URL (default .swisscheese/swisscheese.db)."""
    policy: Path | None = None
    """The policy file (default: the embedded default policy)."""
    upstream: str | None = None
    """The gateway's model: an OpenAI-compatible base URL, or local:PATH (default: embedded)."""
    upstream_api_key: SecretStr | None = None
    """Sent to the upstream as a bearer token."""
    rate: float | None = Field(default=None, gt=0)
    """Default requests per second per client key."""
    no_auth: bool = False
    """Serve without client keys (loopback addresses only)."""
    durability: Literal["request", "stage"] = "request"
    """When the gateway writes a request's log entries: together before the answer (one
    fsync), or each stage's as soon as it is screened (two)."""
    public_metrics: bool = False
    """Serve /metrics and /openapi.json without a client key."""
    agent_root: str | None = None
    """Public key (hex) of the root that issues agent tokens; the gateway and MCP proxy then
    accept them."""
    require_agent: bool = False
    """Refuse requests and calls that do not act for an agent run with a valid token."""
    console: bool = False
    """Serve the operator console at /console from the gateway process (``serve --console``)."""
    console_case: Path | None = None
    """The safety case the console shows (default: the reference case)."""
    console_regimes: Path | None = None
    """Reporting regimes for the console's incident deadlines (default: the reference)."""
    console_secure_cookies: bool | None = None
    """Mark console cookies Secure (default: when the request came over TLS)."""
    log_key: Path | None = None
    """The key that signs checkpoints (default .swisscheese/log.key)."""
    record_content: Literal["redacted", "clear"] = "redacted"
    """What verdict payloads keep of screened text: redacted (secrets, personal data and the
    canary replaced) or clear (as it arrived)."""
    payload_key: Path | None = None
    """Seal the original of redacted text under this key (default .swisscheese/payload.key
    when it exists); destroying the key erases every sealed original."""
    log_origin: str = "swisscheese.local/log"
    """The log's origin line in its checkpoints."""
    load_plugins: str | None = None
    """Comma-separated distributions whose monitor plugins load (default: all installed)."""
    eval_api_key: SecretStr | None = None
    """Bearer token for `eval --target URL`."""
    canary_secret: SecretStr | None = None
    """Derive the canary token from this secret, so every replica agrees on it."""
    cache_dir: Path | None = None
    """Where learned tiers keep what is slow to make: the embedding tier's ONNX export, the local
    model converted from its GGUF file, training's encoder and probe vectors of its texts
    (default ~/.cache/swisscheese)."""
    test_postgres: str | None = None
    """Tests only: the PostgreSQL server the store tests run against."""

    def worker_environment(self) -> dict[str, str]:
        """These settings as environment variables, for worker processes to read back."""
        out: dict[str, str] = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            text = ("1" if value else "0") if isinstance(value, bool) else str(value)
            out[f"SWISSCHEESE_{name.upper()}"] = text
        return out
