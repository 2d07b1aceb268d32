"""customer_terms: every beginning of every search word of a customer, in name order

The phonebook's typeahead asks for the first 20 customers, in name order, having a word
that begins with what was typed. The GIN index on search_vector finds the matches but not in
order (a common beginning matches 100,000 customers to sort); the name index gives the order
but not the matches (a walk of the name order reads most of the table for a rare one). This
table is keyed on both: one row per (field, beginning, sort_key, customer), so one typed
word is one range of the primary key, already in name order.

The rows are a function of the customer's search_vector and sort_key (``customer_terms_of``
and a trigger on customers): whatever writes the vector (the service, the importer, the
reindex command, a bulk COPY) keeps the terms. Field 0: the beginnings (up to 32 letters) of
every lexeme of the name, company, email and tags, and the 3- and 4-digit beginnings of the
number lexemes (suffixes of the numbers: together, every 3- and 4-digit run of a number).
Field 1: the beginnings of the company's lexemes (weight B), for the company filter. Field 2:
each tag, whole (the tag filter).

Revision ID: c4e7a9d2b610
Revises: b16a5e550004
Create Date: 2026-12-08 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4e7a9d2b610"
down_revision: str | None = "b16a5e550004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Customers per backfill statement.
_BATCH = 20_000

_TERMS_OF = """
CREATE FUNCTION customer_terms_of(vector tsvector, tags text[])
RETURNS TABLE (field smallint, term text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT DISTINCT 2::smallint, tag FROM unnest(tags) AS tag
    UNION
    SELECT DISTINCT g.field, left(u.lexeme, g.n)
    FROM unnest(coalesce(vector, ''::tsvector)) AS u,
    LATERAL (
        SELECT 0::smallint AS field, n
        FROM generate_series(1, least(length(u.lexeme), 32)) AS n
        WHERE coalesce(u.weights, '{D}') && '{A,B,D}'::text[]
        UNION ALL
        SELECT 0::smallint, n FROM generate_series(3, least(length(u.lexeme), 4)) AS n
        WHERE 'C' = ANY (u.weights)
        UNION ALL
        SELECT 1::smallint, n FROM generate_series(1, least(length(u.lexeme), 32)) AS n
        WHERE 'B' = ANY (u.weights)
    ) AS g
$$
"""

# Only what changed is written: a new number adds its runs, a rename moves every row (the
# sort_key is part of the key).
_SYNC = """
CREATE FUNCTION customer_terms_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO customer_terms (customer_id, field, term, sort_key)
        SELECT NEW.id, t.field, t.term, NEW.sort_key
        FROM customer_terms_of(NEW.search_vector, NEW.tags) t;
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM customer_terms c USING customer_terms_of(OLD.search_vector, OLD.tags) t
        WHERE c.field = t.field AND c.term = t.term AND c.sort_key = OLD.sort_key
          AND c.customer_id = OLD.id;
    ELSIF OLD.sort_key IS DISTINCT FROM NEW.sort_key THEN
        DELETE FROM customer_terms c USING customer_terms_of(OLD.search_vector, OLD.tags) t
        WHERE c.field = t.field AND c.term = t.term AND c.sort_key = OLD.sort_key
          AND c.customer_id = OLD.id;
        INSERT INTO customer_terms (customer_id, field, term, sort_key)
        SELECT NEW.id, t.field, t.term, NEW.sort_key
        FROM customer_terms_of(NEW.search_vector, NEW.tags) t;
    ELSIF OLD.search_vector IS DISTINCT FROM NEW.search_vector OR OLD.tags IS DISTINCT FROM NEW.tags
    THEN
        DELETE FROM customer_terms c USING (
            SELECT * FROM customer_terms_of(OLD.search_vector, OLD.tags)
            EXCEPT SELECT * FROM customer_terms_of(NEW.search_vector, NEW.tags)
        ) t
        WHERE c.field = t.field AND c.term = t.term AND c.sort_key = OLD.sort_key
          AND c.customer_id = OLD.id;
        INSERT INTO customer_terms (customer_id, field, term, sort_key)
        SELECT NEW.id, t.field, t.term, NEW.sort_key FROM (
            SELECT * FROM customer_terms_of(NEW.search_vector, NEW.tags)
            EXCEPT SELECT * FROM customer_terms_of(OLD.search_vector, OLD.tags)
        ) t;
    END IF;
    RETURN NULL;
END
$$
"""

# The first customers, after (after_key, after_id), having every (fields[j], terms[j]): a
# leapfrog over the terms' ranges, each step one seek in the key to the first row at or after
# the others' latest. The ranges are in name order, so one word's rows come in runs (every
# "احمد علی..." together, then every "امیر علی..."): the steps follow the runs, not the rows,
# and two common words are joined in a few hundred seeks where a merge reads both ranges.
_ALL = """
CREATE FUNCTION customer_terms_all(
    fields smallint[], terms text[], after_key text, after_id bigint, wanted integer
) RETURNS TABLE (sort_key text, customer_id bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    n integer := array_length(terms, 1);
    j integer := 1;
    agreed integer := 0;
    found integer := 0;
    k text := after_key;
    i bigint := after_id;
    inclusive boolean := false;
    ck text;
    ci bigint;
BEGIN
    LOOP
        IF k IS NULL THEN
            SELECT t.sort_key, t.customer_id INTO ck, ci FROM customer_terms t
            WHERE t.field = fields[j] AND t.term = terms[j]
            ORDER BY t.sort_key, t.customer_id LIMIT 1;
        ELSIF inclusive THEN
            SELECT t.sort_key, t.customer_id INTO ck, ci FROM customer_terms t
            WHERE t.field = fields[j] AND t.term = terms[j]
              AND (t.sort_key, t.customer_id) >= (k COLLATE "C", i)
            ORDER BY t.sort_key, t.customer_id LIMIT 1;
        ELSE
            SELECT t.sort_key, t.customer_id INTO ck, ci FROM customer_terms t
            WHERE t.field = fields[j] AND t.term = terms[j]
              AND (t.sort_key, t.customer_id) > (k COLLATE "C", i)
            ORDER BY t.sort_key, t.customer_id LIMIT 1;
        END IF;
        IF ck IS NULL THEN
            RETURN;
        END IF;
        IF inclusive AND ck = k AND ci = i THEN
            agreed := agreed + 1;
        ELSE
            k := ck;
            i := ci;
            agreed := 1;
            inclusive := true;
        END IF;
        IF agreed = n THEN
            sort_key := k;
            customer_id := i;
            RETURN NEXT;
            found := found + 1;
            IF found >= wanted THEN
                RETURN;
            END IF;
            agreed := 0;
            inclusive := false;
        END IF;
        ck := NULL;
        j := j % n + 1;
    END LOOP;
END
$$
"""

_TRIGGER = """
CREATE TRIGGER customer_terms_sync
AFTER INSERT OR DELETE OR UPDATE OF search_vector, sort_key, tags ON customers
FOR EACH ROW EXECUTE FUNCTION customer_terms_sync()
"""


def upgrade() -> None:
    op.create_table(
        "customer_terms",
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("field", sa.SmallInteger(), nullable=False),
        sa.Column("term", sa.Text(collation="C"), nullable=False),
        sa.Column("sort_key", sa.String(length=200, collation="C"), nullable=False),
    )
    op.execute(_TERMS_OF)
    op.execute(_SYNC)
    op.execute(_TRIGGER)
    op.execute(_ALL)
    # Backfill before the key exists: one sorted build instead of a random insert per row.
    bind = op.get_bind()
    last = bind.execute(sa.text("SELECT coalesce(max(id), 0) FROM customers")).scalar_one()
    for after in range(0, last, _BATCH):
        bind.execute(
            sa.text(
                "INSERT INTO customer_terms (customer_id, field, term, sort_key)"
                " SELECT c.id, t.field, t.term, c.sort_key"
                " FROM customers c, customer_terms_of(c.search_vector, c.tags) t"
                " WHERE c.id > :after AND c.id <= :upto"
            ),
            {"after": after, "upto": after + _BATCH},
        )
    op.create_primary_key(
        "pk_customer_terms", "customer_terms", ["field", "term", "sort_key", "customer_id"]
    )
    # Without statistics the planner takes every term for a rare one and joins two common
    # words' rows by hashing them all (hundreds of ms) instead of merging them in key order.
    # (VACUUM, for index-only scans, cannot run in the migration's transaction: autovacuum
    # does it after the inserts.)
    op.execute("ANALYZE customer_terms")


def downgrade() -> None:
    op.execute("DROP TRIGGER customer_terms_sync ON customers")
    op.execute("DROP FUNCTION customer_terms_sync()")
    op.execute("DROP FUNCTION customer_terms_all(smallint[], text[], text, bigint, integer)")
    op.drop_table("customer_terms")
    op.execute("DROP FUNCTION customer_terms_of(tsvector, text[])")
