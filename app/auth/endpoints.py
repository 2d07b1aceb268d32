from __future__ import annotations

from fastapi import APIRouter, Request, status

from app.audit.service import AuditService
from app.auth.schemas import SignIn, TokenRead
from app.auth.service import AuthService
from app.deps import BearerDep, ClientAddress, CurrentUser, SessionDep, SettingsDep
from app.supervision.signin_service import SignInService
from app.users.schemas import PasswordChange, UserRead
from app.users.service import UserService

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/token", response_model=TokenRead)
async def sign_in(
    data: SignIn, request: Request, session: SessionDep, settings: SettingsDep
) -> TokenRead:
    """Sign in with username and password. The token goes in `Authorization: Bearer ...` for
    the REST API (and as the websocket's `token`). After a few failed attempts for one
    username or one address, each further attempt must wait longer (429 with Retry-After)."""
    client = request.client.host if request.client else ""
    issued = await AuthService(session, settings).sign_in(
        data.username,
        data.password,
        client=client,
        user_agent=request.headers.get("user-agent", ""),
    )
    return TokenRead(
        access_token=issued.token,
        expires_at=issued.expires_at,
        expires_in=issued.expires_in,
        user=UserRead.model_validate(issued.user),
        time_zone=settings.time_zone,
    )


@router.post("/refresh", response_model=TokenRead)
async def refresh_token(
    _: CurrentUser,
    creds: BearerDep,
    request: Request,
    client: ClientAddress,
    session: SessionDep,
    settings: SettingsDep,
) -> TokenRead:
    """Rotate the token: a new one with a fresh expiry, and the one this request was made
    with revoked at once (open websockets signed in with it are closed by their next check,
    and reconnect with the new one)."""
    assert creds is not None
    issued = await AuthService(session, settings).refresh(
        creds.credentials, client=client, user_agent=request.headers.get("user-agent", "")
    )
    return TokenRead(
        access_token=issued.token,
        expires_at=issued.expires_at,
        expires_in=issued.expires_in,
        user=UserRead.model_validate(issued.user),
        time_zone=settings.time_zone,
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out(
    user: CurrentUser,
    creds: BearerDep,
    client: ClientAddress,
    session: SessionDep,
    settings: SettingsDep,
) -> None:
    """Revoke the token this request was made with. The sign-in to Tamas of the agent
    (their activity interval) ends now; their panels signed in with it are closed by their
    next check."""
    assert creds is not None
    await AuthService(session, settings).sign_out(creds.credentials, client=client)
    await SignInService(session, settings).signed_out(user.id)


@router.get("/me", response_model=UserRead)
async def me(user: CurrentUser) -> UserRead:
    """The signed-in user, with role and devices."""
    return UserRead.model_validate(user)


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    data: PasswordChange, user: CurrentUser, client: ClientAddress, session: SessionDep
) -> None:
    """Change my own password (the current one is required). Signs me out everywhere."""
    await UserService(session).change_own_password(user, data)
    await AuditService(session).record(
        "password_changed", user, address=client, target=f"user:{user.id}"
    )
