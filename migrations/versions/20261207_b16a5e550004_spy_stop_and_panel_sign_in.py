"""spy_sessions.channel and stopped_by_user_id: a supervisor ends a listen from Tamas (AMI
Hangup of their own channel); agent_activity.seen_at: the agents' sign-in to Tamas, kept
beside the PBX's intervals

Revision ID: b16a5e550004
Revises: b16a5e550003
Create Date: 2026-12-07 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b16a5e550004"
down_revision: str | None = "b16a5e550003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "spy_sessions",
        sa.Column("channel", sa.String(length=200), nullable=False, server_default=""),
    )
    op.alter_column("spy_sessions", "channel", server_default=None)
    op.add_column("spy_sessions", sa.Column("stopped_by_user_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_spy_sessions_stopped_by_user_id_users"),
        "spy_sessions",
        "users",
        ["stopped_by_user_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.add_column("agent_activity", sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("agent_activity", "seen_at")
    op.drop_constraint(
        op.f("fk_spy_sessions_stopped_by_user_id_users"), "spy_sessions", type_="foreignkey"
    )
    op.drop_column("spy_sessions", "stopped_by_user_id")
    op.drop_column("spy_sessions", "channel")
