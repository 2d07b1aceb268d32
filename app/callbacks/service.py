"""Callbacks: customers who called and did not get through (missed, abandoned, busy), one
open callback per number counting the attempts; an agent claims one and calls back; it is
done once a call to that number is answered (or the customer gets through themselves)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import DateTime, Table, bindparam, literal_column, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.errors import Conflict, NotFound
from app.integrations import events as ev
from app.integrations.service import emit
from app.models import Callback, Customer, CustomerPhone, Role, User
from telephony.model import CallEvent

OWED = ("missed", "abandoned", "busy")


def _at(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


@cache
def _owe() -> Any:
    """The callbacks' upsert, built once: a batch's rows go as its parameters (each number
    once), not as a VALUES list built and compiled again for every batch."""
    callbacks = cast(Table, Callback.__table__)
    stmt = insert(callbacks)
    return stmt.on_conflict_do_update(
        index_elements=["pbx", "number"],
        # The partial unique index's own predicate, literally (a bound parameter would not
        # let PostgreSQL match the index).
        index_where=text("status <> 'done'"),
        set_={
            "attempts": callbacks.c.attempts + stmt.excluded.attempts,
            "last_call_at": stmt.excluded.last_call_at,
            "last_call_id": stmt.excluded.last_call_id,
            "queue": stmt.excluded.queue,
            "updated_at": bindparam("updated_now", type_=DateTime(timezone=True)),
        },
    ).returning(
        callbacks.c.id,
        callbacks.c.pbx,
        callbacks.c.number,
        callbacks.c.e164,
        callbacks.c.queue,
        callbacks.c.attempts,
        callbacks.c.last_call_id,
        # A row the upsert inserted (not updated) has no deleting transaction yet.
        literal_column("(xmax = 0)").label("created"),
    )


class CallbackService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def track(
        self, events: Sequence[CallEvent], call_ids: dict[tuple[str, str], int]
    ) -> None:
        """From the calls that ended in this batch (inside the listener's transaction): the
        unanswered ones owed in one statement, the answered ones settling what they answer
        (looked up in one query; usually nothing)."""
        owed: dict[tuple[str, str], dict[str, Any]] = {}
        answered: list[tuple[str, str, str | None, int, str]] = []
        for event in events:
            call = event.call
            key = (event.pbx, call.linkedid)
            if event.kind != "ended" or key not in call_ids or not call.customer_number:
                continue
            call_id = call_ids[key]
            if call.direction == "inbound" and call.outcome in OWED:
                at = _at(call.started_at)
                row = owed.get((event.pbx, call.customer_number))
                if row is None:
                    owed[(event.pbx, call.customer_number)] = {
                        "pbx": event.pbx,
                        "number": call.customer_number,
                        "e164": call.customer_e164,
                        "queue": call.queue,
                        "attempts": 1,
                        "first_call_at": at,
                        "last_call_at": at,
                        "last_call_id": call_id,
                        "status": "open",
                    }
                else:
                    row.update(
                        attempts=row["attempts"] + 1,
                        last_call_at=at,
                        last_call_id=call_id,
                        queue=call.queue,
                    )
            elif call.outcome == "answered" and call.direction in ("inbound", "outbound"):
                reason = "called_back" if call.direction == "outbound" else "customer_got_through"
                answered.append(
                    (event.pbx, call.customer_number, call.customer_e164, call_id, reason)
                )
        if answered:
            await self._settle_many(answered)
        if owed:
            await self._owe_many(list(owed.values()))

    async def _owe_many(self, rows: list[dict[str, Any]]) -> None:
        now = datetime.now(UTC)
        result = await self.session.execute(_owe(), [{**row, "updated_now": now} for row in rows])
        # A callback newly owed is news for the integrations; another missed call of a
        # number already owed one only counts an attempt more.
        created = [
            ev.envelope(
                ev.CALLBACK_CREATED,
                {
                    "callback_id": r.id,
                    "pbx": r.pbx,
                    "number": r.number,
                    "e164": r.e164,
                    "queue": r.queue,
                    "attempts": r.attempts,
                    "call_id": r.last_call_id,
                },
            )
            for r in result.all()
            if r.created
        ]
        await emit(self.session, created)

    async def _settle_many(self, answered: list[tuple[str, str, str | None, int, str]]) -> None:
        numbers = sorted({n for _, n, _, _, _ in answered})
        e164s = sorted({e for _, _, e, _, _ in answered if e})
        cond: ColumnElement[bool] = Callback.number.in_(numbers)
        if e164s:
            cond = or_(cond, Callback.e164.in_(e164s))
        open_ones = list(
            (
                await self.session.execute(select(Callback).where(Callback.status != "done", cond))
            ).scalars()
        )
        for callback in open_ones:
            for pbx, number, e164, call_id, reason in answered:
                if callback.pbx == pbx and (
                    callback.number == number or (e164 and callback.e164 == e164)
                ):
                    callback.status = "done"
                    callback.done_at = datetime.now(UTC)
                    callback.done_call_id = call_id
                    callback.done_reason = reason
                    break
        if open_ones:
            await self.session.flush()

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
