"""Tracking codes: issued for answered inbound calls (configurable) or by an agent, quoted
by the customer on a later call (which joins the case's thread), looked up by agents and by
the PBX's IVR."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.followups.hours import clock_of
from app.integrations import events as ev
from app.integrations.service import emit
from app.models import Call, CallCustomer, Role, TrackingCode, User, UserDevice
from app.tracking import codes
from app.tracking.repository import CaseSettingsRepository, TrackingRepository
from app.tracking.sla import PRIORITIES, Targets, breached, deadlines, took
from telephony.events import extension_of
from telephony.model import CallEvent

DRAWS = 20


class TrackingService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = TrackingRepository(session)
        self.cases = CaseSettingsRepository(session)

    async def deadlines(
        self, category: str, priority: str, opened: datetime
    ) -> tuple[datetime | None, datetime | None]:
        """The SLA's (first response, resolution) deadlines of a case opened then."""
        found = await self.cases.sla_for(category, priority)
        targets = Targets(found.first_response_minutes, found.resolution_minutes) if found else None
        return deadlines(opened, targets, clock_of(self.settings))

    async def _category(self, name: str) -> str:
        name = name.strip()
        if name and await self.cases.category(name) is None:
            raise InvalidInput(f"no case category {name!r} (see /api/cases/categories)",
                               field="category")  # fmt: skip
        return name

    def parse(self, text: str) -> str:
        try:
            return codes.parse(text)
        except codes.BadCode as exc:
            raise InvalidInput(
                str(exc), field="code", code="code_mistyped" if exc.mistyped else "not_a_code"
            ) from None

    async def issue(
        self,
        *,
        by: User | None,
        call_id: int | None = None,
        customer_id: int | None = None,
        subject: str = "",
        owner_user_id: int | None = None,
        automatic: bool = False,
        category: str = "",
        priority: str = "normal",
    ) -> TrackingCode:
        if call_id is not None and customer_id is None:
            customer_id = await self._only_customer(call_id)
        if priority not in PRIORITIES:
            raise InvalidInput(f"priority is one of {', '.join(PRIORITIES)}", field="priority")
        category = await self._category(category)
        now = datetime.now(UTC)
        first_due, resolution_due = await self.deadlines(category, priority, now)
        for _ in range(DRAWS):
            created = await self.repo.insert(
                {
                    "code": codes.new_code(),
                    "customer_id": customer_id,
                    "subject": subject,
                    "issued_by_user_id": by.id if by else None,
                    "owner_user_id": owner_user_id or (by.id if by else None),
                    "automatic": automatic,
                    "category": category,
                    "priority": priority,
                    # The clock its deadlines count from (not the transaction's start).
                    "created_at": now,
                    # Opened on a call: the customer is being answered.
                    "first_response_at": now if call_id is not None else None,
                    "first_response_due_at": first_due,
                    "resolution_due_at": resolution_due,
                }
            )
            if created is not None:
                break
        else:  # 20 collisions in a row: the code space is nearly full
            raise Conflict("no free tracking code: widen the code length")
        if call_id is not None:
            await self.repo.link(created.id, call_id)
        data = ev.tracking_code_data(created, call_id=call_id)
        await emit(self.session, [ev.envelope(ev.TRACKING_CODE_CREATED, data)])
        return created

    async def _only_customer(self, call_id: int) -> int | None:
        stmt = select(CallCustomer.customer_id).where(CallCustomer.call_id == call_id).limit(2)
        found = list((await self.session.execute(stmt)).scalars())
        return found[0] if len(found) == 1 else None

    async def auto_issue(
        self, events: Sequence[CallEvent], call_ids: dict[tuple[str, str], int]
    ) -> int:
        """A code for every inbound call answered in this batch that has none yet; owned by
        the agent who answered (inside the listener's transaction, before the pops)."""
        if not self.settings.tracking_auto_issue:
            return 0
        answered = {
            call_ids[(e.pbx, e.call.linkedid)]: e.call
            for e in events
            if e.kind == "answered"
            and e.call.direction == "inbound"
            and (e.pbx, e.call.linkedid) in call_ids
        }
        if not answered:
            return 0
        # Has it a code already, its customers, the answering agent: one statement.
        found = await self.repo.to_issue([(i, c.answered_by) for i, c in answered.items()])
        waiting = {i: found[i] for i in answered if not found[i][0]}
        # One statement issues the batch's codes and links them to their calls (a code drawn
        # twice, or already taken, is drawn again).
        issued = 0
        opened = datetime.now(UTC)
        first_due, resolution_due = await self.deadlines("", "normal", opened)
        news: list[ev.Event] = []
        for _ in range(DRAWS):
            if not waiting:
                break
            rows = {codes.new_code(): call_id for call_id in waiting}
            created = await self.repo.issue_automatic(
                [
                    (code, call_id, _only(waiting[call_id][1]), waiting[call_id][2])
                    for code, call_id in rows.items()
                ],
                first_due,
                resolution_due,
                opened,
            )
            for code in created:
                call_id = rows[code]
                _, customers, owner = waiting.pop(call_id)
                issued += 1
                news.append(
                    ev.envelope(
                        ev.TRACKING_CODE_CREATED,
                        {
                            "code": code,
                            "status": "open",
                            "subject": "",
                            "customer_id": _only(customers),
                            "owner_user_id": owner,
                            "automatic": True,
                            "call_id": call_id,
                            "change": "created",
                        },
                    )
                )
        await emit(self.session, news)
        return issued

    async def get(self, text: str) -> TrackingCode:
        found = await self.repo.by_code(self.parse(text))
        if found is None:
            raise NotFound("no case has this tracking code")
        return found

    async def link(self, user: User, text: str, call_id: int) -> TrackingCode:
        code = await self.get(text)
        call = await self.session.get(Call, call_id)
        if call is None:
            raise NotFound(f"call {call_id} not found", field="call_id")
        await self.repo.link(code.id, call_id)
        code.first_response_at = code.first_response_at or datetime.now(UTC)
        if code.customer_id is None:
            code.customer_id = await self._only_customer(call_id)
        # The caller quoted an existing case: the code issued automatically for this call,
        # untouched (no other call, no subject), is not a case of its own. Closed and
        # unlinked, never deleted: codes are not reused.
        merged: list[ev.Event] = []
        for other in (await self.repo.codes_of_calls([call_id]))[call_id]:
            if other.id == code.id or not other.automatic or other.subject:
                continue
            if [c.id for c in await self.repo.calls_of(other.id)] == [call_id]:
                await self.repo.unlink(other.id, call_id)
                other.status = "closed"
                other.closed_at = datetime.now(UTC)
                other.subject = f"merged into {code.code}"
                merged.append(
                    ev.envelope(
                        ev.TRACKING_CODE_CHANGED, ev.tracking_code_data(other, change="merged")
                    )
                )
        await self.session.flush()
        await emit(
            self.session,
            [
                ev.envelope(
                    ev.TRACKING_CODE_CHANGED,
                    ev.tracking_code_data(code, call_id=call_id, change="call_linked"),
                ),
                *merged,
            ],
        )
        return code

    async def update(
        self,
        user: User,
        text: str,
        *,
        status: str | None,
        subject: str | None,
        owner_user_id: int | None,
        category: str | None = None,
        priority: str | None = None,
        responded: bool | None = None,
    ) -> TrackingCode:
        code = await self.get(text)
        changed = False
        if category is not None and category.strip() != code.category:
            code.category = await self._category(category)
            changed = True
        if priority is not None and priority != code.priority:
            code.priority = priority
            changed = True
        if changed:
            # Re-classified: the targets of its new class, counted from when it was opened.
            code.first_response_due_at, code.resolution_due_at = await self.deadlines(
                code.category, code.priority, code.created_at
            )
        if responded:
            code.first_response_at = code.first_response_at or datetime.now(UTC)
        if owner_user_id is not None and owner_user_id != code.owner_user_id:
            if user.role == Role.agent.value:
                raise PermissionDenied("only supervisors reassign cases")
            code.owner_user_id = owner_user_id
        if subject is not None:
            code.subject = subject
        if status is not None and status != code.status:
            code.status = status
            code.closed_at = datetime.now(UTC) if status == "closed" else None
            if status == "closed":
                code.first_response_at = code.first_response_at or code.closed_at
        if self.session.is_modified(code):
            await self.session.flush()
            data = ev.tracking_code_data(code, change="updated")
            await emit(self.session, [ev.envelope(ev.TRACKING_CODE_CHANGED, data)])
        return code

    async def report(self, start: datetime, end: datetime, now: datetime) -> list[dict[str, Any]]:
        """Per (category, priority), then all: opened, closed, mean first response and
        resolution seconds on the SLA clock, breaches of each target."""
        clock = clock_of(self.settings)
        rows = await self.cases.cases(
            owner_id=None, status=None, opened_from=start, opened_to=end, limit=1_000_000
        )
        groups: dict[tuple[str, str], list[TrackingCode]] = {}
        for code in rows:
            groups.setdefault((code.category, code.priority), []).append(code)
            groups.setdefault(("*", "*"), []).append(code)
        out = []
        for (category, priority), codes_ in sorted(
            groups.items(), key=lambda kv: kv[0] == ("*", "*")
        ):
            first = [t for c in codes_ if (t := took(c.created_at, c.first_response_at, clock))]
            whole = [t for c in codes_ if (t := took(c.created_at, c.closed_at, clock))]
            out.append(
                {
                    "category": category,
                    "priority": priority,
                    # The clock its deadlines count from (not the transaction's start).
                    "created_at": now,
                    "opened": len(codes_),
                    "closed": sum(1 for c in codes_ if c.status == "closed"),
                    "mean_first_response_seconds": _mean(first),
                    "mean_resolution_seconds": _mean(whole),
                    "first_response_breached": sum(
                        breached(c.first_response_due_at, c.first_response_at, now) for c in codes_
                    ),
                    "resolution_breached": sum(
                        breached(c.resolution_due_at, c.closed_at, now) for c in codes_
                    ),
                }
            )
        return out

    async def names(self, user_ids: Sequence[int | None]) -> dict[int, str]:
        wanted = sorted({u for u in user_ids if u is not None})
        if not wanted:
            return {}
        stmt = select(User.id, User.full_name, User.username).where(User.id.in_(wanted))
        return {i: f or u for i, f, u in (await self.session.execute(stmt)).all()}

    async def owner(self, code: TrackingCode) -> tuple[str, str]:
        """The owner's name and the extension of their first device."""
        if code.owner_user_id is None:
            return "", ""
        user = await self.session.get(User, code.owner_user_id)
        if user is None:
            return "", ""
        stmt = (
            select(UserDevice.device)
            .where(UserDevice.user_id == user.id)
            .order_by(UserDevice.id)
            .limit(1)
        )
        device = (await self.session.execute(stmt)).scalar_one_or_none()
        return user.full_name or user.username, extension_of(device) if device else ""


def _mean(values: list[timedelta]) -> float | None:
    if not values:
        return None
    return round(sum(v.total_seconds() for v in values) / len(values), 1)


def _only(ids: list[int]) -> int | None:
    """The customer of a call whose number one customer holds (none when shared)."""
    return ids[0] if len(ids) == 1 else None
