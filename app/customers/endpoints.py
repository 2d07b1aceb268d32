from __future__ import annotations

import tempfile
from typing import Annotated

from fastapi import APIRouter, Query, UploadFile, status

from app.audit.service import AuditService
from app.customers.importer import in_batches, read_customers
from app.customers.schemas import (
    CustomerCreate,
    CustomerPage,
    CustomerRead,
    CustomerUpdate,
    ImportReport,
    ImportRowError,
    LookupResult,
    PhoneIn,
)
from app.customers.service import CustomerService, ImportCounts
from app.deps import AgentUser, ClientAddress, SessionDep, SettingsDep, SupervisorUser
from app.errors import InvalidInput
from app.models import Priority
from app.schemas import DbId

router = APIRouter(prefix="/api/customers", tags=["customers"])

# An import lists at most this many failed rows (all are counted in ``failed``).
MAX_REPORTED_ERRORS = 1000


@router.get("/lookup", response_model=LookupResult)
async def lookup_by_number(
    session: SessionDep,
    settings: SettingsDep,
    _: AgentUser,
    number: Annotated[str, Query(min_length=1, max_length=100, examples=["۰۹۱۲ ۱۲۳ ۴۵۶۷"])],
) -> LookupResult:
    """Every customer holding a phone number, typed in any format (Persian digits, +98, 0098,
    0912..., 912..., landlines with a city code). A shared line returns all its holders. A
    number that cannot be parsed matches nobody: `valid` is false."""
    outcome = await CustomerService(session, settings).lookup(number)
    return LookupResult(
        number=number,
        valid=outcome.parsed is not None,
        e164=outcome.parsed.e164 if outcome.parsed else None,
        customers=[CustomerRead.model_validate(c) for c in outcome.customers],
    )


@router.get("", response_model=CustomerPage)
async def search_customers(
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
    q: Annotated[
        str | None,
        Query(max_length=200, description="words of the name or company, or digits of a number"),
    ] = None,
    company: Annotated[str | None, Query(max_length=200)] = None,
    tag: Annotated[
        list[str] | None, Query(description="repeat for several (all must match)")
    ] = None,
    priority: Priority | None = None,
    owner_id: DbId | None = None,
    mine: Annotated[bool, Query(description="only customers I own")] = False,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CustomerPage:
    """The phonebook: search by name (any word's beginning), company, part of a number, tag,
    priority or owner, in name order, a page at a time. Persian and Arabic letter forms,
    ZWNJ, diacritics and Persian digits are folded, so `علي` finds `علی`."""
    rows, next_cursor = await CustomerService(session, settings).search(
        q=q,
        company=company,
        tags=tag or [],
        owner_id=user.id if mine else owner_id,
        priority=priority.value if priority else None,
        cursor=cursor,
        limit=limit,
    )
    return CustomerPage(
        items=[CustomerRead.model_validate(c) for c in rows], next_cursor=next_cursor
    )


@router.post("", response_model=CustomerRead, status_code=status.HTTP_201_CREATED)
async def create_customer(
    data: CustomerCreate, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> CustomerRead:
    """Create a customer with its numbers. An agent's new customer is theirs unless another
    owner is given (supervisors may give any user)."""
    customer = await CustomerService(session, settings).create(data, user)
    return CustomerRead.model_validate(customer)


@router.get("/{customer_id}", response_model=CustomerRead)
async def get_customer(
    customer_id: DbId, session: SessionDep, settings: SettingsDep, _: AgentUser
) -> CustomerRead:
    """One customer with all its numbers."""
    return CustomerRead.model_validate(await CustomerService(session, settings).get(customer_id))


@router.patch("/{customer_id}", response_model=CustomerRead)
async def update_customer(
    customer_id: DbId,
    data: CustomerUpdate,
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
) -> CustomerRead:
    """Change the fields sent. Agents may assign a customer to themselves, not to others."""
    customer = await CustomerService(session, settings).update(customer_id, data, user)
    return CustomerRead.model_validate(customer)


@router.delete("/{customer_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_customer(
    customer_id: DbId,
    session: SessionDep,
    settings: SettingsDep,
    user: SupervisorUser,
    client: ClientAddress,
) -> None:
    """Delete a customer and its numbers (supervisors and admins). Audited."""
    await CustomerService(session, settings).delete(customer_id)
    await AuditService(session).record(
        "customer_deleted", user, address=client, target=f"customer:{customer_id}"
    )


@router.post(
    "/{customer_id}/phones", response_model=CustomerRead, status_code=status.HTTP_201_CREATED
)
async def add_phone(
    customer_id: DbId, phone: PhoneIn, session: SessionDep, settings: SettingsDep, _: AgentUser
) -> CustomerRead:
    """Add a number. It is stored in E.164 with the text as typed; an invalid number is
    refused with the reason."""
    customer = await CustomerService(session, settings).add_phone(customer_id, phone)
    return CustomerRead.model_validate(customer)


@router.delete("/{customer_id}/phones/{phone_id}", response_model=CustomerRead)
async def remove_phone(
    customer_id: DbId, phone_id: DbId, session: SessionDep, settings: SettingsDep, _: AgentUser
) -> CustomerRead:
    """Remove one number from a customer."""
    customer = await CustomerService(session, settings).remove_phone(customer_id, phone_id)
    return CustomerRead.model_validate(customer)


@router.post("/import", response_model=ImportReport)
async def import_customers(
    file: UploadFile,
    session: SessionDep,
    settings: SettingsDep,
    user: SupervisorUser,
    client: ClientAddress,
) -> ImportReport:
    """Import a CSV (UTF-8 with or without BOM, or Windows-1256; comma, semicolon or tab).
    The header row names the columns (English or Persian: name/نام, mobile/موبایل,
    company/شرکت, ...). Good rows are imported, bad ones reported with their line (the first
    1,000 listed, all counted in `failed`); a re-run of the same file creates no duplicates
    (rows match on external id, or on name and number). The upload may be at most
    `TAMAS_IMPORT_MAX_BYTES` (413 past it); the header row at most 500 columns."""
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as buffer:
        while chunk := await file.read(1 << 20):
            buffer.write(chunk)
        buffer.seek(0)
        try:
            parsed = read_customers(buffer)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="file") from exc
        service = CustomerService(session, settings)
        counts = ImportCounts()
        # Every failed row is counted, the first MAX_REPORTED_ERRORS are listed: a file of
        # nothing but bad rows must not become a list (and a response) as big as itself.
        failed = 0
        listed: list[tuple[int, str]] = []
        for batch in in_batches(parsed.rows):
            await service.import_rows(batch, counts)
            failed += len(counts.errors)
            listed = sorted([*listed, *counts.errors])[:MAX_REPORTED_ERRORS]
            counts.errors.clear()
        counts.errors = listed
    report = import_report(parsed.encoding, counts, parsed.columns.ignored, failed=failed)
    await AuditService(session).record(
        "customers_import",
        user,
        address=client,
        target=f"file:{file.filename or ''}",
        **report.model_dump(
            include={"rows", "created", "updated", "unchanged", "failed"}, mode="json"
        ),
    )
    return report


def import_report(
    encoding: str, counts: ImportCounts, ignored: list[str], *, failed: int | None = None
) -> ImportReport:
    """The report of an import; ``failed`` when more rows failed than ``counts`` lists."""
    errors = sorted(counts.errors)
    return ImportReport(
        encoding=encoding,
        rows=counts.rows,
        created=counts.created,
        updated=counts.updated,
        unchanged=counts.unchanged,
        failed=len(errors) if failed is None else failed,
        errors=[ImportRowError(line=line, reason=reason) for line, reason in errors],
        ignored_columns=ignored,
    )
