from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, field_validator

from app.models import CustomerKind, Priority
from app.schemas import DbId, Input
from app.textnorm import clean_display, normalize

MAX_TAGS = 20


def _clean(value: str) -> str:
    return clean_display(value)


def _clean_tags(value: list[str]) -> list[str]:
    tags: list[str] = []
    for tag in value:
        key = normalize(tag)[:64]
        if key and key not in tags:
            tags.append(key)
    if len(tags) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return tags


def _name(value: str) -> str:
    value = clean_display(value)
    if not value:
        raise ValueError("name must not be empty")
    return value


Text200 = Annotated[str, AfterValidator(_clean), Field(max_length=200)]
Name = Annotated[str, AfterValidator(_name), Field(max_length=200)]
Tags = Annotated[list[str], AfterValidator(_clean_tags)]
Label = Annotated[str, AfterValidator(lambda v: normalize(v) or "other"), Field(max_length=32)]


class PhoneIn(Input):
    number: str = Field(min_length=1, max_length=100, examples=["0912 123 4567"])
    label: Label = "mobile"


class PhoneRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str = Field(validation_alias="raw", description="as it was entered")
    e164: str
    extension: str | None
    label: str

    @field_validator("extension", mode="before")
    @classmethod
    def _no_empty(cls, value: str | None) -> str | None:
        return value or None


class CustomerBase(Input):
    kind: CustomerKind = CustomerKind.person
    company: Text200 = ""
    address: str = Field(default="", max_length=2000)
    email: EmailStr | None = None
    notes: str = Field(default="", max_length=10000)
    tags: Tags = Field(default_factory=list)
    priority: Priority | None = None
    owner_id: DbId | None = None
    external_id: str | None = Field(default=None, max_length=100)


class CustomerCreate(CustomerBase):
    name: Name
    phones: list[PhoneIn] = Field(default_factory=list, max_length=50)


class CustomerUpdate(Input):
    """Only the fields sent are changed; numbers have their own endpoints."""

    kind: CustomerKind | None = None
    name: Name | None = None
    company: Text200 | None = None
    address: str | None = Field(default=None, max_length=2000)
    email: EmailStr | None = None
    notes: str | None = Field(default=None, max_length=10000)
    tags: Tags | None = None
    priority: Priority | None = None
    owner_id: DbId | None = None
    external_id: str | None = Field(default=None, max_length=100)


class CustomerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: CustomerKind
    name: str
    company: str
    address: str
    email: str | None
    notes: str
    tags: list[str]
    priority: Priority | None
    owner_id: int | None
    external_id: str | None
    phones: list[PhoneRead]
    created_at: datetime
    updated_at: datetime


class CustomerPage(BaseModel):
    items: list[CustomerRead]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


class LookupResult(BaseModel):
    number: str = Field(description="the number as asked")
    valid: bool
    e164: str | None
    customers: list[CustomerRead] = Field(description="every customer holding this number")


class ImportRowError(BaseModel):
    line: int
    reason: str


class ImportReport(BaseModel):
    encoding: str
    rows: int
    created: int
    updated: int
    unchanged: int
    failed: int
    errors: list[ImportRowError]
    ignored_columns: list[str]
