"""Dependencies as ``Annotated`` aliases: ``SessionDep``, ``CurrentUser``, role guards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import PbxSettings, Settings
from app.db import SessionMaker, commit
from app.errors import DomainError, NotAuthenticated, PermissionDenied
from app.models import Role, User

_bearer = HTTPBearer(auto_error=False, description="The token from POST /api/auth/token")

ROLE_RANK = {Role.agent: 1, Role.supervisor: 2, Role.admin: 3}


# Every dependency is ``async def``: FastAPI runs a plain ``def`` one in a worker thread,
# a thread hop per request (most of a hot endpoint's own time, see BENCHMARKS.md).


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _sessionmaker_of(request: Request) -> SessionMaker:
    sessionmaker: SessionMaker = request.app.state.sessionmaker
    return sessionmaker


async def get_sessionmaker(request: Request) -> SessionMaker:
    return _sessionmaker_of(request)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent.

    A :class:`DomainError` marked ``keep_changes`` (a failed sign-in that must still be
    counted) commits what was written before it; any other error rolls back.
    """
    async with _sessionmaker_of(request)() as session:
        try:
            yield session
        except DomainError as exc:
            if exc.keep_changes:
                await session.commit()
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await commit(session)


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_reader(request: Request) -> AsyncIterator[AsyncSession | AsyncEngine]:
    """For an edge that only reads through :class:`app.db.HotRead`: the engine itself, no
    session (whose making, commit and closing cost more CPU than such a query). When the
    sessions are bound to something else (a test's connection, inside its transaction), a
    session as ``get_session`` gives."""
    sessionmaker = _sessionmaker_of(request)
    bind = sessionmaker.kw.get("bind")
    if isinstance(bind, AsyncEngine):
        yield bind
        return
    async for session in get_session(request):
        yield session


ReaderDep = Annotated[AsyncSession | AsyncEngine, Depends(get_reader, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# For an edge that needs more than one transaction (commit, act on the PBX, record the result).
SessionmakerDep = Annotated[SessionMaker, Depends(get_sessionmaker)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def client_address(request: Request) -> str:
    """The caller's address as the server sees it. Behind a reverse proxy uvicorn puts the
    forwarded address here only when the proxy is listed in ``--forwarded-allow-ips``
    (``TAMAS_FORWARDED_ALLOW_IPS``): a client cannot pick its own by sending
    ``X-Forwarded-For``."""
    return request.client.host if request.client else ""


# For the audit log and sign-in throttling.
ClientAddress = Annotated[str, Depends(client_address)]


async def get_current_user(session: SessionDep, settings: SettingsDep, creds: BearerDep) -> User:
    from app.auth.service import AuthService

    if creds is None or not creds.credentials:
        raise NotAuthenticated()
    return await AuthService(session, settings).user_for_token(creds.credentials)


CurrentUser = Annotated[User, Depends(get_current_user)]


def has_role(user: User, role: Role) -> bool:
    return ROLE_RANK[Role(user.role)] >= ROLE_RANK[role]


def require_role(role: Role) -> Callable[[User], Coroutine[Any, Any, User]]:
    async def check(user: CurrentUser) -> User:
        if not has_role(user, role):
            raise PermissionDenied(f"this needs the {role.value} role")
        return user

    return check


AgentUser = Annotated[User, Depends(require_role(Role.agent))]
SupervisorUser = Annotated[User, Depends(require_role(Role.supervisor))]
AdminUser = Annotated[User, Depends(require_role(Role.admin))]


async def get_pbx_caller(request: Request, settings: SettingsDep) -> PbxSettings:
    """The PBX calling a ``/pbx/`` endpoint, known by its token: ``Authorization: Bearer
    <token>``, or ``?token=`` for dialplans whose CURL() cannot send headers. Compared in
    constant time; a user's sign-in token is not a PBX token."""
    import secrets

    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    token = token or request.query_params.get("token", "")
    if token:
        given = token.encode()
        for pbx in settings.pbxes:
            expected = pbx.token.get_secret_value().encode() if pbx.token else b""
            if expected and secrets.compare_digest(given, expected):
                return pbx
    raise NotAuthenticated("this is for the PBX: send its token (the PBX's token setting)")


PbxCaller = Annotated[PbxSettings, Depends(get_pbx_caller)]
