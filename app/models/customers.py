from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, TimestampMixin


class CustomerKind(StrEnum):
    person = "person"
    organization = "organization"


class Priority(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    VIP = "VIP"


class Customer(TimestampMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint("kind IN ('person', 'organization')", name="kind"),
        CheckConstraint("priority IN ('A', 'B', 'C', 'VIP')", name="priority"),
        Index("ix_customers_search_vector", "search_vector", postgresql_using="gin"),
        Index("ix_customers_tags", "tags", postgresql_using="gin"),
        Index("ix_customers_sort_key_id", "sort_key", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=CustomerKind.person.value)
    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str | None] = mapped_column(String(254))
    notes: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    priority: Mapped[str | None] = mapped_column(String(8))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # An id from another system (the CSV a customer list came from); re-imports match on it.
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    # The name's order key (Persian alphabetical order, app.textnorm.order_key), the order of
    # the phonebook and its keyset cursor. Compared by code point on every server: "C".
    sort_key: Mapped[str] = mapped_column(String(200, collation="C"), default="")
    # Normalised words of name, company, email and every number's digit suffixes.
    # Weights: A name, B company, C numbers, D email and tags (filters pick one weight).
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR, server_default=text("''::tsvector"), deferred=True, deferred_raiseload=True
    )

    phones: Mapped[list[CustomerPhone]] = relationship(
        back_populates="customer",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="CustomerPhone.id",
    )


class CustomerPhone(Base):
    __tablename__ = "customer_phones"
    __table_args__ = (
        UniqueConstraint("customer_id", "e164", "extension", name="uq_customer_phones_number"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    # E.164 without the extension: the key every lookup (and every screen-pop) uses.
    e164: Mapped[str] = mapped_column(String(20), index=True)
    # "" when there is none, so that the unique constraint holds without NULL semantics.
    extension: Mapped[str] = mapped_column(String(10), default="", server_default="")
    raw: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(32), default="mobile")

    customer: Mapped[Customer] = relationship(back_populates="phones", lazy="raise")


class CustomerTerm(Base):
    """One beginning of one of a customer's search words, in name order: the phonebook's
    typeahead reads one range of the primary key per typed word (``field``, ``term``), already
    in the phonebook's order, instead of sorting every match of a common beginning.

    Written by the database, not the app: a trigger on customers derives the rows from
    ``search_vector`` and ``sort_key`` (``customer_terms_of``, see the migration), so every
    writer of the vector keeps them. Field 0: up to 32 letters of every word of the name,
    company, email and tags, and every 3- and 4-digit run of a number; field 1: the company's
    words alone (the company filter); field 2: each tag whole (the tag filter). No foreign
    key: the trigger removes a deleted customer's rows by their keys, which needs no index
    on ``customer_id``."""

    __tablename__ = "customer_terms"

    # Declared in this order (bigint first): no alignment padding inside a row.
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    field: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    term: Mapped[str] = mapped_column(Text(collation="C"), primary_key=True)
    sort_key: Mapped[str] = mapped_column(String(200, collation="C"), primary_key=True)

    __table_args__ = (
        PrimaryKeyConstraint("field", "term", "sort_key", "customer_id", name="pk_customer_terms"),
    )


# Fields of customer_terms.
TERM_ANY = 0
TERM_COMPANY = 1
TERM_TAG = 2
