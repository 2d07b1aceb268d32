"""spy sessions: supervisors' listen, whisper and barge, audited

Revision ID: b16a5e550001
Revises: a7c2e9d41b3f
Create Date: 2026-12-07 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b16a5e550001"
down_revision: str | None = "a7c2e9d41b3f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "spy_sessions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("ref", sa.String(length=48), nullable=False),
        sa.Column("pbx", sa.String(length=64), nullable=False),
        sa.Column("supervisor_user_id", sa.BigInteger(), nullable=True),
        sa.Column("agent_user_id", sa.BigInteger(), nullable=True),
        sa.Column("call_id", sa.BigInteger(), nullable=True),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("agent_channel", sa.String(length=200), nullable=False),
        sa.Column("supervisor_device", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("failure", sa.String(length=32), nullable=False),
        sa.Column("uniqueid", sa.String(length=64), nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_user_id"],
            ["users.id"],
            name=op.f("fk_spy_sessions_agent_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_spy_sessions_call_id_calls"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["supervisor_user_id"],
            ["users.id"],
            name=op.f("fk_spy_sessions_supervisor_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spy_sessions")),
        sa.UniqueConstraint("ref", name=op.f("uq_spy_sessions_ref")),
    )
    op.create_index(
        op.f("ix_spy_sessions_agent_user_id"), "spy_sessions", ["agent_user_id"], unique=False
    )
    op.create_index(
        "ix_spy_sessions_pbx_uniqueid", "spy_sessions", ["pbx", "uniqueid"], unique=False
    )
    op.create_index("ix_spy_sessions_requested_at", "spy_sessions", ["requested_at"], unique=False)
    op.create_index(
        op.f("ix_spy_sessions_supervisor_user_id"),
        "spy_sessions",
        ["supervisor_user_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("spy_sessions")
