from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.models import AuthToken, LoginThrottle, User, UserDevice


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: int) -> User | None:
        stmt = select(User).where(User.id == user_id).options(selectinload(User.devices))
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get_by_username(self, username: str) -> User | None:
        stmt = select(User).where(User.username == username).options(selectinload(User.devices))
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def list(self, *, include_inactive: bool = True) -> Sequence[User]:
        stmt = select(User).options(selectinload(User.devices)).order_by(User.username)
        if not include_inactive:
            stmt = stmt.where(User.is_active.is_(True))
        return (await self.session.execute(stmt)).scalars().all()

    async def all_devices(self) -> Sequence[str]:
        """Every user's device (a deactivated user's phone is still one of the PBX's)."""
        stmt = select(UserDevice.device).order_by(UserDevice.device)
        return (await self.session.execute(stmt)).scalars().all()

    async def device_owners(self, devices: Sequence[str]) -> dict[str, int]:
        stmt = select(UserDevice.device, UserDevice.user_id).where(UserDevice.device.in_(devices))
        return {d: u for d, u in (await self.session.execute(stmt)).all()}

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user

    async def set_devices(self, user: User, devices: Sequence[str]) -> None:
        await self.session.execute(delete(UserDevice).where(UserDevice.user_id == user.id))
        self.session.add_all(UserDevice(user_id=user.id, device=d) for d in devices)
        await self.session.flush()
        self.session.expire(user, ["devices"])

    async def reload(self, user: User) -> User:
        await self.session.refresh(user, ["devices"])
        return user

    async def count_admins(self) -> int:
        stmt = select(func.count()).where(User.role == "admin", User.is_active.is_(True))
        return int((await self.session.execute(stmt)).scalar_one())


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: AuthToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def active_user(self, token_hash: str, now: datetime) -> tuple[AuthToken, User] | None:
        stmt = (
            select(AuthToken, User)
            .join(User, User.id == AuthToken.user_id)
            .where(
                AuthToken.token_hash == token_hash,
                AuthToken.revoked_at.is_(None),
                AuthToken.expires_at > now,
                User.is_active.is_(True),
            )
            .options(selectinload(User.devices))
        )
        row = (await self.session.execute(stmt)).first()
        return None if row is None else (row[0], row[1])

    async def live_digests(self, token_hashes: Collection[str], now: datetime) -> set[str]:
        """Those of ``token_hashes`` that are neither revoked nor expired and whose user is
        still active."""
        stmt = (
            select(AuthToken.token_hash)
            .join(User, User.id == AuthToken.user_id)
            .where(
                AuthToken.token_hash.in_(list(token_hashes)),
                AuthToken.revoked_at.is_(None),
                AuthToken.expires_at > now,
                User.is_active.is_(True),
            )
        )
        return set((await self.session.execute(stmt)).scalars())

    async def touch_many(
        self, token_hashes: Collection[str], now: datetime, every: timedelta
    ) -> None:
        """Mark tokens used at ``now``, unless that was already done within ``every``."""
        await self.session.execute(
            update(AuthToken)
            .where(
                AuthToken.token_hash.in_(list(token_hashes)),
                or_(AuthToken.last_used_at.is_(None), AuthToken.last_used_at < now - every),
            )
            .values(last_used_at=now)
        )

    async def touch(self, token_id: int, now: datetime) -> None:
        await self.session.execute(
            update(AuthToken).where(AuthToken.id == token_id).values(last_used_at=now)
        )

    async def revoke(self, token_id: int, now: datetime) -> bool:
        """False when it was already revoked (by a concurrent request, for one)."""
        result = await self.session.execute(
            update(AuthToken)
            .where(AuthToken.id == token_id, AuthToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    async def revoke_all(self, user_id: int, now: datetime) -> int:
        result = await self.session.execute(
            update(AuthToken)
            .where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def delete_expired(self, before: datetime) -> None:
        await self.session.execute(delete(AuthToken).where(AuthToken.expires_at < before))


class ThrottleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_many(self, keys: Sequence[str]) -> Sequence[LoginThrottle]:
        stmt = select(LoginThrottle).where(LoginThrottle.key.in_(keys))
        return (await self.session.execute(stmt)).scalars().all()

    async def record_failure(self, key: str, now: datetime) -> int:
        """Count one more failure for ``key`` and return the new count."""
        stmt = (
            insert(LoginThrottle)
            .values(key=key, failures=1, last_failure_at=now)
            .on_conflict_do_update(
                index_elements=[LoginThrottle.key],
                set_={"failures": LoginThrottle.failures + 1, "last_failure_at": now},
            )
            .returning(LoginThrottle.failures)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def block(self, key: str, until: datetime) -> None:
        await self.session.execute(
            update(LoginThrottle).where(LoginThrottle.key == key).values(blocked_until=until)
        )

    async def clear(self, key: str) -> None:
        await self.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
