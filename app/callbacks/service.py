"""Callbacks: customers who called and did not get through (missed, whatever the
reason, or abandoned), one
open callback per number counting the attempts; or scheduled by an agent, or asked for by a
caller waiting in a queue. Each is due at a time, for an agent or a queue; an agent claims
one and calls back (click-to-call links the call to it); each try's outcome goes through
the retry policy; it is done once a call to that number is answered (or the customer gets
through themselves), or dismissed with a reason."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import DateTime, Table, bindparam, literal_column, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.callbacks.policy import after_try
from app.callbacks.repository import CallbackRepository
from app.callbacks.schemas import CallbackCreate, CallbackUpdate
from app.config import Settings
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.followups.due import due_from
from app.integrations import events as ev
from app.integrations.service import emit
from app.models import Callback, CallbackAttempt, Customer, CustomerPhone, Origination, Role, User
from app.phones import try_parse_phone
from telephony.model import CallEvent

OWED = ("missed", "abandoned")


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


# A click-to-call's outcome as a try at a callback ("failed": the customer was never
# dialled, e.g. the agent's own phone was not answered: no try).
_TRY_OF_CALL = {"answered": "reached", "busy": "busy", "no_answer": "no_answer"}


def _done(callback: Callback, reason: str, by: int | None, note: str = "") -> None:
    callback.status = "done"
    callback.done_at = datetime.now(UTC)
    callback.done_reason = reason
    callback.done_by_user_id = by
    if note:
        callback.done_note = note


class CallbackService:
    def __init__(self, session: AsyncSession, settings: Settings | None = None) -> None:
        self.session = session
        self.settings = settings
        self.repo = CallbackRepository(session)

    def _policy(self) -> tuple[int, int]:
        if self.settings is None:
            return 3, 30
        return self.settings.callback_max_tries, self.settings.callback_retry_minutes

    async def track(
        self, events: Sequence[CallEvent], call_ids: dict[tuple[str, str], int]
    ) -> None:
        """From the calls that ended in this batch (inside the listener's transaction): the
        unanswered ones owed in one statement, the answered ones settling what they answer
        (looked up in one query; usually nothing)."""
        owed: dict[tuple[str, str], dict[str, Any]] = {}
        answered: list[tuple[str, str, str | None, int, str]] = []
        tries, spacing = self._policy()
        placed = {
            e.call.origination: (e, call_ids[(e.pbx, e.call.linkedid)])
            for e in events
            if e.kind == "ended"
            and e.call.origination
            and e.call.direction == "outbound"
            and (e.pbx, e.call.linkedid) in call_ids
        }
        if placed:
            await self._tried(placed)
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
                        "due_at": at,
                        "max_tries": tries,
                        "retry_minutes": spacing,
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

    async def _tried(self, placed: dict[str, tuple[CallEvent, int]]) -> None:
        """Click-to-calls placed for callbacks that ended: each a try, through the policy."""
        for callback in await self.repo.by_origination_refs(list(placed)):
            assert callback.origination_ref is not None
            event, call_id = placed[callback.origination_ref]
            outcome = _TRY_OF_CALL.get(event.call.outcome)
            callback.origination_ref = None
            if outcome is None:
                continue
            user_id = await self.repo.originator(event.call.origination)
            await self._record(callback, outcome, user_id, call_id, "")

    async def _record(
        self, callback: Callback, outcome: str, user_id: int | None, call_id: int | None, note: str
    ) -> None:
        await self.repo.add_attempt(
            CallbackAttempt(
                callback_id=callback.id,
                user_id=user_id,
                call_id=call_id,
                outcome=outcome,
                note=note,
            )
        )
        now = datetime.now(UTC)
        callback.tries += 1
        callback.last_outcome = outcome
        step = after_try(outcome, callback.tries, callback.max_tries, callback.retry_minutes, now)
        if step.done:
            reason = "called_back" if step.reason == "reached" else step.reason
            _done(callback, reason, user_id)
            if outcome == "reached":
                callback.done_call_id = call_id
        else:
            assert step.due_at is not None
            callback.due_at = step.due_at
            callback.popped_at = None
        await self.session.flush()

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

    async def listing(
        self, user: User, status: str, mine: bool, limit: int, due_only: bool = False
    ) -> list[Callback]:
        """``status`` open, claimed, done, or due (not done, by due time); ``mine``: claimed
        by or assigned to the user; ``due_only``: due by now."""
        return await self.repo.listing(
            status, user.id if mine else None, datetime.now(UTC) if due_only else None, limit
        )

    async def get(self, callback_id: int, *, lock: bool = False) -> Callback:
        callback = await self.repo.get(callback_id, lock=lock)
        if callback is None:
            raise NotFound("no such callback")
        return callback

    async def _open(self, callback_id: int) -> Callback:
        callback = await self.get(callback_id, lock=True)
        if callback.status == "done":
            raise Conflict("this callback is already done")
        return callback

    async def requested(self, pbx: str, number: str, queue: str) -> Callback:
        """A caller waiting in ``queue`` asked to be called back (the PBX's dialplan): a
        callback due now for the queue's agents."""
        body = CallbackCreate(number=number, queue=queue, pbx=pbx)
        return await self.create(None, body, source="queue")

    async def _assignee(self, user: User, assigned_user_id: int | None) -> int | None:
        if assigned_user_id is None:
            return None
        if assigned_user_id != user.id and user.role == Role.agent.value:
            raise PermissionDenied("agents assign callbacks to themselves (or a queue)")
        if await self.repo.active_user(assigned_user_id) is None:
            raise NotFound("no such active user", field="assigned_user_id")
        return assigned_user_id

    def _due(self, at: str | None, in_minutes: int | None) -> datetime:
        assert self.settings is not None
        try:
            return due_from(at=at, in_minutes=in_minutes, zone=self.settings.time_zone)
        except ValueError as exc:
            raise InvalidInput(str(exc), field="due_at") from None

    async def create(
        self, user: User | None, body: CallbackCreate, *, source: str = "manual"
    ) -> Callback:
        """A callback to make (``source`` manual, or queue when the caller asked from the
        queue). A number that already has an open callback gets that one, rescheduled,
        reassigned, with the note added: one open callback per number."""
        assert self.settings is not None
        parsed = try_parse_phone(
            body.number,
            self.settings.default_region,
            default_area_code=self.settings.default_area_code,
        )
        if parsed is None:
            raise InvalidInput("not a phone number", field="number")
        pbx = body.pbx or (self.settings.pbxes[0].id if self.settings.pbxes else "")
        if body.pbx and body.pbx not in {p.id for p in self.settings.pbxes}:
            raise InvalidInput("no such PBX", field="pbx")
        assignee = await self._assignee(user, body.assigned_user_id) if user else None
        due = self._due(body.due_at, body.in_minutes)
        # Any PBX's open callback for the number, unless one is named (then its own).
        existing = await self.repo.open_for_e164(parsed.e164, body.pbx)
        tries, spacing = self._policy()
        if existing is not None:
            existing.due_at = due
            existing.popped_at = None
            if assignee is not None:
                existing.assigned_user_id = assignee
            if body.queue:
                existing.queue = body.queue
            if body.note:
                existing.note = f"{existing.note}\n{body.note}".strip()
            if source == "queue":
                existing.attempts += 1
                existing.last_call_at = datetime.now(UTC)
            await self.session.flush()
            return existing
        now = datetime.now(UTC)
        return await self.repo.add(
            Callback(
                pbx=pbx,
                # From the queue: as the PBX gives it, as its missed calls are kept (the call
                # the caller leaves then merges into this callback).
                number=body.number.strip() if source == "queue" else parsed.e164,
                e164=parsed.e164,
                queue=body.queue,
                attempts=1 if source == "queue" else 0,
                first_call_at=now,
                last_call_at=now,
                status="open",
                source=source,
                due_at=due,
                assigned_user_id=assignee,
                created_by_user_id=user.id if user else None,
                note=body.note,
                max_tries=body.max_tries or tries,
                retry_minutes=body.retry_minutes or spacing,
            )
        )

    async def update(self, user: User, callback_id: int, body: CallbackUpdate) -> Callback:
        callback = await self._open(callback_id)
        self._may_change(user, callback)
        if body.due_at is not None or body.in_minutes is not None:
            callback.due_at = self._due(body.due_at, body.in_minutes)
            callback.popped_at = None
        if body.unassign:
            callback.assigned_user_id = None
        elif body.assigned_user_id is not None:
            callback.assigned_user_id = await self._assignee(user, body.assigned_user_id)
        if body.queue is not None:
            callback.queue = body.queue
        if body.note is not None:
            callback.note = body.note
        await self.session.flush()
        return callback

    def _may_change(self, user: User, callback: Callback) -> None:
        if user.role != Role.agent.value:
            return
        others = {callback.claimed_by_user_id, callback.assigned_user_id} - {None, user.id}
        if others:
            raise PermissionDenied("this callback is another agent's")

    async def attempt(
        self, user: User, callback_id: int, outcome: str, note: str, call_id: int | None
    ) -> Callback:
        """A try and how it went: reached or a wrong number ends it; no answer or busy
        reschedules it (``retry_minutes`` later) until its tries are used up."""
        callback = await self._open(callback_id)
        self._may_change(user, callback)
        await self._record(callback, outcome, user.id, call_id, note)
        return callback

    async def dismiss(self, user: User, callback_id: int, reason: str) -> Callback:
        callback = await self._open(callback_id)
        self._may_change(user, callback)
        _done(callback, "dismissed", user.id, reason.strip())
        await self.session.flush()
        return callback

    async def bulk(self, user: User, ids: Sequence[int], action: str, reason: str) -> int:
        """Supervisors: mark many seen, or dismiss many (with one reason)."""
        if action == "dismiss" and not reason.strip():
            raise InvalidInput("give the reason for dismissing", field="reason")
        changed = 0
        now = datetime.now(UTC)
        for callback in await self.repo.by_ids(ids):
            if action == "seen" and callback.seen_at is None:
                callback.seen_at, callback.seen_by_user_id = now, user.id
                changed += 1
            elif action == "dismiss" and callback.status != "done":
                _done(callback, "dismissed", user.id, reason.strip())
                changed += 1
        await self.session.flush()
        return changed

    async def dialling(self, user: User, callback_id: int, origination: Origination) -> None:
        """A click-to-call is placed for this callback: the user claims it, and the call's
        end is recorded as a try (``track``)."""
        callback = await self._open(callback_id)
        self._may_change(user, callback)
        if origination.e164 and callback.e164 and origination.e164 != callback.e164:
            raise InvalidInput("that is not this callback's number", field="number")
        callback.status = "claimed"
        callback.claimed_by_user_id = user.id
        callback.claimed_at = datetime.now(UTC)
        callback.origination_ref = origination.ref
        await self.session.flush()

    async def claim(self, user: User, callback_id: int, claim: bool) -> Callback:
        callback = await self._open(callback_id)
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
