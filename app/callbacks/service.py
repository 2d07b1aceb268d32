"""Callbacks: customers who called and did not get through (missed, abandoned, busy), one
open callback per number counting the attempts; an agent claims one and calls back; it is
done once a call to that number is answered (or the customer gets through themselves)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, NotFound
from app.models import Callback, Customer, CustomerPhone, Role, User
from telephony.model import CallEvent

OWED = ("missed", "abandoned", "busy")


def _at(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


class CallbackService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def track(
        self, events: Sequence[CallEvent], call_ids: dict[tuple[str, str], int]
    ) -> None:
        """From the calls that ended in this batch (inside the listener's transaction)."""
        for event in events:
            call = event.call
            key = (event.pbx, call.linkedid)
            if event.kind != "ended" or key not in call_ids or not call.customer_number:
                continue
            call_id = call_ids[key]
            if call.direction == "inbound" and call.outcome in OWED:
                await self._owe(
                    event.pbx,
                    call.customer_number,
                    call.customer_e164,
                    call.queue,
                    _at(call.started_at),
                    call_id,
                )
            elif call.outcome == "answered" and call.direction in ("inbound", "outbound"):
                reason = "called_back" if call.direction == "outbound" else "customer_got_through"
                await self._settle(
                    event.pbx, call.customer_number, call.customer_e164, call_id, reason
                )

    async def _owe(
        self, pbx: str, number: str, e164: str | None, queue: str, at: datetime, call_id: int
    ) -> None:
        stmt = insert(Callback).values(
            pbx=pbx,
            number=number,
            e164=e164,
            queue=queue,
            attempts=1,
            first_call_at=at,
            last_call_at=at,
            last_call_id=call_id,
            status="open",
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=["pbx", "number"],
                # The partial unique index's own predicate, literally (a bound parameter
                # would not let PostgreSQL match the index).
                index_where=text("status <> 'done'"),
                set_={
                    "attempts": Callback.attempts + 1,
                    "last_call_at": stmt.excluded.last_call_at,
                    "last_call_id": stmt.excluded.last_call_id,
                    "queue": stmt.excluded.queue,
                    "updated_at": datetime.now(UTC),
                },
            )
        )

    async def _settle(
        self, pbx: str, number: str, e164: str | None, call_id: int, reason: str
    ) -> None:
        same = Callback.number == number
        if e164:
            same = or_(same, Callback.e164 == e164)
        await self.session.execute(
            update(Callback)
            .where(Callback.pbx == pbx, Callback.status != "done", same)
            .values(
                status="done", done_at=datetime.now(UTC), done_call_id=call_id, done_reason=reason
            )
        )

    async def holders(self, e164s: Sequence[str]) -> dict[str, tuple[int, str]]:
        """The (first) customer holding each number."""
        if not e164s:
            return {}
        stmt = (
            select(CustomerPhone.e164, Customer.id, Customer.name)
            .join(Customer, Customer.id == CustomerPhone.customer_id)
            .where(CustomerPhone.e164.in_(sorted(set(e164s))))
            .order_by(CustomerPhone.e164, Customer.id)
        )
        out: dict[str, tuple[int, str]] = {}
        for e164, customer_id, name in (await self.session.execute(stmt)).all():
            out.setdefault(e164, (customer_id, name))
        return out

    async def listing(self, user: User, status: str, mine: bool, limit: int) -> list[Callback]:
        stmt = select(Callback).where(Callback.status == status)
        if mine:
            stmt = stmt.where(Callback.claimed_by_user_id == user.id)
        order = Callback.last_call_at.desc() if status == "done" else Callback.first_call_at
        return list((await self.session.execute(stmt.order_by(order).limit(limit))).scalars())

    async def claim(self, user: User, callback_id: int, claim: bool) -> Callback:
        callback = await self.session.get(Callback, callback_id, with_for_update=True)
        if callback is None:
            raise NotFound("no such callback")
        if callback.status == "done":
            raise Conflict("this callback is already done")
        if claim:
            if callback.status == "claimed" and callback.claimed_by_user_id != user.id:
                raise Conflict("another agent has claimed this callback")
            callback.status = "claimed"
            callback.claimed_by_user_id = user.id
            callback.claimed_at = datetime.now(UTC)
        else:
            if callback.claimed_by_user_id != user.id and user.role == Role.agent.value:
                raise Conflict("only the agent who claimed it (or a supervisor) can release it")
            callback.status = "open"
            callback.claimed_by_user_id = None
            callback.claimed_at = None
        await self.session.flush()
        return callback
