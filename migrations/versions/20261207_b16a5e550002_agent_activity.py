"""agent activity: every interval of each agent's state, per queue and overall

Revision ID: b16a5e550002
Revises: b16a5e550001
Create Date: 2026-12-07 17:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b16a5e550002"
down_revision: str | None = "b16a5e550001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_activity",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("pbx", sa.String(length=64), nullable=False),
        sa.Column("interface", sa.String(length=200), nullable=False),
        sa.Column("queue", sa.String(length=80), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=80), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_agent_activity_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_activity")),
    )
    op.create_index("ix_agent_activity_user_id_ended_at", "agent_activity", ["user_id", "ended_at"])
    op.create_index(
        "ix_agent_activity_user_id_started_at", "agent_activity", ["user_id", "started_at"]
    )
    op.create_index(
        "uq_agent_activity_open",
        "agent_activity",
        ["pbx", "interface", "queue"],
        unique=True,
        postgresql_where=sa.text("ended_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("agent_activity")
