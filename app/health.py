"""Health endpoints, for people and for orchestrators (Kubernetes, systemd, a load balancer).

- ``/healthz``: liveness. The process and its event loop answer: 200, unless the instance
  is shutting down (503). Nothing else is checked, so a database outage never gets the
  process restarted (it would not help).
- ``/readyz``: ready to serve. The database answers within ``READY_TIMEOUT`` seconds, its
  schema is at the newest migration, and each PBX is either followed here and connected, or
  followed by another instance (the advisory lock is held). 503 with the reasons otherwise.
- ``/health``: the detailed picture (database, each PBX's connection and counters).

No sign-in for any of them; they show no customer data and no secrets (PBX ids, states and
counters only).
"""

from __future__ import annotations

import asyncio
import logging
from functools import lru_cache
from typing import Any

from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.db import Database
from app.migrate import alembic_config
from telephony.leader import LOCK_CLASS, lock_key

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

READY_TIMEOUT = 2.0
# The PBX locks any instance holds (telephony/leader.py takes them) in this database.
_HELD_LOCKS = text(
    "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND classid::bigint = :cls"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
STANDBY = {"status": "standby", "reason": "followed by another Tamas instance"}


@lru_cache
def migration_heads() -> frozenset[str]:
    """The newest migration(s) this code ships (read from the files once)."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


async def _database(database: Database | None, pbx_ids: list[str]) -> dict[str, Any]:
    """Reachable? At which migration? Which PBX locks are held (by any instance)?"""
    if database is None or database.engine is None:
        return {"state": "unavailable: not open", "revisions": set(), "held": set()}
    keys = {lock_key(p): p for p in pbx_ids}
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            async with database.engine.connect() as conn:
                versions = await conn.execute(text("SELECT version_num FROM alembic_version"))
                revisions = set(versions.scalars())
                held_keys = (await conn.execute(_HELD_LOCKS, {"cls": LOCK_CLASS})).scalars()
                held = {keys[k] for k in held_keys if k in keys}
    except TimeoutError:
        return {"state": "unavailable: no answer within 2 s", "revisions": set(), "held": set()}
    except Exception as exc:  # reported, not raised: this is the health check
        return {"state": f"unavailable: {type(exc).__name__}", "revisions": set(), "held": set()}
    return {"state": "ok", "revisions": revisions, "held": held}


async def health_state(state: Any) -> dict[str, Any]:
    """What the three endpoints are made of: the database, each PBX, and whether this
    instance is ready, with the reasons it is not."""
    settings = state.settings
    pbx_ids = [p.id for p in settings.pbxes]
    db = await _database(getattr(state, "database", None), pbx_ids)
    leadership = getattr(state, "leadership", None)
    pbxes: dict[str, dict[str, Any]] = {}
    reasons: list[str] = []
    pbx_ok = True
    if db["state"] != "ok":
        reasons.append(f"database {db['state']}")
    elif not migration_heads() <= db["revisions"]:
        reasons.append("database schema is not at the newest migration")
    for pbx in pbx_ids:
        listener = leadership.listeners.get(pbx) if leadership is not None else None
        if listener is not None:
            pbxes[pbx] = listener.health.as_dict()
            if pbxes[pbx]["status"] != "connected":
                pbx_ok = False
                reasons.append(f"PBX {pbx}: {pbxes[pbx]['status']} {pbxes[pbx]['reason']}".strip())
        else:
            pbxes[pbx] = dict(STANDBY)
            # Only the database can say whether another instance follows it.
            if db["state"] == "ok" and pbx not in db["held"]:
                pbxes[pbx]["reason"] = "followed by no Tamas instance"
                pbx_ok = False
                reasons.append(f"PBX {pbx}: followed by no instance")
    shutting_down = bool(getattr(state, "shutting_down", False))
    if shutting_down:
        reasons.insert(0, "shutting down")
    healthy = db["state"] == "ok" and pbx_ok
    return {
        "status": "ok" if healthy and not shutting_down else "degraded",
        "database": db["state"],
        "pbxes": pbxes,
        "ready": not reasons,
        "reasons": reasons,
    }


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """Liveness: 200 while the process and its event loop answer, 503 once it is shutting
    down. No sign-in needed."""
    if getattr(request.app.state, "shutting_down", False):
        return JSONResponse({"status": "shutting down"}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 when the database answers (within 2 s) at the newest migration and every
    PBX is connected here or followed by another instance; 503 with the reasons otherwise.
    No sign-in needed."""
    state = await health_state(request.app.state)
    if state["ready"]:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "not ready", "reasons": state["reasons"]}, status_code=503)


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    """Liveness, database reachability and the state of each PBX connection
    (connected / authenticating / failed with reason / retrying in N s, its counters, the
    events it holds while the database is away). No sign-in needed; it shows no customer
    data."""
    state = await health_state(request.app.state)
    # The shape it always had (/readyz says what is missing to be ready).
    return {k: state[k] for k in ("status", "database", "pbxes")}
