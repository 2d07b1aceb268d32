"""QA forms and reviews; the single 1-5 call review becomes a review with the built-in
"call score" form (every existing one moved over, then call_reviews dropped)

Revision ID: b16a5e550003
Revises: 256d2b6ef91f
Create Date: 2026-12-07 17:45:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b16a5e550003"
down_revision: str | None = "256d2b6ef91f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# app.supervision.qa.QUICK_FORM, as it stood when this migration was written.
QUICK_SECTIONS = [
    {
        "title": "Call",
        "questions": [
            {
                "key": "score",
                "text": "Overall, how was the call? (1-5)",
                "kind": "scale",
                "weight": 1.0,
                "critical": False,
            }
        ],
    }
]


def upgrade() -> None:
    op.create_table(
        "qa_forms",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("sections", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_by_user_id", sa.BigInteger(), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_qa_forms_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_forms")),
        sa.UniqueConstraint("key", name=op.f("uq_qa_forms_key")),
    )
    op.create_table(
        "qa_reviews",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("form_id", sa.BigInteger(), nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=False),
        sa.Column("reviewer_user_id", sa.BigInteger(), nullable=True),
        sa.Column("agent_user_id", sa.BigInteger(), nullable=True),
        sa.Column("sections", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("answers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("raw_score", sa.Float(), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("agent_comment", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_user_id"],
            ["users.id"],
            name=op.f("fk_qa_reviews_agent_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_qa_reviews_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["qa_forms.id"],
            name=op.f("fk_qa_reviews_form_id_qa_forms"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_user_id"],
            ["users.id"],
            name=op.f("fk_qa_reviews_reviewer_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_reviews")),
    )
    op.create_index(
        "ix_qa_reviews_agent_user_id_created_at",
        "qa_reviews",
        ["agent_user_id", "created_at"],
        unique=False,
    )
    op.create_index(op.f("ix_qa_reviews_call_id"), "qa_reviews", ["call_id"], unique=False)
    sections = json.dumps(QUICK_SECTIONS)
    op.execute(
        sa.text(
            "INSERT INTO qa_forms (key, name, description, sections, is_active) VALUES "
            "('call-score', 'Call score', 'One score from 1 to 5 for the whole call.', "
            "CAST(:sections AS jsonb), true)"
        ).bindparams(sections=sections)
    )
    # Every 1-5 review as a review with that form: score 1 -> 0 %, 5 -> 100 %.
    op.execute(
        sa.text(
            "INSERT INTO qa_reviews (form_id, call_id, reviewer_user_id, agent_user_id, sections,"
            " answers, score, raw_score, failed, comment, status, agent_comment, created_at,"
            " seen_at) "
            "SELECT f.id, r.call_id, r.reviewer_user_id, r.agent_user_id, f.sections,"
            " jsonb_build_object('score', r.score), (r.score - 1) * 25.0, (r.score - 1) * 25.0,"
            " false, r.comment, 'submitted', '', r.created_at, r.seen_at "
            "FROM call_reviews r CROSS JOIN qa_forms f WHERE f.key = 'call-score' ORDER BY r.id"
        )
    )
    op.drop_table("call_reviews")


def downgrade() -> None:
    op.create_table(
        "call_reviews",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=False),
        sa.Column("reviewer_user_id", sa.BigInteger(), nullable=True),
        sa.Column("agent_user_id", sa.BigInteger(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_user_id"],
            ["users.id"],
            name=op.f("fk_call_reviews_agent_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_call_reviews_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_user_id"],
            ["users.id"],
            name=op.f("fk_call_reviews_reviewer_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_reviews")),
    )
    op.create_index(
        op.f("ix_call_reviews_agent_user_id"), "call_reviews", ["agent_user_id"], unique=False
    )
    op.create_index(op.f("ix_call_reviews_call_id"), "call_reviews", ["call_id"], unique=False)
    # Only the call-score reviews fit the old table.
    op.execute(
        "INSERT INTO call_reviews (call_id, reviewer_user_id, agent_user_id, score, comment, "
        "created_at, seen_at) SELECT r.call_id, r.reviewer_user_id, r.agent_user_id, "
        "(r.answers->>'score')::int, r.comment, r.created_at, r.seen_at FROM qa_reviews r "
        "JOIN qa_forms f ON f.id = r.form_id WHERE f.key = 'call-score' ORDER BY r.id"
    )
    op.drop_table("qa_reviews")
    op.drop_table("qa_forms")
