"""All SQL of the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEvent, SettingDigest


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, event: AuditEvent) -> None:
        self.session.add(event)
        await self.session.flush()

    async def page(
        self,
        *,
        limit: int,
        before_id: int | None = None,
        action: str | None = None,
        actor_user_id: int | None = None,
        actor_name: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Sequence[AuditEvent]:
        """Newest first; ``before_id`` is the keyset cursor (ids only grow)."""
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(AuditEvent.id < before_id)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        if actor_user_id is not None:
            query = query.where(AuditEvent.actor_user_id == actor_user_id)
        if actor_name is not None:
            query = query.where(AuditEvent.actor_name == actor_name)
        if since is not None:
            query = query.where(AuditEvent.at >= since)
        if until is not None:
            query = query.where(AuditEvent.at < until)
        return (await self.session.scalars(query)).all()

    async def delete_before(self, cutoff: datetime) -> int:
        result = await self.session.execute(delete(AuditEvent).where(AuditEvent.at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)

    async def setting_digests(self) -> dict[str, str]:
        """The settings' digests as the last instance started stored them; this
        transaction holds a lock until it ends, so that instances starting together compare
        one after the other."""
        await self.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('tamas:settings'))"))
        rows = await self.session.execute(select(SettingDigest.key, SettingDigest.digest))
        return {key: digest for key, digest in rows}

    async def store_setting_digests(self, digests: dict[str, str], gone: Sequence[str]) -> None:
        if gone:
            await self.session.execute(delete(SettingDigest).where(SettingDigest.key.in_(gone)))
        if digests:
            stmt = insert(SettingDigest).values(
                [{"key": k, "digest": d} for k, d in digests.items()]
            )
            await self.session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["key"],
                    set_={"digest": stmt.excluded.digest, "changed_at": func.now()},
                )
            )
