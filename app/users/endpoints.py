from __future__ import annotations

from fastapi import APIRouter, status

from app.auth.service import AuthService
from app.deps import AdminUser, SessionDep, SettingsDep, SupervisorUser
from app.schemas import DbId
from app.users.schemas import PasswordSet, UserCreate, UserRead, UserUpdate
from app.users.service import UserService

router = APIRouter(prefix="/api/users", tags=["users"])


@router.get("", response_model=list[UserRead])
async def list_users(session: SessionDep, _: SupervisorUser) -> list[UserRead]:
    """All users with their roles and devices (supervisors and admins)."""
    return [UserRead.model_validate(u) for u in await UserService(session).list()]


@router.get("/{user_id}", response_model=UserRead)
async def get_user(user_id: DbId, session: SessionDep, _: SupervisorUser) -> UserRead:
    """One user (supervisors and admins)."""
    return UserRead.model_validate(await UserService(session).get(user_id))


@router.post("", response_model=UserRead, status_code=status.HTTP_201_CREATED)
async def create_user(data: UserCreate, session: SessionDep, _: AdminUser) -> UserRead:
    """Create a user with a role and the PBX devices that ring for them (admins)."""
    return UserRead.model_validate(await UserService(session).create(data))


@router.patch("/{user_id}", response_model=UserRead)
async def update_user(
    user_id: DbId, data: UserUpdate, session: SessionDep, _: AdminUser
) -> UserRead:
    """Change name, role, devices or active state (admins). Deactivating signs the user out.
    The last active admin cannot be demoted."""
    return UserRead.model_validate(await UserService(session).update(user_id, data))


@router.put("/{user_id}/password", status_code=status.HTTP_204_NO_CONTENT)
async def set_password(user_id: DbId, data: PasswordSet, session: SessionDep, _: AdminUser) -> None:
    """Set a user's password (admins). Signs the user out everywhere."""
    await UserService(session).set_password(user_id, data.password)


@router.post("/{user_id}/revoke-tokens")
async def revoke_tokens(
    user_id: DbId, session: SessionDep, settings: SettingsDep, _: AdminUser
) -> dict[str, int]:
    """Sign a user out of every session (admins)."""
    await UserService(session).get(user_id)
    return {"revoked": await AuthService(session, settings).revoke_all(user_id)}
