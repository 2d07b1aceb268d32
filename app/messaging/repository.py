"""The outbox's SQL: queueing (once per cause), the workers' claim with ``FOR UPDATE SKIP
LOCKED`` and a lease, the outcome of each try fenced by the claim, delivery reports,
opt-outs and the triggers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    Contract,
    Customer,
    CustomerPhone,
    SmsMessage,
    SmsOptOut,
    SmsTrigger,
)

# Due messages, oldest first, that no other worker holds (queued ones whose time came, and
# claimed ones whose lease ran out: a claim sets next_attempt_at to the lease's end, so one
# index serves both). The lease is the database's clock, as is every comparison with it.
_CLAIM = text(
    """
    UPDATE sms_outbox SET status = 'sending', attempts = attempts + 1,
           claimed_by = :worker,
           lease_until = now() + make_interval(secs => CAST(:lease AS double precision)),
           next_attempt_at = now() + make_interval(secs => CAST(:lease AS double precision)),
           updated_at = now()
    WHERE id IN (
        SELECT id FROM sms_outbox
        WHERE status IN ('queued', 'sending') AND next_attempt_at <= now()
        ORDER BY next_attempt_at, id
        LIMIT :n
        FOR UPDATE SKIP LOCKED)
    RETURNING id, number, body, attempts
    """
)

# An outcome is written only by the worker that holds the claim: a worker whose lease ran
# out (it stalled) and whose message another worker took over writes nothing.
_DONE = text(
    """
    UPDATE sms_outbox SET status = CAST(:status AS varchar), provider = :provider,
           provider_message_id = :message_id, sent_at = now(), lease_until = NULL,
           last_error = '', updated_at = now(),
           delivered_at = CASE WHEN CAST(:status AS varchar) = 'delivered' THEN now() END
    WHERE id = :id AND claimed_by = :worker AND status = 'sending'
    """
)
_RETRY = text(
    """
    UPDATE sms_outbox SET status = CAST(:status AS varchar), lease_until = NULL,
           last_error = :error, updated_at = now(),
           next_attempt_at = now() + make_interval(secs => CAST(:wait AS double precision))
    WHERE id = :id AND claimed_by = :worker AND status = 'sending'
    """
)


@dataclass(frozen=True)
class Claimed:
    id: int
    number: str
    body: str
    attempts: int


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- queueing ---------------------------------------------------------------------------

    async def lock_number(self, number: str) -> None:
        """Until this transaction ends, others queueing to ``number`` wait (the rate limit
        counts what they would add)."""
        await self.session.execute(select(func.pg_advisory_xact_lock(0x5A5, func.hashtext(number))))

    async def count_recent(self, number: str, since: datetime) -> int:
        stmt = select(func.count()).where(
            SmsMessage.number == number,
            SmsMessage.created_at >= since,
            SmsMessage.status != "cancelled",
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def insert(self, row: dict[str, Any]) -> SmsMessage | None:
        """The message, or None when its cause queued one already."""
        stmt = (
            insert(SmsMessage)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(SmsMessage)
        )
        found = (await self.session.execute(stmt)).scalar_one_or_none()
        return found

    async def get(self, message_id: int) -> SmsMessage | None:
        return await self.session.get(SmsMessage, message_id)

    async def of_customer(self, customer_id: int, limit: int) -> Sequence[SmsMessage]:
        stmt = (
            select(SmsMessage)
            .where(SmsMessage.customer_id == customer_id)
            .order_by(SmsMessage.created_at.desc(), SmsMessage.id.desc())
            .limit(limit)
        )
        return (await self.session.execute(stmt)).scalars().all()

    async def of_call(self, call_id: int) -> Sequence[SmsMessage]:
        stmt = select(SmsMessage).where(SmsMessage.call_id == call_id).order_by(SmsMessage.id)
        return (await self.session.execute(stmt)).scalars().all()

    # -- the worker --------------------------------------------------------------------------

    async def claim(self, worker: str, n: int, lease_seconds: float) -> list[Claimed]:
        rows = await self.session.execute(
            _CLAIM, {"worker": worker, "n": n, "lease": lease_seconds}
        )
        return [Claimed(*r) for r in rows.all()]

    async def done(self, worker: str, results: list[dict[str, Any]]) -> None:
        """results: id, status, provider, message_id."""
        if results:
            await self.session.execute(_DONE, [{**r, "worker": worker} for r in results])

    async def retry(self, worker: str, rows: list[dict[str, Any]]) -> None:
        """rows: id, status (queued again, or failed/cancelled for good), error, wait."""
        if rows:
            await self.session.execute(_RETRY, [{**r, "worker": worker} for r in rows])

    async def opted_out(self, numbers: Sequence[str]) -> set[str]:
        if not numbers:
            return set()
        stmt = select(SmsOptOut.number).where(SmsOptOut.number.in_(sorted(set(numbers))))
        return set((await self.session.execute(stmt)).scalars())

    async def awaiting_report(
        self, provider: str, sent_before: datetime, sent_after: datetime, limit: int
    ) -> list[str]:
        stmt = (
            select(SmsMessage.provider_message_id)
            .where(
                SmsMessage.status == "sent",
                SmsMessage.provider == provider,
                SmsMessage.provider_message_id != "",
                SmsMessage.sent_at < sent_before,
                SmsMessage.sent_at > sent_after,
            )
            .order_by(SmsMessage.sent_at)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def report(self, provider: str, states: dict[str, str]) -> int:
        """Delivery states by the provider's message id; a delivered or failed message is
        not moved back to sent. How many changed."""
        if not states:
            return 0
        stmt = (
            update(SmsMessage)
            .where(
                SmsMessage.provider == provider,
                SmsMessage.provider_message_id == bindparam("mid"),
                SmsMessage.status == "sent",
                bindparam("state") != "sent",
            )
            .values(
                status=bindparam("state"),
                delivered_at=func.now(),
                updated_at=func.now(),
            )
            .execution_options(synchronize_session=False)
        )
        changed = 0
        for mid, state in states.items():
            result = await self.session.execute(stmt, {"mid": mid, "state": state})
            changed += int(getattr(result, "rowcount", 0) or 0)
        return changed

    # -- opt-outs and triggers ---------------------------------------------------------------

    async def opt_outs(self, limit: int) -> Sequence[SmsOptOut]:
        stmt = select(SmsOptOut).order_by(SmsOptOut.created_at.desc()).limit(limit)
        return (await self.session.execute(stmt)).scalars().all()

    async def add_opt_out(self, number: str, reason: str, user_id: int | None) -> SmsOptOut:
        stmt = (
            insert(SmsOptOut)
            .values(number=number, reason=reason, by_user_id=user_id)
            .on_conflict_do_update(index_elements=["number"], set_={"reason": reason})
            .returning(SmsOptOut)
        )
        return (await self.session.execute(stmt)).scalar_one()

    async def remove_opt_out(self, number: str) -> bool:
        result = await self.session.execute(delete(SmsOptOut).where(SmsOptOut.number == number))
        return bool(getattr(result, "rowcount", 0))

    async def cancel_queued_to(self, number: str, reason: str) -> None:
        await self.session.execute(
            update(SmsMessage)
            .where(SmsMessage.number == number, SmsMessage.status == "queued")
            .values(status="cancelled", last_error=reason, updated_at=func.now())
        )

    async def triggers(self) -> Sequence[SmsTrigger]:
        return (
            (await self.session.execute(select(SmsTrigger).order_by(SmsTrigger.trigger)))
            .scalars()
            .all()
        )

    async def put_trigger(self, trigger: str, enabled: bool, fa: str, en: str) -> SmsTrigger:
        stmt = (
            insert(SmsTrigger)
            .values(trigger=trigger, enabled=enabled, template_fa=fa, template_en=en)
            .on_conflict_do_update(
                index_elements=["trigger"],
                set_={
                    "enabled": enabled,
                    "template_fa": fa,
                    "template_en": en,
                    "updated_at": func.now(),
                },
            )
            .returning(SmsTrigger)
        )
        return (await self.session.execute(stmt)).scalar_one()

    # -- causes found by sweeps --------------------------------------------------------------

    async def contracts_ending(self, on: date) -> list[tuple[int, int, str, date, str, list[str]]]:
        """Contracts whose last day is ``on``: (contract, customer, name, ends_on, level,
        the customer's numbers in the order they were added)."""
        phones = (
            select(func.array_agg(aggregate_order_by(CustomerPhone.e164, CustomerPhone.id)))
            .where(CustomerPhone.customer_id == Customer.id)
            .scalar_subquery()
        )
        stmt = (
            select(
                Contract.id, Customer.id, Customer.name, Contract.ends_on, Contract.level, phones
            )
            .join(Customer, Customer.id == Contract.customer_id)
            .where(Contract.ends_on == on)
            .order_by(Contract.id)
        )
        return [
            (a, b, c, d, e, list(f or []))
            for a, b, c, d, e, f in (await self.session.execute(stmt)).all()
        ]
