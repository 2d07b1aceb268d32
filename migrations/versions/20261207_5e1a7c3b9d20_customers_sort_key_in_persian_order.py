"""customers.sort_key in Persian alphabetical order, compared by code point ("C")

The key was the normalised name, whose code-point order puts پ چ ژ ک گ after و and ه
before و. It becomes app.textnorm.order_key(name): the same text with each Persian letter
(then each Latin letter) moved to the Private Use Area in alphabetical order. The mapping is
one character to one, so the stored keys are translated in place (no Python over the rows).

Revision ID: 5e1a7c3b9d20
Revises: 579dffb0e4f5
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1a7c3b9d20"
down_revision: str | None = "579dffb0e4f5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of app.textnorm's table as of this revision.
_LETTERS = "ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی"
_LATIN = "abcdefghijklmnopqrstuvwxyz"
_FROM = _LETTERS + _LATIN
_TO = "".join(chr(0xF000 + i) for i in range(len(_LETTERS))) + "".join(
    chr(0xF100 + i) for i in range(len(_LATIN))
)


def upgrade() -> None:
    op.alter_column(
        "customers",
        "sort_key",
        existing_type=sa.String(length=200),
        type_=sa.String(length=200, collation="C"),
        existing_nullable=False,
    )
    op.get_bind().execute(
        sa.text("UPDATE customers SET sort_key = translate(sort_key, :src, :dst)"),
        {"src": _FROM, "dst": _TO},
    )


def downgrade() -> None:
    op.get_bind().execute(
        sa.text("UPDATE customers SET sort_key = translate(sort_key, :src, :dst)"),
        {"src": _TO, "dst": _FROM},
    )
    op.alter_column(
        "customers",
        "sort_key",
        existing_type=sa.String(length=200, collation="C"),
        type_=sa.String(length=200),
        existing_nullable=False,
    )
