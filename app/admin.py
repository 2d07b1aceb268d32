"""Settings as admins see them: every value, secrets masked."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import SecretStr

from app.deps import AdminUser, SettingsDep

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.get("/settings")
async def read_settings(settings: SettingsDep, _: AdminUser) -> dict[str, Any]:
    """The running configuration (admins). Secrets are shown as `**********` when set."""
    out: dict[str, Any] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = "**********" if value.get_secret_value() else ""
        out[name] = value if isinstance(value, str | int | float | bool | None) else str(value)
    return out
