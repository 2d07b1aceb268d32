"""Phonebook search at scale: seed N customers with the search index the service builds, then
time ``CustomerService.search()`` (one session and transaction per search, as a request does
it) on what agents type into the phonebook's search box, by class of query; check what it
returns; explain the plans; and time the database's part against a two-step query.

    .venv/bin/python bench/search.py --customers 1000000

The database is the one the service would use: ``TAMAS_DATABASE_URL`` when set, otherwise an
embedded PostgreSQL in ``--pgdata`` (default: a temporary directory removed at the end). Its
customers table must be empty; the seeded rows are deleted at the end unless ``--keep``.
Human-readable figures first; the last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import shutil
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate, pairwise
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from common import Driver, Stats, bench_settings, run_and_print
from sqlalchemy import event

from app.config import Settings
from app.customers import repository as customer_repository
from app.customers.repository import SearchVector, tsvector_text
from app.customers.service import (
    CustomerService,
    build_tsquery,
    name_lexemes,
    number_lexemes,
    sort_key_of,
)
from app.db import Database, SessionMaker, unit_of_work
from app.models import Customer
from app.phones import digits_of, parse_phone
from app.textnorm import normalize, tokens

# -- the data ----------------------------------------------------------------------------------

ZWNJ = "\u200c"
# First names, most common first (drawn with Zipf-like weights). Compound names are written
# in the three ways people write them: joined, with ZWNJ, with a space.
FIRST_NAMES = (
    "محمد", "علی", "فاطمه", "زهرا", "حسین", "مریم", "رضا", "مهدی", "علیرضا", "امیرحسین",
    "سارا", "محمدرضا", "نرگس", "امیر", "زینب", "حسن", "معصومه", "سعید", "لیلا", "مصطفی",
    "الهام", "حمید", "پریسا", "مجید", "نازنین", "ابوالفضل", "یاسمن", "جواد", "مرتضی", "آرش",
    "کوثر", "احمد", "مائده", "محمدحسین", "رؤیا", "عباس", "فائزه", "کاظم", "شیوا", "یوسف",
    "هانیه", "داوود", "مهسا", "بهروز", "نسرین", "کامران", "آیدا", "پیمان", "فرشته", "بابک",
    "سمیه", "کیان", "طاهره", "آرمین", "سینا", "پویا", "میلاد", "اکبر", "فاطمه‌زهرا", "ژیلا",
)  # fmt: skip
# The compound first names, as (first word, second word): written joined, with ZWNJ or spaced.
COMPOUNDS = {
    "علیرضا": ("علی", "رضا"), "امیرحسین": ("امیر", "حسین"), "محمدرضا": ("محمد", "رضا"),
    "محمدحسین": ("محمد", "حسین"), "ابوالفضل": ("ابو", "الفضل"), "فاطمه‌زهرا": ("فاطمه", "زهرا"),
}  # fmt: skip
# Common surnames (Zipf-like weights) ...
LAST_NAMES = (
    "محمدی", "حسینی", "احمدی", "رضایی", "موسوی", "کریمی", "جعفری", "صادقی", "رحیمی", "نوری",
    "قاسمی", "کاظمی", "هاشمی", "عباسی", "مرادی", "نجفی", "اکبری", "میرزایی", "طاهری", "ابراهیمی",
    "تهرانی", "اصفهانی", "شیرازی", "یزدانی", "کرمانی", "قربانی", "سلیمانی", "امینی", "باقری",
    "زارعی", "حیدری", "مختاری", "فرجی", "یوسفی", "شریفی", "آقایی", "رستمی", "کیانی", "سبحانی",
    "خسروی", "بهرامی", "فتحی", "ملکی", "سلطانی", "عزیزی", "افشار", "پاکزاد", "توکلی", "کامرانی",
    "مؤمنی", "رئیسی", "طباطبایی", "دهقان", "فروغی", "ایزدی", "اسدی", "مهدوی", "نظری", "وکیلی",
)  # fmt: skip
# ... and compound surnames, root + suffix, the suffix joined or after a ZWNJ (حسین‌زاده).
SURNAME_PREFIXES = ("", "", "", "میر", "حاج", "شاه")
SURNAME_ROOTS = (
    "حسین", "علی", "محمد", "رحیم", "کریم", "جعفر", "قاسم", "تقی", "صادق", "اکبر", "اصغر",
    "شریف", "نیک", "خسرو", "بهرام", "فرهاد", "سلطان", "امین", "نور", "کاظم", "ملک", "یزدان",
)  # fmt: skip
SURNAME_SUFFIXES = ("زاده", "پور", "نیا", "نژاد", "فر", "وند", "لو", "یان", "خانی", "آبادی")
# Customers whose index is a multiple of this have a surname nobody else has (and that is no
# other word's beginning): the search for their full name must find them.
UNIQUE_EVERY = 5000
UNIQUE_LETTERS = "بپتجچخدذرزژسشصضطظغفق"
COMPANIES = (
    "پخش البرز", "بازرگانی پارس", "صنایع غذایی مهرام", "داروسازی سینا", "کاشی میلاد",
    "حمل‌ونقل آریا", "بیمه آسیا", "فولاد کویر", "نساجی یزدباف", "لوازم خانگی پارس‌خزر",
    "گروه صنعتی ایران‌خودرو", "شرکت نفت پارس", "پتروشیمی جم", "تجارت الکترونیک دیجی‌کالا",
    "بانک ملت", "بانک صادرات", "کارخانه قند اصفهان", "پخش هجرت", "لبنیات کاله", "شیرین عسل",
    "چاپ و نشر نگاه", "کیمیا دارو", "پارس‌آنلاین", "مخابرات ایران", "ساختمانی آبادگران",
    "آهن‌آلات البرز", "الکتریک شرق", "فرش کاشان", "زعفران قائنات", "کشتیرانی خزر",
)  # fmt: skip
ADDRESSES = (
    "تهران، خیابان ولیعصر", "تهران، میدان ونک", "کرج، گوهردشت", "اصفهان، خیابان چهارباغ",
    "مشهد، بلوار وکیل‌آباد", "تبریز، خیابان امام", "شیراز، خیابان زند", "رشت، گلسار",
)  # fmt: skip
# Tags as the API stores them (normalised), from common to rare.
TAGS = (
    ("vip", 50), ("عمده‌فروش", 40), ("شمال", 30), ("پیگیری", 20), ("بدهکار", 10),
    ("نمایندگی", 5), ("wholesale", 3), ("شکایت", 1),
)  # fmt: skip
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "chmail.ir", "example.ir")
MOBILE_PREFIXES = (
    "912", "919", "935", "936", "901", "902", "903", "905", "910", "911", "913", "914", "915",
    "916", "917", "918", "920", "921", "922", "930", "933", "937", "938", "939", "990", "991",
)  # fmt: skip
# City code + the first digit of the 8-digit subscriber number (see bench/lookup.py).
HOME_BLOCKS = (
    "213", "214", "215", "216", "217", "263", "265", "313", "315", "513", "516", "413", "713",
    "343", "443", "613", "113", "133",
)  # fmt: skip
PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC_LETTERS = str.maketrans("یک", "يك")
PERSIAN_LETTERS = str.maketrans("يك", "یک")


def zipf_weights(n: int, s: float = 0.9) -> list[float]:
    return [1 / (rank + 1) ** s for rank in range(n)]


def perm7(x: int) -> str:
    """A bijection on 7-digit numbers: distinct counters give distinct subscriber numbers."""
    return f"{(x * 4_731_113 + 1_234_567) % 10_000_000:07d}"


def unique_surname(index: int) -> str:
    code = ""
    for _ in range(5):
        index, digit = divmod(index, len(UNIQUE_LETTERS))
        code += UNIQUE_LETTERS[digit]
    return f"نیک{code}یان"


@asynccontextmanager
async def raw_connection(db: Database) -> AsyncIterator[Driver]:
    """A raw asyncpg connection of the service's engine, for seeding, checks and plans; closed
    at the end of the block, so that no plan it cached outlives it. Its statements are always
    planned for their parameters (custom plans): asyncpg prepares every statement, and after
    five runs PostgreSQL may reuse a generic plan made without them (or made under settings
    that were in force then, such as those of the sequential-scan check)."""
    assert db.engine is not None
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.execute("SET plan_cache_mode = force_custom_plan")
        try:
            yield driver
        finally:
            await conn.invalidate()


# -- the customers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """What the benchmark remembers of a sampled customer, to build queries from."""

    id: int
    words: tuple[str, ...]  # the name's words as a person types them (Persian letters)
    company: str
    tags: tuple[str, ...]
    e164s: tuple[str, ...]
    unique: bool  # the only customer with this surname


@dataclass(frozen=True)
class Row:
    id: int
    kind: str
    name: str
    company: str
    address: str
    email: str | None
    notes: str
    tags: list[str]
    priority: str | None
    external_id: str | None
    phones: list[tuple[str, str, str]]  # (e164, raw, label)


class Generator:
    """Customers drawn from an RNG seeded per chunk: the same seed gives the same phonebook,
    whichever process builds which chunk."""

    def __init__(self, seed: int, chunk: int) -> None:
        self.rng = random.Random(f"{seed}/{chunk}")
        self.first_cum = list(accumulate(zipf_weights(len(FIRST_NAMES))))
        self.last_cum = list(accumulate(zipf_weights(len(LAST_NAMES))))
        self.tag_names = [normalize(tag) for tag, _ in TAGS]
        self.tag_weights = [weight for _, weight in TAGS]

    def first_name(self) -> tuple[str, str]:
        """(as stored, as typed by someone looking for it)."""
        name = self.rng.choices(FIRST_NAMES, cum_weights=self.first_cum)[0]
        if name in COMPOUNDS:
            a, b = COMPOUNDS[name]
            return self.rng.choice((a + b, a + ZWNJ + b, f"{a} {b}")), name
        return name, name

    def surname(self, index: int) -> str:
        if index % UNIQUE_EVERY == 0:
            return unique_surname(index // UNIQUE_EVERY)
        rng = self.rng
        if rng.random() < 0.7:
            return rng.choices(LAST_NAMES, cum_weights=self.last_cum)[0]
        root = rng.choice(SURNAME_PREFIXES) + rng.choice(SURNAME_ROOTS)
        suffix = rng.choice(SURNAME_SUFFIXES)
        joiner = ZWNJ if suffix in ("زاده", "پور", "نیا", "نژاد") and rng.random() < 0.5 else ""
        return root + joiner + suffix

    def phone(self, index: int, slot: int) -> tuple[str, str, str]:
        """A number no other (index, slot) has. Up to 3.3 million customers no two numbers
        end in the same 7 digits, so 7 digits from the end find one number."""
        k = index * 3 + slot
        subscriber = perm7(k)
        if self.rng.random() < (0.9, 0.5, 0.3)[slot]:
            prefix = MOBILE_PREFIXES[k % len(MOBILE_PREFIXES)]
            n = f"0{prefix}{subscriber}"
            return f"+98{prefix}{subscriber}", f"{n[:4]} {n[4:7]} {n[7:]}", "mobile"
        block = HOME_BLOCKS[k % len(HOME_BLOCKS)]
        n = f"0{block}{subscriber}"
        return f"+98{block}{subscriber}", f"{n[:3]}-{n[3:]}", "work" if slot == 0 else "home"

    def customer(self, index: int, cid: int) -> tuple[Row, Person]:
        rng = self.rng
        first, typed_first = self.first_name()
        last = self.surname(index)
        company = rng.choice(COMPANIES) if rng.random() < 0.4 else ""
        organization = rng.random() < 0.1 and index % UNIQUE_EVERY != 0
        if organization:
            company = company or rng.choice(COMPANIES)
            name = company
        else:
            name = f"{first} {last}"
        # One in twenty was typed on an Arabic keyboard layout (ي and ك).
        if rng.random() < 0.05:
            name = name.translate(ARABIC_LETTERS)
            company = company.translate(ARABIC_LETTERS)
        tags: list[str] = []
        if rng.random() < 0.15:
            drawn = rng.choices(self.tag_names, self.tag_weights, k=rng.choice((1, 1, 2)))
            tags = list(dict.fromkeys(drawn))
        r = rng.random()
        count = 1 if r < 0.55 else 2 if r < 0.85 else 3
        phones = [self.phone(index, slot) for slot in range(count)]
        email = f"user{cid}@{rng.choice(EMAIL_DOMAINS)}" if rng.random() < 0.25 else None
        row = Row(
            id=cid,
            kind="organization" if organization else "person",
            name=name,
            company=company,
            address=f"{rng.choice(ADDRESSES)}، پلاک {rng.randint(1, 300)}",
            email=email,
            notes="تماس پس از ساعت ۱۰ صبح" if rng.random() < 0.2 else "",
            tags=tags,
            priority=rng.choice((None, None, None, None, "A", "B", "VIP")),
            external_id=f"legacy-{cid}" if rng.random() < 0.5 else None,
            phones=phones,
        )
        typed_company = company.translate(PERSIAN_LETTERS)
        person = Person(
            id=cid,
            words=tuple(typed_company.split() if organization else (typed_first, last)),
            company=typed_company,
            tags=tuple(tags),
            e164s=tuple(p[0] for p in phones),
            unique=index % UNIQUE_EVERY == 0,
        )
        return row, person


# What the service computes for a customer (CustomerService.create and _reindex), with the
# app's own functions. Names and companies repeat: their results are cached (pure functions).
cached_normalize = lru_cache(maxsize=100_000)(normalize)
cached_sort_key = lru_cache(maxsize=100_000)(sort_key_of)
cached_name_lexemes = lru_cache(maxsize=100_000)(name_lexemes)


def search_vector_of(row: Row) -> str:
    numbers: list[str] = []
    for e164, _raw, _label in row.phones:
        parsed = parse_phone(e164)
        numbers.extend(number_lexemes(e164, parsed.national()))
    email = row.email or ""
    tag_words = [w for tag in row.tags for w in tokens(tag)]
    vector = SearchVector(
        name=cached_name_lexemes(row.name),
        company=cached_name_lexemes(row.company),
        numbers=sorted(set(numbers)),
        other=tokens(email.replace("@", " ").replace(".", " ")) + tag_words,
    )
    return tsvector_text(vector)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: str | None) -> str:
    """A value in COPY's text format."""
    return "\\N" if value is None else value.translate(_COPY_ESCAPES)


def array_literal(values: Sequence[str]) -> str:
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{v}"' for v in quoted) + "}"


CUSTOMER_COLUMNS = (
    "id", "kind", "name", "company", "address", "email", "notes", "tags", "priority",
    "external_id", "sort_key", "search_vector",
)  # fmt: skip
PHONE_COLUMNS = ("customer_id", "e164", "extension", "raw", "label")


@dataclass(frozen=True)
class Chunk:
    customers: bytes  # COPY text for customers ...
    phones: bytes  # ... and for customer_phones
    phone_count: int
    people: list[Person]


def make_chunk(seed: int, base: int, lo: int, hi: int, keep_every: int) -> Chunk:
    """Customers ``lo`` to ``hi`` (ids ``base + index``) as COPY text. Runs in a worker process
    while the previous chunk is being copied."""
    gen = Generator(seed, lo)
    customers: list[str] = []
    phones: list[str] = []
    people: list[Person] = []
    for index in range(lo, hi + 1):
        row, person = gen.customer(index, base + index)
        fields = (
            str(row.id), row.kind, row.name, row.company, row.address, row.email, row.notes,
            array_literal(row.tags), row.priority, row.external_id, cached_sort_key(row.name),
            search_vector_of(row),
        )  # fmt: skip
        customers.append("\t".join(copy_text(f) for f in fields) + "\n")
        for e164, raw, label in row.phones:
            phones.append(f"{row.id}\t{e164}\t\t{copy_text(raw)}\t{copy_text(label)}\n")
        if index % keep_every == 0 or person.unique:
            people.append(person)
    return Chunk("".join(customers).encode(), "".join(phones).encode(), len(phones), people)


async def pieces(data: bytes, size: int = 1 << 20) -> AsyncIterator[bytes]:
    """COPY data in pieces (asyncpg would read a plain bytes source as a file name)."""
    view = memoryview(data)
    for i in range(0, len(view), size):
        yield bytes(view[i : i + size])


@dataclass(frozen=True)
class Seeded:
    customers: int
    phones: int
    first_id: int
    seconds: float
    people: list[Person]  # a sample, to build queries from


async def seed(db: Driver, customers: int, batch: int, seed_value: int, sample: int) -> Seeded:
    if await db.fetchval("SELECT EXISTS (SELECT 1 FROM customers)"):
        raise SystemExit(
            "the customers table is not empty: run the benchmark on an empty database "
            "(unset TAMAS_DATABASE_URL to use a temporary embedded one)"
        )
    # Ids after any the identity sequence has handed out; the sequence is moved past ours.
    base = int(await db.fetchval("SELECT nextval(pg_get_serial_sequence('customers', 'id'))"))
    await db.execute("SET synchronous_commit = off")  # this session only; a crash loses a seed
    keep_every = max(1, customers // sample)
    people: list[Person] = []
    phones = 0
    loop = asyncio.get_running_loop()
    ranges = [(lo, min(lo + batch - 1, customers)) for lo in range(1, customers + 1, batch)]

    # The terms are derived from the copied vectors in one pass at the end (as the migration
    # backfills them) rather than by the trigger, row by row, into a growing index.
    await db.execute("ALTER TABLE customers DISABLE TRIGGER customer_terms_sync")
    started = time.perf_counter()
    # One worker computes the next chunk while this process copies the last one into the
    # server: on two cores, Python and PostgreSQL each keep one busy. One chunk ahead only,
    # which bounds the memory.
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:

        def submit(lo: int, hi: int) -> asyncio.Future[Chunk]:
            return loop.run_in_executor(pool, make_chunk, seed_value, base, lo, hi, keep_every)

        job = submit(*ranges[0])
        for i, (_, hi) in enumerate(ranges):
            chunk = await job
            if i + 1 < len(ranges):
                job = submit(*ranges[i + 1])
            await db.copy_to_table(
                "customers", source=pieces(chunk.customers), columns=CUSTOMER_COLUMNS,
                format="text",
            )  # fmt: skip
            await db.copy_to_table(
                "customer_phones", source=pieces(chunk.phones), columns=PHONE_COLUMNS,
                format="text",
            )  # fmt: skip
            phones += chunk.phone_count
            people += chunk.people
            elapsed = time.perf_counter() - started
            print(f"  seeded {hi:>12,} customers  {elapsed:7.1f} s", flush=True)
    # Explicit ids leave the identity sequence behind; the app's next insert must not collide.
    await db.execute(
        "SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT max(id) FROM customers))"
    )
    await db.execute("ALTER TABLE customers ENABLE TRIGGER customer_terms_sync")
    await build_terms(db, base + 1, base + customers)
    loaded = time.perf_counter()
    # VACUUM as well as ANALYZE: sets hint bits and the visibility map now, and empties the
    # GIN pending list, so that none of it lands inside the measurement.
    await db.execute("VACUUM (ANALYZE) customers")
    await db.execute("VACUUM (ANALYZE) customer_phones")
    await db.execute("VACUUM (ANALYZE) customer_terms")
    seconds = time.perf_counter() - started
    print(f"  vacuum + analyze {time.perf_counter() - loaded:7.1f} s")
    return Seeded(customers, phones, base + 1, seconds, people)


async def build_terms(db: Driver, first: int, last: int) -> None:
    """The customer_terms rows of the seeded customers, as the trigger would have written
    them (the same function of the vector and sort key), with the key built once at the end."""
    started = time.perf_counter()
    await db.execute("ALTER TABLE customer_terms DROP CONSTRAINT pk_customer_terms")
    await db.execute(
        "INSERT INTO customer_terms (customer_id, field, term, sort_key)"
        " SELECT c.id, t.field, t.term, c.sort_key"
        " FROM customers c, customer_terms_of(c.search_vector, c.tags) t"
        " WHERE c.id BETWEEN $1 AND $2",
        first, last,
    )  # fmt: skip
    filled = time.perf_counter()
    await db.execute("SET maintenance_work_mem = '512MB'")
    await db.execute(
        "ALTER TABLE customer_terms ADD CONSTRAINT pk_customer_terms"
        " PRIMARY KEY (field, term, sort_key, customer_id)"
    )
    await db.execute("RESET maintenance_work_mem")
    keyed = time.perf_counter() - filled
    print(f"  customer_terms {filled - started:7.1f} s, its key {keyed:7.1f} s", flush=True)


async def unseed(db: Driver, seeded: Seeded) -> None:
    last = seeded.first_id + seeded.customers - 1
    await db.execute("DELETE FROM customers WHERE id BETWEEN $1 AND $2", seeded.first_id, last)


# -- the queries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    kind: str
    q: str | None = None
    company: str | None = None
    tags: tuple[str, ...] = ()
    expect: int | None = None  # a customer that must be found (when the page is not full)
    page: int = 1  # 2: the timed request is the page after the first, through its cursor
    digits: bool = False  # q is a run of digits (else words)

    def label(self) -> str:
        parts = [f"q={self.q!r}"] if self.q is not None else []
        parts += [f"company={self.company!r}"] if self.company else []
        parts += [f"tags={list(self.tags)!r}"] if self.tags else []
        return ", ".join(parts) + (", page 2" if self.page == 2 else "")


def _word(rng: random.Random, p: Person) -> str:
    return rng.choice(p.words)


def _prefix(n: int) -> Callable[[random.Random, Person], Query | None]:
    def build(rng: random.Random, p: Person) -> Query | None:
        word = _word(rng, p).replace(ZWNJ, "")
        return Query(f"prefix{n}", q=word[:n]) if len(word) > n else None

    return build


def _whole_word(rng: random.Random, p: Person) -> Query | None:
    return Query("word", q=_word(rng, p))


def _full_name(rng: random.Random, p: Person) -> Query | None:
    return Query("full_name", q=" ".join(p.words)) if len(p.words) > 1 and not p.unique else None


def _split_name(rng: random.Random, p: Person) -> Query | None:
    """A compound first name typed with a space: "علی رضا" for علیرضا."""
    parts = COMPOUNDS.get(p.words[0])
    return Query("split_name", q=" ".join(parts)) if parts and len(p.words) == 2 else None


def _arabic(rng: random.Random, p: Person) -> Query | None:
    """A word typed on an Arabic layout (ي, ك): whole, or its first letters up to one."""
    word = _word(rng, p).replace(ZWNJ, "")
    typed = word.translate(ARABIC_LETTERS)
    if typed == word:
        return None
    first = min(i for i, (a, b) in enumerate(zip(word, typed, strict=True)) if a != b)
    return Query("arabic", q=typed[: rng.randint(min(max(3, first + 1), len(typed)), len(typed))])


def _company(rng: random.Random, p: Person) -> Query | None:
    words = [w for w in p.company.split() if len(w) > 2]
    return Query("company", company=rng.choice(words)) if words else None


def _tag(rng: random.Random, p: Person) -> Query | None:
    return Query("tag", tags=(rng.choice(p.tags),)) if p.tags else None


def _digits(n: int) -> Callable[[random.Random, Person], Query | None]:
    def build(rng: random.Random, p: Person) -> Query | None:
        national = "0" + rng.choice(p.e164s)[3:]
        start = rng.randrange(len(national) - n + 1)
        run = national[start : start + n]
        if n == 7 and rng.random() < 0.3:
            run = f"{run[:3]} {run[3:]}"
        if rng.random() < 0.3:
            run = run.translate(PERSIAN_DIGITS)
        return Query(f"digits{n}", q=run, expect=p.id if n >= 7 else None, digits=True)

    return build


def _next_page(rng: random.Random, p: Person) -> Query | None:
    first = _prefix(2)(rng, p) if rng.random() < 0.5 else _whole_word(rng, p)
    return Query("next_page", q=first.q, page=2) if first else None


def _unique(rng: random.Random, p: Person) -> Query | None:
    return Query("unique_name", q=" ".join(p.words), expect=p.id) if p.unique else None


BUILDERS: dict[str, Callable[[random.Random, Person], Query | None]] = {
    "prefix1": _prefix(1),
    "prefix2": _prefix(2),
    "prefix3": _prefix(3),
    "word": _whole_word,
    "full_name": _full_name,
    "split_name": _split_name,
    "arabic": _arabic,
    "company": _company,
    "tag": _tag,
    "digits3": _digits(3),
    "digits4": _digits(4),
    "digits7": _digits(7),
    "next_page": _next_page,
    "unique_name": _unique,
}
CLASS_NOTES = {
    "prefix1": "1 letter of a name's word",
    "prefix2": "2 letters",
    "prefix3": "3 letters",
    "word": "a whole first name or surname (or company word)",
    "full_name": "first name and surname (or company name)",
    "split_name": "compound first name spaced (علی رضا)",
    "arabic": "a word typed with ي/ك",
    "company": "company filter, one word",
    "tag": "tag filter",
    "digits3": "3 digits of a number",
    "digits4": "4 digits",
    "digits7": "7 digits (some spaced)",
    "next_page": "2nd page (cursor) of a prefix2 or word",
    "unique_name": "full name of a customer with a unique surname",
}


def build_queries(rng: random.Random, people: Sequence[Person], per_class: int) -> list[Query]:
    """``per_class`` queries of each class, built from customers drawn at random from the
    sample (so common names are queried as often as they occur), in random order."""
    queries: list[Query] = []
    for build in BUILDERS.values():
        made: list[Query] = []
        for _ in range(per_class * 100):
            if len(made) == per_class:
                break
            query = build(rng, rng.choice(people))
            if query is not None:
                made.append(query)
        queries += made
    rng.shuffle(queries)
    return queries


# -- correctness -------------------------------------------------------------------------------


def words_and_pairs(text: str) -> list[str]:
    words = tokens(text)
    return words + [a + b for a, b in pairwise(words)]


def matches(query: Query, c: Customer) -> bool:
    """Whether ``c`` answers ``query``, read from the customer as stored (not from the index):
    every typed word begins a word of its name, company, email or tags (or the typed words,
    joined, begin one); a run of digits is inside one of its numbers; the company filter's
    words begin words of its company; it has every tag asked for."""
    if query.q is not None:
        if query.digits:
            run = digits_of(query.q)
            numbers = [p.e164[1:] for p in c.phones] + ["0" + p.e164[3:] for p in c.phones]
            if not any(run in n for n in numbers):
                return False
        else:
            email = (c.email or "").replace("@", " ").replace(".", " ")
            have = words_and_pairs(c.name) + words_and_pairs(c.company) + tokens(email)
            have += [w for t in c.tags for w in tokens(t)]
            typed = tokens(query.q)
            every = all(any(h.startswith(w) for h in have) for w in typed)
            if not every and not any(h.startswith("".join(typed)) for h in have):
                return False
    if query.company is not None:
        have = words_and_pairs(c.company)
        if not all(any(h.startswith(w) for h in have) for w in tokens(query.company)):
            return False
    return set(query.tags) <= set(c.tags)


@dataclass
class Checks:
    # Whether the database orders sort_key by code point, as Python compares strings (the
    # embedded server's C.UTF-8 does); with another collation the order is not checked here.
    codepoint_order: bool = True
    results: int = 0  # customers returned, over all timed queries
    mismatches: int = 0  # customers returned that do not answer the query
    misordered: int = 0  # pages not in (sort_key, id) order, or a sort_key not the name's
    expected_missed: int = 0  # a customer that had to be on the page and was not
    expected_unverifiable: int = 0  # ... not found, but the page was full (it may come later)
    page_overlaps: int = 0  # second pages that repeat or precede the first
    brute_diffs: int = 0  # first pages that differ from a sequential scan's
    brute_checked: int = 0
    walks: int = 0  # queries paged to the end
    walk_duplicates: int = 0
    walk_count_diffs: int = 0  # walks whose total differs from a count(*) of the query
    reindexed: int = 0  # seeded customers whose index CustomerService recomputed
    reindex_diffs: int = 0  # ... and found different from the seeded one
    terms_missing: int = 0  # ... customer_terms rows their vectors call for, not in the table


def check_page(
    query: Query, rows: Sequence[Customer], checks: Checks, previous: Sequence[Customer] = ()
) -> None:
    checks.results += len(rows)
    checks.mismatches += sum(not matches(query, c) for c in rows)
    keys = [(c.sort_key, c.id) for c in rows]
    in_order = not checks.codepoint_order or all(a < b for a, b in pairwise(keys))
    checks.misordered += not in_order or any(c.sort_key != sort_key_of(c.name) for c in rows)
    if previous:
        seen = {c.id for c in previous}
        last = (previous[-1].sort_key, previous[-1].id)
        before = checks.codepoint_order and bool(keys and keys[0] <= last)
        checks.page_overlaps += any(c.id in seen for c in rows) or before
    if query.expect is not None and all(c.id != query.expect for c in rows):
        if len(rows) < LIMIT:
            checks.expected_missed += 1
        else:
            checks.expected_unverifiable += 1


# -- measuring ---------------------------------------------------------------------------------

LIMIT = 20  # a typeahead's page
COLUMNS = ("p50", "p99", "mean", "max")  # the figures of a latency row


def row(stats: Stats, label: str) -> str:
    return stats.row(label, 12, columns=COLUMNS, decimals=3, n_width=6)


@asynccontextmanager
async def capture_statements(db: Database) -> AsyncIterator[list[tuple[str, Any]]]:
    """The statements sent (and their parameters) while the block runs."""
    assert db.engine is not None
    sent: list[tuple[str, Any]] = []

    def capture(_c: object, _cur: object, statement: str, params: Any, *_: object) -> None:
        sent.append((statement, params))

    event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
    try:
        yield sent
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)


async def service_search(
    sessions: SessionMaker, settings: Settings, query: Query, cursor: str | None = None
) -> tuple[int, list[Customer], str | None]:
    """What a request does: its own session and transaction, committed at the end."""
    started = time.perf_counter_ns()
    async with unit_of_work(sessions) as session:
        rows, next_cursor = await CustomerService(session, settings).search(
            q=query.q, company=query.company, tags=query.tags, cursor=cursor, limit=LIMIT
        )
    return time.perf_counter_ns() - started, list(rows), next_cursor


@dataclass
class Timed:
    query: Query
    ns: int
    ids: list[int]  # the customers returned, in order
    full: bool  # the page was full (there is a next one)
    cursor: str | None  # the cursor the timed request was sent with
    statement: str  # the customers statement the service sent, and its parameters
    params: tuple[Any, ...]


async def measure(
    db: Database,
    settings: Settings,
    warmup: Sequence[Query],
    queries: Sequence[Query],
    checks: Checks,
) -> list[Timed]:
    """Every query through search(), one request each; a second-page query first fetches
    the first page (not timed) for its cursor. The warm-up fills the pool and the caches."""
    assert db.sessionmaker is not None
    timed: list[Timed] = []
    async with capture_statements(db) as sent:
        for i, query in enumerate([*warmup, *queries]):
            first: list[Customer] = []
            cursor = None
            if query.page == 2:
                _, first, cursor = await service_search(db.sessionmaker, settings, query)
                if cursor is None:  # a single page: nothing to follow
                    continue
            sent.clear()
            ns, rows, next_cursor = await service_search(db.sessionmaker, settings, query, cursor)
            if i < len(warmup):
                continue
            # The customers statement that gave the page: the last one sent (the search runs
            # a bounded walk in name order first, and the GIN matches sorted only when the
            # walk did not fill a page; each is followed by the page's numbers).
            statement, params = last_customers_statement(sent)
            ids = [c.id for c in rows]
            timed.append(Timed(query, ns, ids, next_cursor is not None, cursor, statement, params))
            check_page(query, rows, checks, first)
    return timed


@contextmanager
def _reference() -> Iterator[None]:
    """While the block runs, the search answers from the search_vector alone, in one
    statement with the query's whole condition: not from customer_terms, and its walk of the
    name order bounded to 0 customers (so that the GIN step is always the one sent)."""
    saved = customer_repository.WALK, customer_repository.USE_TERMS
    customer_repository.WALK, customer_repository.USE_TERMS = 0, False
    try:
        yield
    finally:
        customer_repository.WALK, customer_repository.USE_TERMS = saved


async def reference_statement(
    db: Database, settings: Settings, query: Query, cursor: str | None
) -> tuple[str, Any]:
    """The search_vector statement answering ``query`` (see ``_reference``)."""
    assert db.sessionmaker is not None
    with _reference():
        async with capture_statements(db) as sent:
            await service_search(db.sessionmaker, settings, query, cursor)
    return last_customers_statement(sent)


def last_customers_statement(sent: Sequence[tuple[str, Any]]) -> tuple[str, Any]:
    # The pool's pre-ping goes through the DBAPI cursor, not the captured event.
    return next(
        (st, params) for st, params in reversed(sent) if st.startswith("SELECT customers.id")
    )


async def plan_cache_use(db: Database) -> tuple[int, int]:
    """How often the service's search statements ran with a custom plan (made for their
    parameters) and with a generic one, over every connection of the pool."""
    assert db.engine is not None
    count = (
        "SELECT coalesce(sum(custom_plans), 0)::bigint AS custom,"
        " coalesce(sum(generic_plans), 0)::bigint AS generic"
        " FROM pg_prepared_statements"
        " WHERE statement LIKE 'SELECT customers.id%'"
        " AND statement LIKE '%ORDER BY customers.sort_key, customers.id%'"
    )
    custom = generic = 0
    async with AsyncExitStack() as stack:
        for _ in range(db.engine.pool.checkedin()):  # type: ignore[attr-defined]
            conn = await stack.enter_async_context(db.engine.connect())
            row = (await conn.exec_driver_sql(count)).mappings().one()
            custom, generic = custom + row["custom"], generic + row["generic"]
    return custom, generic


async def brute_force(
    db: Database, settings: Settings, timed: Sequence[Timed], per_class: int, checks: Checks
) -> None:
    """The pages of a few queries of each class, again from the search_vector's condition
    with index scans disabled (a sequential scan of customers tests every row): the same
    customers must come back."""
    done: dict[str, int] = defaultdict(int)
    picked = []
    for t in timed:
        if done[t.query.kind] < per_class:
            done[t.query.kind] += 1
            picked.append((t, await reference_statement(db, settings, t.query, t.cursor)))
    async with raw_connection(db) as conn:
        for t, (statement, params) in picked:
            async with conn.transaction():
                await conn.execute("SET LOCAL enable_indexscan = off")
                await conn.execute("SET LOCAL enable_bitmapscan = off")
                scanned = [r["id"] for r in await conn.fetch(statement, *params)][:LIMIT]
            checks.brute_checked += 1
            checks.brute_diffs += scanned != t.ids


async def walk(
    db: Database, settings: Settings, timed: Sequence[Timed], kinds: Sequence[str], count: int,
    checks: Checks,
) -> None:  # fmt: skip
    """Page through a few queries to the end (at most 200 pages): no customer twice, keys
    always increasing, and as many customers as a count(*) of the same condition. Only
    queries that were fast when timed (a slow one would be slow on every page)."""
    assert db.sessionmaker is not None
    picked = [
        t for t in timed if t.query.kind in kinds and t.query.page == 1 and t.full and t.ns < 1e8
    ]
    for t in picked[:count]:
        seen: set[int] = set()
        cursor, last, total, pages = None, None, 0, 0
        while pages < 200:
            _, rows, cursor = await service_search(db.sessionmaker, settings, t.query, cursor)
            pages += 1
            total += len(rows)
            checks.walk_duplicates += sum(c.id in seen for c in rows)
            seen.update(c.id for c in rows)
            keys = [(c.sort_key, c.id) for c in rows]
            checks.misordered += checks.codepoint_order and bool(last and keys and keys[0] <= last)
            last = keys[-1] if keys else last
            if cursor is None:
                break
        if cursor is not None:
            continue  # not paged to the end: no total to compare
        # The query's whole condition, from the search_vector (see ``_reference``), without
        # ORDER BY ... LIMIT (the last parameter).
        statement, params = await reference_statement(db, settings, t.query, None)
        condition = statement[: statement.rindex("ORDER BY")]
        used = max((int(n) for n in re.findall(r"\$(\d+)", condition)), default=0)
        async with raw_connection(db) as conn:
            expected = await conn.fetchval(
                f"SELECT count(*) FROM ({condition}) AS q", *params[:used]
            )
        checks.walks += 1
        checks.walk_count_diffs += expected != total


# The customer_terms rows that the vectors of customers after $1 (the next $2) call for and
# that are not in the table.
TERMS_MISSING = """
SELECT count(*) FROM (SELECT id, sort_key, search_vector, tags FROM customers WHERE id > $1
    ORDER BY id LIMIT $2) AS c, customer_terms_of(c.search_vector, c.tags) AS t
WHERE NOT EXISTS (SELECT 1 FROM customer_terms k WHERE k.field = t.field AND k.term = t.term
    AND k.sort_key = c.sort_key AND k.customer_id = c.id)
"""


async def verify_index(db: Database, settings: Settings, seeded: Seeded, checks: Checks) -> None:
    """Let the service recompute the index of a few runs of seeded customers (reindex_batch,
    in a transaction rolled back afterwards): it must be the one seeded."""
    assert db.sessionmaker is not None
    read = (
        "SELECT id, sort_key, search_vector::text AS v FROM customers"
        " WHERE id > $1 ORDER BY id LIMIT $2"
    )
    rng = random.Random(7)
    for _ in range(5):
        after = seeded.first_id - 1 + rng.randrange(max(1, seeded.customers - 100))
        async with db.sessionmaker() as session:
            conn = await session.connection()
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            before = [tuple(r) for r in await driver.fetch(read, after, 100)]
            done, _ = await CustomerService(session, settings).reindex_batch(after, 100)
            again = [tuple(r) for r in await driver.fetch(read, after, 100)]
            checks.terms_missing += await driver.fetchval(TERMS_MISSING, after, 100)
            await session.rollback()
        checks.reindexed += done
        checks.reindex_diffs += sum(a != b for a, b in zip(before, again, strict=True))


# -- where the time goes -----------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    query: str
    timed_ms: float  # search() when it was timed
    shape: str  # the nodes, top down
    ms: float  # execution time
    examined: int  # rows read by the scan under the Limit (returned + removed by its filter)
    hit: int  # shared buffers found in PostgreSQL's cache ...
    read: int  # ... and read from the OS (its page cache, on this machine)


def _walk_plan(node: dict[str, Any]) -> tuple[list[str], int]:
    name = node["Node Type"]
    if "Index Name" in node:
        name += f" on {node['Index Name']}"
    if "Filter" in node:
        name += " (filter)"
    examined = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
    examined += node.get("Rows Removed by Index Recheck", 0)
    names = [name]
    for child in node.get("Plans", []):
        below, child_examined = _walk_plan(child)
        names += below
        examined = child_examined if node["Node Type"] in ("Limit", "Sort") else examined
    return names, examined


async def explain(db: Database, t: Timed, text: bool = False) -> tuple[Plan, list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of a timed search's customers statement, run again."""
    async with raw_connection(db) as conn:
        [row] = await conn.fetch(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + t.statement, *t.params
        )
        # SQLAlchemy's asyncpg dialect decodes json on its connections; a bare one does not.
        plan = (json.loads(row[0]) if isinstance(row[0], str) else row[0])[0]
        lines = []
        if text:
            rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + t.statement, *t.params)
            lines = [r[0] for r in rows]
    top = plan["Plan"]
    names, examined = _walk_plan(top)
    shape = " > ".join(names)
    hit, read = top.get("Shared Hit Blocks", 0), top.get("Shared Read Blocks", 0)
    ms = plan["Execution Time"]
    return Plan(t.query.label(), t.ns / 1e6, shape, ms, examined, hit, read), lines


# The fix this benchmark suggests (not the app's query): read at most HEAD_ROWS customers in
# name order; when they do not hold a full page, take the first matches from the GIN index
# and sort them. ``|| ''`` keeps the order but no index provides it, so the planner cannot
# choose the unbounded walk along the name index that makes some searches take seconds.
HEAD_ROWS = 2000
TWO_STEP_HEAD = """
SELECT id FROM (SELECT id, sort_key, search_vector FROM customers ORDER BY sort_key, id LIMIT $2)
    AS head
WHERE search_vector @@ $1::tsquery ORDER BY sort_key, id LIMIT $3
"""
TWO_STEP_REST = """
SELECT id FROM customers WHERE search_vector @@ $1::tsquery ORDER BY sort_key || '', id LIMIT $2
"""
# The classes whose only condition is the text query (the two-step statements have no other).
TWO_STEP_CLASSES = tuple(k for k in BUILDERS if k not in ("company", "tag", "next_page"))


@dataclass(frozen=True)
class Alternative:
    as_sent_ns: list[int]  # the service's customers statement alone, on one connection
    two_step_ns: list[int]
    rest_needed: int  # queries whose first HEAD_ROWS customers held no full page
    diffs: int  # queries where the two give different customers


async def fetch_ids(conn: Driver, statement: str, *params: object) -> tuple[int, list[int]]:
    started = time.perf_counter_ns()
    rows = await conn.fetch(statement, *params)
    return time.perf_counter_ns() - started, [r["id"] for r in rows]


async def two_step(conn: Driver, q: str) -> tuple[int, list[int], bool]:
    """The two-step query for the text ``q`` (as the service turns it into a tsquery): time,
    customers, and whether the GIN step was needed."""
    tsquery = f"({build_tsquery(q)})"
    ns, ids = await fetch_ids(conn, TWO_STEP_HEAD, tsquery, HEAD_ROWS, LIMIT + 1)
    if len(ids) > LIMIT:
        return ns, ids, False
    more_ns, ids = await fetch_ids(conn, TWO_STEP_REST, tsquery, LIMIT + 1)
    return ns + more_ns, ids, True


async def alternatives(
    db: Database, timed: Sequence[Timed], per_class: int
) -> dict[str, Alternative]:
    """The same queries, by class, through the service's customers statement alone (bare, on
    one connection: the database's part of search()) and through the two-step query,
    alternating which goes first."""
    out: dict[str, Alternative] = {}
    async with raw_connection(db) as conn:
        for kind in TWO_STEP_CLASSES:
            sent_ns: list[int] = []
            two_ns: list[int] = []
            rest = diffs = 0
            for i, t in enumerate([t for t in timed if t.query.kind == kind][:per_class]):
                assert t.query.q is not None
                if i % 2:
                    ns, ids = await fetch_ids(conn, t.statement, *t.params)
                    two, two_ids, needed = await two_step(conn, t.query.q)
                else:
                    two, two_ids, needed = await two_step(conn, t.query.q)
                    ns, ids = await fetch_ids(conn, t.statement, *t.params)
                sent_ns.append(ns)
                two_ns.append(two)
                rest += needed
                diffs += ids != two_ids
            if sent_ns:
                out[kind] = Alternative(sent_ns, two_ns, rest, diffs)
    return out


# -- the run -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000, metavar="N")
    parser.add_argument(
        "--queries", type=int, default=4200, metavar="Q", help="spread evenly over the classes"
    )
    parser.add_argument("--warmup", type=int, default=280, metavar="W")
    parser.add_argument(
        "--pgdata",
        type=Path,
        default=None,
        help="embedded PostgreSQL data directory (default: a temporary one, removed at the end)",
    )
    parser.add_argument(
        "--compare", type=int, default=50, metavar="C",
        help="queries per class for the database-only and two-step timings",
    )  # fmt: skip
    parser.add_argument("--batch", type=int, default=50_000, help="customers per COPY")
    parser.add_argument("--seed", type=int, default=1, help="random seed for data and queries")
    parser.add_argument("--keep", action="store_true", help="keep the seeded rows")
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    args = parser.parse_args(argv)
    least = 50 * len(BUILDERS)
    if args.customers < 1000 or args.queries < least or args.batch < 1 or args.compare < 2:
        parser.error(f"--customers >= 1000, --queries >= {least} (50 per class), --compare >= 2")
    return args


@dataclass
class Results:
    overall: Stats
    per_class: dict[str, Stats]
    rows: dict[str, float]  # mean customers per page
    full: dict[str, float]  # share of full pages
    plans: dict[str, tuple[Plan, Plan]]  # per class: its median query's plan, its slowest's
    slowest: tuple[str, Timed, list[str]]  # the class with the highest p99, its slowest query
    alternatives: dict[str, Alternative]
    checks: Checks


async def run(args: argparse.Namespace) -> dict[str, Any]:
    settings, temp_dir = bench_settings(args.pgdata)
    db = Database(settings)
    try:
        print("starting the database and migrating ...", flush=True)
        await db.open()
        async with raw_connection(db) as conn:
            version = await conn.fetchval("SHOW server_version")
            print(f"PostgreSQL {version}; seeding {args.customers:,} customers ...", flush=True)
            seeded = await seed(conn, args.customers, args.batch, args.seed, sample=5000)
            size = await conn.fetchval("SELECT pg_database_size(current_database())")
            gin = await conn.fetchval("SELECT pg_relation_size('ix_customers_search_vector')")
            terms = await conn.fetchval("SELECT pg_total_relation_size('customer_terms')")
            term_rows = await conn.fetchval(
                "SELECT reltuples::bigint FROM pg_class WHERE relname = 'customer_terms'"
            )
            collation = await conn.fetchval(
                "SELECT datcollate FROM pg_database WHERE datname = current_database()"
            )
        database_mb, gin_mb = round(size / 2**20), round(gin / 2**20)
        terms_mb = round(terms / 2**20)
        print(
            f"seeded {seeded.customers:,} customers, {seeded.phones:,} phones in "
            f"{seeded.seconds:.1f} s; database {database_mb:,} MB (search index {gin_mb:,} MB,"
            f" customer_terms {term_rows:,} rows, {terms_mb:,} MB with its key)",
            flush=True,
        )
        checks = Checks(codepoint_order=collation in ("C", "POSIX") or collation.startswith("C."))
        await verify_index(db, settings, seeded, checks)
        rng = random.Random(args.seed)
        per_class = args.queries // len(BUILDERS)
        warmup = build_queries(rng, seeded.people, max(1, args.warmup // len(BUILDERS)))
        queries = build_queries(rng, seeded.people, per_class)
        # The machine may be shared: a busy one shows in the tail latencies.
        load = os.getloadavg()[0]
        print(
            f"measuring {len(queries):,} searches ({per_class} per class, limit {LIMIT}) after "
            f"{len(warmup):,} warm-up (load average {load:.2f}) ...",
            flush=True,
        )
        timed = await measure(db, settings, warmup, queries, checks)
        custom_plans, generic_plans = await plan_cache_use(db)
        print("checking pages against sequential scans and paging to the end ...", flush=True)
        await brute_force(db, settings, timed, 2, checks)
        await walk(db, settings, timed, ("full_name", "digits4", "digits3"), 15, checks)
        print("explaining each class's median and slowest query ...", flush=True)
        results = await summarise(db, timed, checks)
        print(
            f"timing the database's part alone, and a two-step query, on {args.compare} "
            "queries of each class ...",
            flush=True,
        )
        results.alternatives = await alternatives(db, timed, args.compare)
        if not args.keep and temp_dir is None:
            async with raw_connection(db) as conn:
                await unseed(conn, seeded)
    finally:
        await db.close()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)

    report(results)
    print(
        f"  the service's search statements ran {custom_plans:,} times with a plan made for their"
        f" parameters, {generic_plans:,} times with a generic plan"
    )
    c = results.checks
    figures: dict[str, Any] = {
        "customers": seeded.customers,
        "phones": seeded.phones,
        "queries": results.overall.n,
        "limit": LIMIT,
        "seed_seconds": round(seeded.seconds, 1),
        "database_mb": database_mb,
        "search_index_mb": gin_mb,
        "terms_mb": terms_mb,
        "term_rows": term_rows,
        "search_p50_ms": round(results.overall.p50, 3),
        "search_p99_ms": round(results.overall.p99, 3),
        "search_mean_ms": round(results.overall.mean, 3),
        "search_max_ms": round(results.overall.max, 3),
    }
    for kind, stats in results.per_class.items():
        figures[f"{kind}_p50_ms"] = round(stats.p50, 3)
        figures[f"{kind}_p99_ms"] = round(stats.p99, 3)
    alts = results.alternatives.values()
    as_sent = Stats.of([ns for a in alts for ns in a.as_sent_ns])
    two_step = Stats.of([ns for a in alts for ns in a.two_step_ns])
    figures.update(
        {
            "slowest_class": results.slowest[0],
            "custom_plans": custom_plans,
            "generic_plans": generic_plans,
            "db_as_sent_p50_ms": round(as_sent.p50, 3),
            "db_as_sent_p99_ms": round(as_sent.p99, 3),
            "db_two_step_p50_ms": round(two_step.p50, 3),
            "db_two_step_p99_ms": round(two_step.p99, 3),
            "two_step_diffs": sum(a.diffs for a in alts),
            "mismatches": c.mismatches,
            "misordered": c.misordered,
            "expected_missed": c.expected_missed,
            "page_overlaps": c.page_overlaps,
            "brute_diffs": c.brute_diffs,
            "walk_duplicates": c.walk_duplicates,
            "walk_count_diffs": c.walk_count_diffs,
            "reindex_diffs": c.reindex_diffs,
            "terms_missing": c.terms_missing,
            "load_average": round(load, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "seed_worker_peak_rss_mb": round(
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
            ),
            "postgres": version,
            "python": sys.version.split()[0],
        }
    )
    return figures


async def summarise(db: Database, timed: Sequence[Timed], checks: Checks) -> Results:
    by_class: dict[str, list[Timed]] = defaultdict(list)
    for t in timed:
        by_class[t.query.kind].append(t)
    kinds = [k for k in BUILDERS if by_class[k]]
    per_class = {k: Stats.of([t.ns for t in by_class[k]]) for k in kinds}
    plans = {}
    for kind in kinds:
        ordered = sorted(by_class[kind], key=lambda t: t.ns)
        median, _ = await explain(db, ordered[len(ordered) // 2])
        slowest, _ = await explain(db, ordered[-1])
        plans[kind] = (median, slowest)
    worst = max(per_class, key=lambda k: per_class[k].p99)
    slowest_query = max(by_class[worst], key=lambda t: t.ns)
    _, lines = await explain(db, slowest_query, text=True)
    return Results(
        overall=Stats.of([t.ns for t in timed]),
        per_class=per_class,
        rows={k: statistics.fmean(len(t.ids) for t in by_class[k]) for k in kinds},
        full={k: statistics.fmean(t.full for t in by_class[k]) for k in kinds},
        plans=plans,
        slowest=(worst, slowest_query, lines),
        alternatives={},
        checks=checks,
    )


def report(results: Results) -> None:
    print(f"\n  {'latency (ms)':<12} {'p50':>8} {'p99':>8} {'mean':>8} {'max':>8} {'n':>6}"
          f"  {'rows':>5} {'full':>5}  query class")  # fmt: skip
    for kind, stats in results.per_class.items():
        extra = f"  {results.rows[kind]:5.1f} {results.full[kind]:5.0%}  {CLASS_NOTES[kind]}"
        print(row(stats, kind) + extra)
    print(row(results.overall, "all"))

    print(
        "\n  plans of each class's median and slowest query (EXPLAIN ANALYZE, run again after"
        " the timing):\n  search() ms when timed, execution ms now, rows examined by the scan,"
        " shared buffers hit/read, plan"
    )
    for kind, plans in results.plans.items():
        for which, p in zip(("median", "slowest"), plans, strict=True):
            print(
                f"  {kind if which == 'median' else '':<12} {which:<7} {p.timed_ms:9.3f}"
                f" {p.ms:9.3f} {p.examined:>9,} {p.hit:>7,}/{p.read:<7,} {p.shape}\n"
                f"  {'':<20} {p.query}"
            )
    kind, slowest, lines = results.slowest
    print(f"\n  slowest class by p99: {kind}; its slowest query ({slowest.ns / 1e6:.1f} ms when"
          f" timed): {slowest.query.label()}")  # fmt: skip
    for line in lines:
        print("    | " + line)

    print(
        f"\n  the database's part alone (the service's customers statement, bare) against the"
        f" two-step query\n  (at most {HEAD_ROWS:,} customers in name order, then the GIN"
        " index), same queries, ms:"
    )
    print(f"  {'':<12} {'as sent p50':>11} {'p99':>9} {'max':>9}   {'two-step p50':>12} {'p99':>9}"
          f" {'max':>9}  {'GIN step':>8}  differ")  # fmt: skip
    for kind, alt in results.alternatives.items():
        a, b = Stats.of(alt.as_sent_ns), Stats.of(alt.two_step_ns)
        print(
            f"  {kind:<12} {a.p50:11.3f} {a.p99:9.3f} {a.max:9.3f}   {b.p50:12.3f} {b.p99:9.3f}"
            f" {b.max:9.3f}  {alt.rest_needed:>4}/{a.n:<3}  {alt.diffs}"
        )

    c = results.checks
    print(
        f"\n  checks: {c.results:,} results, {c.mismatches} not matching the query, "
        f"{c.misordered} pages out of order"
        f"{'' if c.codepoint_order else ' (order not checked: not a code-point collation)'}; "
        f"{c.expected_missed} known customers not found "
        f"({c.expected_unverifiable} behind a full page); {c.page_overlaps} second pages "
        f"overlapping the first; {c.brute_diffs} of {c.brute_checked} first pages differing "
        f"from a sequential scan; {c.walks} queries paged to the end with "
        f"{c.walk_duplicates} duplicates and {c.walk_count_diffs} totals differing from "
        f"count(*); {c.reindex_diffs} of {c.reindexed} seeded index entries differing from "
        f"the service's, {c.terms_missing} customer_terms rows missing"
    )


def main() -> None:
    args = parse_args()
    run_and_print(lambda: run(args), args.loop)


if __name__ == "__main__":
    main()
