from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from app.models import Role
from app.schemas import Input
from app.security import MIN_PASSWORD_LENGTH

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_DEVICE = re.compile(r"^([A-Za-z][A-Za-z0-9]*)/([^\s/]{1,80})$")


def normalize_username(value: str) -> str:
    name = value.strip().lower()
    if not _USERNAME.match(name):
        raise ValueError(
            "username must be 2-64 characters of a-z, 0-9, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def normalize_device(value: str) -> str:
    """``PJSIP/1001`` as Asterisk names it; a bare extension (``1001``) means PJSIP."""
    text = value.strip()
    if text.isdigit():
        text = f"PJSIP/{text}"
    match = _DEVICE.match(text)
    if not match:
        raise ValueError(f"device {value!r} must look like PJSIP/1001 or SIP/1001")
    tech, resource = match.groups()
    # Channel technology names are case-insensitive in Asterisk; the resource is not.
    return f"{tech.upper()}/{resource}"


def _check_password(value: str) -> str:
    if len(value) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    return value


def _check_devices(value: list[str]) -> list[str]:
    return sorted({normalize_device(d) for d in value})


Username = Annotated[str, AfterValidator(normalize_username)]
Password = Annotated[str, AfterValidator(_check_password), Field(repr=False)]
Devices = Annotated[list[str], AfterValidator(_check_devices), Field(max_length=20)]


class UserCreate(Input):
    username: Username
    password: Password
    role: Role = Role.agent
    full_name: str = Field(default="", max_length=200)
    devices: Devices = Field(default_factory=list)


class UserUpdate(Input):
    """Only the fields sent are changed."""

    full_name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    is_active: bool | None = None
    devices: Devices | None = None


class PasswordSet(Input):
    password: Password


class PasswordChange(Input):
    current_password: str = Field(repr=False)
    new_password: Password


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    full_name: str
    role: Role
    is_active: bool
    devices: list[str]
    created_at: datetime
    updated_at: datetime

    @field_validator("devices", mode="before")
    @classmethod
    def _device_names(cls, value: object) -> object:
        if isinstance(value, list):
            return [getattr(d, "device", d) for d in value]
        return value
