"""The audit log for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.audit.schemas import AuditEventRead, AuditPage
from app.audit.service import ACTIONS, AuditService
from app.deps import AdminUser, SessionDep
from app.errors import InvalidInput
from app.schemas import DbId

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("", response_model=AuditPage)
async def audit_log(
    session: SessionDep,
    _: AdminUser,
    action: Annotated[str | None, Query(max_length=40)] = None,
    actor: Annotated[str | None, Query(max_length=64, description="a username")] = None,
    actor_id: Annotated[DbId | None, Query()] = None,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="exclusive")] = None,
    cursor: Annotated[str | None, Query(max_length=24)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Sign-ins (and failed ones), sign-outs, token revocations, user and settings changes,
    recording listens and downloads, exports, customer imports and deletions; newest first,
    a page at a time (`next_cursor`). Filters: action, actor (username or id), a time range.
    Admins only."""
    if action is not None and action not in ACTIONS:
        raise InvalidInput(f"unknown action; one of: {', '.join(sorted(ACTIONS))}", field="action")
    for name, value in (("from", since), ("to", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput("give a time zone (e.g. +03:30 or Z)", field=name)
    before_id = None
    if cursor is not None:
        if not cursor.isdigit() or not 0 < int(cursor) < 2**63:
            raise InvalidInput("cursor is not one this API returned", field="cursor")
        before_id = int(cursor)
    rows = await AuditService(session).page(
        limit=limit + 1,
        before_id=before_id,
        action=action,
        actor_user_id=actor_id,
        actor_name=actor.strip().lower() if actor else None,
        since=since,
        until=until,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        items=[AuditEventRead.model_validate(r) for r in rows],
        next_cursor=str(rows[-1].id) if more and rows else None,
    )
