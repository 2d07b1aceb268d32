"""Automatic tracking codes: one per answered inbound call, owned by the agent who answered,
for the customer holding the number; a code drawn that is already taken is drawn again,
the taken one stays its case's; a call that has its code gets no second one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Call, Role, TrackingCode, TrackingCodeCall
from app.tracking import codes
from tests.fixtures.factories import make_customer, make_user
from tests.fixtures.recorder import InlineRecorder
from tests.telephony.replay import replay


async def test_a_code_already_taken_is_drawn_again(
    app: FastAPI, session: AsyncSession, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sara = await make_user(session, Role.agent, devices=["PJSIP/1001"])
    ali = await make_customer(session, settings, "علی رضایی", ("0912 123 4567",))
    taken = TrackingCode(code=codes.new_code(), subject="an older case", automatic=False)
    session.add(taken)
    await session.flush()
    fresh = next(c for c in iter(codes.new_code, None) if c != taken.code)
    draws: Iterator[str] = iter([taken.code, fresh])
    monkeypatch.setattr(codes, "new_code", lambda: next(draws))

    _, events = replay("A1_persian_name_direct_answered")
    recorder = InlineRecorder(app.state.sessionmaker, settings=settings)
    await recorder(events)
    await recorder(events)  # the same call again: it has its code already

    call = (await session.execute(select(Call))).scalar_one()
    linked = (
        await session.execute(
            select(TrackingCode)
            .join(TrackingCodeCall, TrackingCodeCall.tracking_code_id == TrackingCode.id)
            .where(TrackingCodeCall.call_id == call.id)
        )
    ).scalars()
    [code] = linked
    assert code.code == fresh
    assert (code.status, code.subject, code.automatic) == ("open", "", True)
    assert (code.owner_user_id, code.customer_id) == (sara.id, ali.id)
    await session.refresh(taken)
    assert (taken.subject, taken.automatic, taken.customer_id) == ("an older case", False, None)
    assert len((await session.execute(select(TrackingCode))).scalars().all()) == 2
