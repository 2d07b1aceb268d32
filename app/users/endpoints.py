from __future__ import annotations

from fastapi import APIRouter, status

from app.audit.service import AuditService
from app.auth.service import AuthService
from app.deps import AdminUser, ClientAddress, SessionDep, SettingsDep, SupervisorUser
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
async def create_user(
    data: UserCreate, session: SessionDep, admin: AdminUser, client: ClientAddress
) -> UserRead:
    """Create a user with a role and the PBX devices that ring for them (admins)."""
    user = await UserService(session).create(data)
    await AuditService(session).record(
        "user_created", admin, address=client, target=f"user:{user.id}", role=user.role
    )
    return UserRead.model_validate(user)


@router.patch("/{user_id}", response_model=UserRead)
async def update_user(
    user_id: DbId, data: UserUpdate, session: SessionDep, admin: AdminUser, client: ClientAddress
) -> UserRead:
    """Change name, role, devices or active state (admins). Deactivating signs the user out.
    The last active admin cannot be demoted."""
    user = await UserService(session).update(user_id, data)
    await AuditService(session).record(
        "user_changed",
        admin,
        address=client,
        target=f"user:{user_id}",
        **data.model_dump(exclude_unset=True, mode="json"),
    )
    return UserRead.model_validate(user)


@router.put("/{user_id}/password", status_code=status.HTTP_204_NO_CONTENT)
async def set_password(
    user_id: DbId, data: PasswordSet, session: SessionDep, admin: AdminUser, client: ClientAddress
) -> None:
    """Set a user's password (admins). Signs the user out everywhere."""
    await UserService(session).set_password(user_id, data.password)
    await AuditService(session).record(
        "password_set", admin, address=client, target=f"user:{user_id}"
    )


@router.post("/{user_id}/revoke-tokens")
async def revoke_tokens(
    user_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    admin: AdminUser,
    client: ClientAddress,
) -> dict[str, int]:
    """Sign a user out of every session (admins)."""
    await UserService(session).get(user_id)
    revoked = await AuthService(session, settings).revoke_all(user_id)
    await AuditService(session).record(
        "tokens_revoked", admin, address=client, target=f"user:{user_id}", revoked=revoked
    )
    return {"revoked": revoked}
