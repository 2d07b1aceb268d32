"""Users, their roles and their PBX devices."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, InvalidInput, NotFound
from app.models import Role, User
from app.security import hash_password, verify_password
from app.users.repository import TokenRepository, UserRepository
from app.users.schemas import PasswordChange, UserCreate, UserUpdate


class UserService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.users = UserRepository(session)
        self.tokens = TokenRepository(session)

    async def get(self, user_id: int) -> User:
        user = await self.users.get(user_id)
        if user is None:
            raise NotFound(f"user {user_id} not found")
        return user

    async def get_by_username(self, username: str) -> User:
        user = await self.users.get_by_username(username.strip().lower())
        if user is None:
            raise NotFound(f"user {username!r} not found")
        return user

    async def list(self) -> Sequence[User]:
        return await self.users.list()

    async def _check_devices_free(self, devices: Sequence[str], user_id: int | None) -> None:
        owners = await self.users.device_owners(devices)
        taken = sorted(d for d, owner in owners.items() if owner != user_id)
        if taken:
            raise Conflict(
                f"device {', '.join(taken)} already belongs to another user", field="devices"
            )

    async def create(self, data: UserCreate) -> User:
        if await self.users.get_by_username(data.username) is not None:
            raise Conflict(f"username {data.username!r} is taken", field="username")
        await self._check_devices_free(data.devices, None)
        user = await self.users.add(
            User(
                username=data.username,
                full_name=data.full_name,
                role=data.role.value,
                password_hash=hash_password(data.password),
                is_active=True,
            )
        )
        await self.users.set_devices(user, data.devices)
        return await self.users.reload(user)

    async def update(self, user_id: int, data: UserUpdate) -> User:
        user = await self.get(user_id)
        demoting = (data.role is not None and data.role != Role.admin) or data.is_active is False
        if user.role == Role.admin and demoting and await self.users.count_admins() <= 1:
            raise Conflict("the last active admin cannot be demoted or deactivated")
        if data.full_name is not None:
            user.full_name = data.full_name
        if data.role is not None:
            user.role = data.role.value
        if data.is_active is not None:
            user.is_active = data.is_active
            if not data.is_active:
                await self.tokens.revoke_all(user.id, datetime.now(UTC))
        if data.devices is not None:
            await self._check_devices_free(data.devices, user.id)
            await self.users.set_devices(user, data.devices)
        await self.session.flush()
        return await self.users.reload(user)

    async def set_password(self, user_id: int, password: str) -> User:
        """Set a new password and sign the user out everywhere."""
        user = await self.get(user_id)
        user.password_hash = hash_password(password)
        await self.tokens.revoke_all(user.id, datetime.now(UTC))
        await self.session.flush()
        return user

    async def change_own_password(self, user: User, data: PasswordChange) -> None:
        if not verify_password(user.password_hash, data.current_password):
            raise InvalidInput("the current password is wrong", field="current_password")
        await self.set_password(user.id, data.new_password)


async def ensure_first_admin(session: AsyncSession) -> tuple[User, str] | None:
    """With no users at all, create ``admin`` with a random password and return both, so a
    fresh install can be signed into. The caller hands the password over (never logs it)."""
    if await UserRepository(session).list():
        return None
    password = secrets.token_urlsafe(12)
    user = await UserService(session).create(
        UserCreate(username="admin", password=password, role=Role.admin, full_name="Admin")
    )
    return user, password
