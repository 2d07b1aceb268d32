"""Writing the audit log. Callers pass what happened; this decides what is kept (never a
secret's value) and writes it in the caller's transaction."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.repository import AuditRepository
from app.models import AuditEvent, User

# What is audited. A new kind of action is added here first, so the list stays one place.
ACTIONS = frozenset(
    {
        "sign_in",
        "sign_in_failed",
        "sign_out",
        "token_refreshed",
        "tokens_revoked",
        "user_created",
        "user_changed",
        "password_set",
        "password_changed",
        "settings_changed",
        "recording_listen",
        "recording_download",
        "history_export",
        "calls_export",
        "customers_import",
        "customer_deleted",
        "supervision_spy",
        "supervision_spy_stop",
        "supervision_pause",
        "supervision_unpause",
        "supervision_queue_login",
        "supervision_queue_logout",
    }
)

# Keys whose values are never written, whatever the caller passes (defence in depth).
_SECRET_WORDS = ("password", "secret", "token", "database_url", "api_key")


def _scrub(details: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in details.items():
        if any(word in key.lower() for word in _SECRET_WORDS):
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        elif not isinstance(value, str | int | float | bool | list | dict | None):
            value = str(value)
        out[key] = value
    return out


def _plain(value: Any) -> Any:
    """A setting's value with its secrets revealed, for hashing only."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return {k: _plain(getattr(value, k)) for k in type(value).model_fields}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def setting_digests(settings: BaseModel, key: bytes) -> dict[str, str]:
    """Each setting's keyed digest (HMAC-SHA256 under the secret key): equal values give
    equal digests, and nothing about a value can be read from it without the key."""
    out: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = json.dumps(_plain(getattr(settings, name)), sort_keys=True, default=str)
        out[name] = hmac.new(key, f"{name}={value}".encode(), hashlib.sha256).hexdigest()
    return out


class AuditService:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = AuditRepository(session)

    async def record(
        self,
        action: str,
        actor: User | None,
        *,
        address: str = "",
        target: str = "",
        actor_name: str | None = None,
        **details: Any,
    ) -> None:
        """Write one event (flushed, committed with the caller's transaction).
        ``actor_name`` names an actor that is not a user (a failed sign-in's username, the
        command line)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        await self.repo.add(
            AuditEvent(
                actor_user_id=actor.id if actor is not None else None,
                actor_name=(actor.username if actor is not None else actor_name or "")[:64],
                address=address[:64],
                action=action,
                target=target[:200],
                details=_scrub(details),
            )
        )

    async def settings_changed(
        self,
        actor: User | None,
        keys: Iterable[str],
        *,
        address: str = "",
        actor_name: str | None = None,
    ) -> None:
        """Which settings were changed: their names only, never their values."""
        await self.record(
            "settings_changed", actor, address=address, actor_name=actor_name, keys=sorted(keys)
        )

    async def settings_at_start(self, digests: dict[str, str]) -> list[str]:
        """Compare the settings this instance started with to the last stored ones; audit
        the keys that differ (added, changed, removed) as a change made by the start-up.
        The first start stores them only. The keys changed."""
        before = await self.repo.setting_digests()
        changed = sorted(
            {k for k in digests if before.get(k) != digests[k]} | (set(before) - set(digests))
        )
        if before and changed:
            await self.settings_changed(None, changed, actor_name="start-up")
        if changed:
            await self.repo.store_setting_digests(
                {k: digests[k] for k in changed if k in digests},
                [k for k in changed if k not in digests],
            )
        return changed if before else []

    async def page(self, *, limit: int, **filters: Any) -> Sequence[AuditEvent]:
        return await self.repo.page(limit=limit, **filters)

    async def purge(self, retention_days: int, now: datetime | None = None) -> int:
        """Delete events older than the retention (0: keep everything)."""
        if retention_days <= 0:
            return 0
        cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
        return await self.repo.delete_before(cutoff)
