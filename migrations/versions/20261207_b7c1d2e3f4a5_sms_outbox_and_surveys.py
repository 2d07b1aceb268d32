"""SMS outbox, opt-outs, trigger templates; post-call survey answers

Revision ID: b7c1d2e3f4a5
Revises: 791203ae4e4e
Create Date: 2026-12-07 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c1d2e3f4a5"
down_revision: str | None = "791203ae4e4e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The triggers as they start: all off, with templates to edit (frozen copy).
_TRIGGERS = [
    (
        "tracking_code",
        "{name} عزیز، کد پیگیری درخواست شما: {code}",
        "Dear {name}, the tracking code of your request is {code}.",
    ),
    (
        "missed_call",
        "با پوزش، تماس شما بی‌پاسخ ماند. به‌زودی با شما تماس می‌گیریم.",
        "Sorry we missed your call; we will call you back shortly.",
    ),
    (
        "callback_scheduled",
        "{name} عزیز، {agent} به‌زودی با شما تماس می‌گیرد.",
        "Dear {name}, {agent} will call you back shortly.",
    ),
    (
        "contract_expiring",
        "{name} عزیز، قرارداد پشتیبانی {level} شما در {date} به پایان می‌رسد.",
        "Dear {name}, your {level} support contract ends on {date}.",
    ),
    (
        "survey_link",
        "از تماس شما سپاسگزاریم. لطفاً به گفت‌وگو با {agent} نمره دهید: {link}",
        "Thank you for calling. Please rate your call with {agent}: {link}",
    ),
]


def upgrade() -> None:
    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("call_id", sa.BigInteger(), nullable=True),
        sa.Column("sent_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_message_id", sa.String(length=100), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'cancelled')",
            name=op.f("ck_sms_outbox_status"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_sms_outbox_call_id_calls"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_sms_outbox_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sent_by_user_id"],
            ["users.id"],
            name=op.f("fk_sms_outbox_sent_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_sms_outbox_idempotency_key")),
    )
    op.create_index(
        "ix_sms_outbox_status_next_attempt_at", "sms_outbox", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_sms_outbox_customer_id_created_at", "sms_outbox", ["customer_id", "created_at"]
    )
    op.create_index("ix_sms_outbox_number_created_at", "sms_outbox", ["number", "created_at"])
    op.create_index("ix_sms_outbox_provider_message_id", "sms_outbox", ["provider_message_id"])
    op.create_table(
        "sms_opt_outs",
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("by_user_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["by_user_id"],
            ["users.id"],
            name=op.f("fk_sms_opt_outs_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_sms_opt_outs")),
    )
    triggers = op.create_table(
        "sms_triggers",
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("template_fa", sa.Text(), nullable=False),
        sa.Column("template_en", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("trigger", name=op.f("pk_sms_triggers")),
    )
    op.bulk_insert(
        triggers,
        [
            {"trigger": t, "enabled": False, "template_fa": fa, "template_en": en}
            for t, fa, en in _TRIGGERS
        ],
    )
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=False),
        sa.Column("question", sa.SmallInteger(), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("agent_user_id", sa.BigInteger(), nullable=True),
        sa.Column("queue", sa.String(length=80), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column(
            "answered_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name=op.f("ck_survey_answers_score")),
        sa.CheckConstraint("question BETWEEN 1 AND 2", name=op.f("ck_survey_answers_question")),
        sa.CheckConstraint("channel IN ('ivr', 'sms')", name=op.f("ck_survey_answers_channel")),
        sa.ForeignKeyConstraint(
            ["agent_user_id"],
            ["users.id"],
            name=op.f("fk_survey_answers_agent_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_survey_answers_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_answers")),
        sa.UniqueConstraint("call_id", "question", name="uq_survey_answers_call_question"),
    )
    op.create_index("ix_survey_answers_answered_at", "survey_answers", ["answered_at"])
    op.create_index(
        "ix_survey_answers_agent_user_id_answered_at",
        "survey_answers",
        ["agent_user_id", "answered_at"],
    )


def downgrade() -> None:
    op.drop_table("survey_answers")
    op.drop_table("sms_triggers")
    op.drop_table("sms_opt_outs")
    op.drop_table("sms_outbox")
