"""Supervisors on the floor: live listening sessions (every one audited) and the history
of every agent's state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class SpySession(Base):
    """One use of listen, whisper or barge: who listened, to whom, on which call, how, and
    from when to when. ``ref`` is the Originate's ActionID (the OriginateResponse comes back
    with it); ``uniqueid`` is the supervisor's channel, whose hangup ends the session."""

    __tablename__ = "spy_sessions"
    __table_args__ = (
        Index("ix_spy_sessions_requested_at", "requested_at"),
        Index("ix_spy_sessions_pbx_uniqueid", "pbx", "uniqueid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    ref: Mapped[str] = mapped_column(String(48), unique=True)
    pbx: Mapped[str] = mapped_column(String(64))
    supervisor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    agent_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    mode: Mapped[str] = mapped_column(String(8))  # listen | whisper | barge
    agent_channel: Mapped[str] = mapped_column(String(200))
    supervisor_device: Mapped[str] = mapped_column(String(100))
    # requested | active | ended | failed
    state: Mapped[str] = mapped_column(String(12), default="requested")
    failure: Mapped[str] = mapped_column(String(32), default="")
    uniqueid: Mapped[str] = mapped_column(String(64), default="")
    # The supervisor's channel name (PJSIP/1003-0000002b): what a Hangup from Tamas names.
    channel: Mapped[str] = mapped_column(String(200), default="")
    # Who ended it from Tamas (empty: the phone was put down, or the call ended).
    stopped_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    requested_at: Mapped[datetime] = mapped_column(server_default=func.now())
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class AgentActivity(Base):
    """One interval of an agent's state, from the PBX's own events: a row per membership
    (``queue`` set: what that queue saw) and a row per agent (``queue`` empty: the state
    across their queues, which the agent reports add up). ``ended_at`` is empty while it
    lasts; one open interval per (PBX, interface, queue) at most. Rows with ``pbx`` empty
    are not the PBX's: the agent signed in to Tamas (a panel open), a track of its own."""

    __tablename__ = "agent_activity"
    __table_args__ = (
        Index("ix_agent_activity_user_id_started_at", "user_id", "started_at"),
        Index("ix_agent_activity_user_id_ended_at", "user_id", "ended_at"),
        Index(
            "uq_agent_activity_open",
            "pbx",
            "interface",
            "queue",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    pbx: Mapped[str] = mapped_column(String(64))
    interface: Mapped[str] = mapped_column(String(200))
    queue: Mapped[str] = mapped_column(String(80), default="")  # "": the agent overall
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # idle | ringing | talking | pause | wrapup | unavailable
    state: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(80), default="")
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # Sign-in to Tamas (``pbx`` empty, state ``signed_in``): when a panel of theirs was last
    # known open; an interval nobody has seen for a while ends then.
    seen_at: Mapped[datetime | None]
