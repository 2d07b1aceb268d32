"""calls.missed_reason: an inbound call nobody served is missed, whatever the reason

Inbound calls stored as ``busy`` become ``missed``. The reason is filled from what is
stored: a ring (calls.rings) that ended ``rejected`` means the agent's phone rang and was
refused (declined), as does a leg hung up with Q.850 cause 21 (call rejected); a busy call
with neither was refused without ringing (busy, like a missed call whose dial status is
BUSY); every other missed call rang out unanswered (no_answer).

Revision ID: 8b4d2f6e1c73
Revises: 5e1a7c3b9d20
Create Date: 2026-12-07 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8b4d2f6e1c73"
down_revision: str | None = "5e1a7c3b9d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DECLINED = """(
    EXISTS (SELECT 1 FROM jsonb_array_elements(calls.rings) AS r(ring)
            WHERE r.ring->>'result' = 'rejected')
    OR EXISTS (SELECT 1 FROM call_legs
               WHERE call_legs.call_id = calls.id AND call_legs.hangup_cause = '21')
)"""

# Kept as names: tests run them on stored rows of their own.
FILL = (
    f"""UPDATE calls SET outcome = 'missed',
        missed_reason = CASE WHEN {_DECLINED} THEN 'declined' ELSE 'busy' END
    WHERE direction = 'inbound' AND outcome = 'busy'""",
    f"""UPDATE calls SET missed_reason = CASE
            WHEN {_DECLINED} THEN 'declined'
            WHEN dial_status = 'BUSY' THEN 'busy'
            ELSE 'no_answer' END
    WHERE direction = 'inbound' AND outcome = 'missed' AND missed_reason = ''""",
)
UNDO = (
    """UPDATE calls SET outcome = 'busy'
    WHERE direction = 'inbound' AND outcome = 'missed' AND missed_reason IN ('declined', 'busy')""",
)


def upgrade() -> None:
    op.add_column(
        "calls",
        sa.Column("missed_reason", sa.String(length=16), server_default="", nullable=False),
    )
    for statement in FILL:
        op.execute(statement)


def downgrade() -> None:
    for statement in UNDO:
        op.execute(statement)
    op.drop_column("calls", "missed_reason")
