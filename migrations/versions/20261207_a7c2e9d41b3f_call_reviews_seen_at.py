"""call_reviews.seen_at: when the agent dismissed the review's notice (unread until then)

Revision ID: a7c2e9d41b3f
Revises: 8b4d2f6e1c73
Create Date: 2026-12-07 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7c2e9d41b3f"
down_revision: str | None = "8b4d2f6e1c73"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("call_reviews", sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True))
    # The reviews given before this revision were shown live already: not unread now.
    op.execute("UPDATE call_reviews SET seen_at = created_at")


def downgrade() -> None:
    op.drop_column("call_reviews", "seen_at")
