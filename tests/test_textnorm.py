"""Persian-aware normalisation, and the phonebook search built on it (through the API)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Customer, Role
from app.textnorm import clean_display, normalize, order_key, to_latin_digits, tokens
from tests.fixtures.factories import auth_headers, make_customer

ZWNJ = "\u200c"

SAME: list[tuple[str, str]] = [
    # Arabic letter forms from an Arabic keyboard layout.
    ("علي", "علی"),
    ("كريمي", "کریمی"),
    ("مصطفى", "مصطفی"),
    ("موسى", "موسی"),
    ("فاطمة", "فاطمه"),
    ("خانۀ", "خانه"),
    ("خانهٔ", "خانه"),
    # Hamza on a seat, and alone.
    ("أحمد", "احمد"),
    ("إبراهيم", "ابراهیم"),
    ("مؤمنی", "مومنی"),
    ("رئیسی", "رییسی"),
    ("مسئول", "مسیول"),
    ("آرش", "ارش"),
    ("قرآن", "قران"),
    ("علاءالدین", "علاالدین"),
    ("اشیاء", "اشیا"),
    # ZWNJ (and the other invisible joiners) inside words.
    (f"می{ZWNJ}خواهم", "میخواهم"),
    (f"نیک{ZWNJ}نام", "نیکنام"),
    ("می\u200dخواهم", "میخواهم"),
    ("علی\u200bرضا", "علیرضا"),
    # Diacritics: harakat, tanwin, shadda, superscript alef.
    ("مُحَمَّد", "محمد"),
    ("عَلِیّ", "علی"),
    ("حتماً", "حتما"),
    ("موسیٰ", "موسی"),
    # Tatweel (kashida).
    ("سـلـام", "سلام"),
    ("محمــــد", "محمد"),
    # Digits.
    ("۰۱۲۳۴۵۶۷۸۹", "0123456789"),
    ("٠١٢٣٤٥٦٧٨٩", "0123456789"),
    ("پلاک ۱۲", "پلاک 12"),
    ("\uff11\uff12", "12"),
    # Arabic presentation forms (old fonts, PDFs).
    ("ﻋﻠﻰ", "علی"),
    ("ﻋﻠﻲ", "علی"),
    ("ﻛﺮﻳﻢ", "کریم"),
    ("ﷲ", "الله"),
    ("ﻻ", "لا"),
    # Latin case folding.
    ("ALI Rezaei", "ali rezaei"),
    ("Straße", "strasse"),
    ("İSTANBUL", "istanbul"),
    ("Ｔａｍａｓ", "tamas"),
    # White space and bidi marks.
    ("  علی   رضایی ", "علی رضایی"),
    ("\u200fعلی\u200e", "علی"),
    ("\u061cعلی", "علی"),
    ("علی\u00a0رضایی", "علی رضایی"),
    ("علی\tرضایی\n", "علی رضایی"),
]


@pytest.mark.parametrize(("typed", "stored"), SAME)
def test_variants_fold_to_one_key(typed: str, stored: str) -> None:
    assert normalize(typed) == normalize(stored)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("علي كريمي", "علی کریمی"),
        ("مُحَمَّد", "محمد"),
        (f"می{ZWNJ}خواهم", "میخواهم"),
        ("ALI", "ali"),
        ("ﻋﻠﻰ", "علی"),
        ("فاطمة", "فاطمه"),
        ("  ", ""),
        ("", ""),
    ],
)
def test_normalize_exact(text: str, key: str) -> None:
    assert normalize(text) == key


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("علی", "علا"),
        ("کریم", "کریمی"),
        ("محمد", "احمد"),
        ("ali", "alx"),
        ("123", "124"),
    ],
)
def test_different_words_stay_different(one: str, other: str) -> None:
    assert normalize(one) != normalize(other)


def test_normalize_is_idempotent() -> None:
    for typed, _ in SAME:
        key = normalize(typed)
        assert normalize(key) == key


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("علي كريمي", ["علی", "کریمی"]),
        (f"علی{ZWNJ}رضا  رضایی", ["علیرضا", "رضایی"]),
        ("شرکت آلفا-بتا", ["شرکت", "الفا", "بتا"]),
        ("info@alpha.ir", ["info", "alpha", "ir"]),
        ("Ali_Reza", ["ali", "reza"]),
        ("۰۹۱۲-۱۲۳", ["0912", "123"]),
        ("C++ (dev)", ["c", "dev"]),
        ("«شرکت» آلفا، تهران؛", ["شرکت", "الفا", "تهران"]),
        ("!!! ...", []),
        ("", []),
    ],
)
def test_tokens(text: str, words: list[str]) -> None:
    assert tokens(text) == words


def test_to_latin_digits_changes_only_digits() -> None:
    assert to_latin_digits("تلفن: ۰۹۱۲-٣٤٥") == "تلفن: 0912-345"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("  شرکت   آلفا ", "شرکت آلفا"),
        (f"می{ZWNJ}خواهم", f"می{ZWNJ}خواهم"),  # ZWNJ is part of the spelling: kept
        ("علي كريمي", "علي كريمي"),  # letters are kept as typed
        ("\u200fعلی\u200e رضایی\u202c", "علی رضایی"),
        ("\u061cعلی\u2066\u2069", "علی"),
        ("a\u0301", "\u00e1"),  # NFC
    ],
)
def test_clean_display(text: str, shown: str) -> None:
    assert clean_display(text) == shown


# -- the phonebook search, through the API ------------------------------------------------


async def _names(
    client: httpx.AsyncClient, headers: dict[str, str], **params: str | list[str]
) -> list[str]:
    r = await client.get("/api/customers", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return [c["name"] for c in r.json()["items"]]


@pytest.fixture
async def agent(session: AsyncSession, settings: Settings) -> dict[str, str]:
    return await auth_headers(session, settings, Role.agent)


async def test_search_folds_persian_variants(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, agent: dict[str, str]
) -> None:
    await make_customer(session, settings, "علی کریمی", ("09121111111",))
    await make_customer(session, settings, "علي كريمي", ("09122222222",))
    await make_customer(session, settings, f"زهرا نیک{ZWNJ}نام", ("09123333333",))
    await make_customer(session, settings, "مُحَمَّد حسـینی", ("09124444444",))
    await make_customer(session, settings, "فاطمة مؤمنی", ("09125555555",))
    await make_customer(session, settings, "علاءالدین رئیسی", ("09126666666",))
    await make_customer(session, settings, "Ali REZAEI", ("09127777777",))

    both = sorted(["علی کریمی", "علي كريمي"])
    for q in ("علی کریمی", "علي كريمي", "علي کریمی", "ﻋﻠﻲ ﻛﺮﻳﻤﻲ", "کریمی", "كريمي"):
        assert sorted(await _names(client, agent, q=q)) == both, q
    for q in ("نیکنام", f"نیک{ZWNJ}نام", "زهرا نیک"):
        assert await _names(client, agent, q=q) == [f"زهرا نیک{ZWNJ}نام"], q
    for q in ("محمد", "مُحَمَّد", "حسینی", "محمد حسین", "محمــد"):
        assert await _names(client, agent, q=q) == ["مُحَمَّد حسـینی"], q
    for q in ("فاطمه مومنی", "فاطمة", "مؤمنی", "ﻓﺎﻃﻤﻪ"):
        assert await _names(client, agent, q=q) == ["فاطمة مؤمنی"], q
    for q in ("علاالدین", "علاءالدین", "رییسی", "رئیسی"):
        assert await _names(client, agent, q=q) == ["علاءالدین رئیسی"], q
    for q in ("ali", "ALI", "rEz", "Ali Rezaei"):
        assert await _names(client, agent, q=q) == ["Ali REZAEI"], q
    assert await _names(client, agent, q="حسن") == []


async def test_search_by_word_prefix(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, agent: dict[str, str]
) -> None:
    await make_customer(session, settings, "رضا احمدی", ("09121111111",))
    await make_customer(session, settings, "رضایی محمدی", ("09122222222",))
    await make_customer(session, settings, "محمدرضا نوری", ("09123333333",))
    assert await _names(client, agent, q="رضا") == ["رضا احمدی", "رضایی محمدی"]
    assert await _names(client, agent, q="محمد") == ["رضایی محمدی", "محمدرضا نوری"]
    # Every word must match (the beginning of some word).
    assert await _names(client, agent, q="رض محم") == ["رضایی محمدی"]
    # The middle of a word is not a match.
    assert await _names(client, agent, q="حمدی") == []


async def _company_customers(session: AsyncSession, settings: Settings) -> None:
    await make_customer(session, settings, "سارا امینی", ("09121111111",), company="شرکت آلفا")
    await make_customer(session, settings, "آلفا رحیمی", ("09122222222",), company="بتا")
    await make_customer(session, settings, "نرگس صالحی", ("09123333333",), company="ALFA Co")


async def test_search_by_company(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, agent: dict[str, str]
) -> None:
    await _company_customers(session, settings)
    # q looks in names and companies.
    assert await _names(client, agent, q="آلفا") == ["آلفا رحیمی", "سارا امینی"]
    assert await _names(client, agent, q="بتا") == ["آلفا رحیمی"]
    assert await _names(client, agent, company="شرکت") == ["سارا امینی"]
    assert await _names(client, agent, company="شركت") == ["سارا امینی"]
    assert await _names(client, agent, company="alfa co") == ["نرگس صالحی"]
    assert await _names(client, agent, company="ALF") == ["نرگس صالحی"]
    assert await _names(client, agent, company="بتا") == ["آلفا رحیمی"]
    assert await _names(client, agent, company="گاما") == []
    assert await _names(client, agent, q="سارا", company="شرکت") == ["سارا امینی"]
    assert await _names(client, agent, q="نرگس", company="شرکت") == []


async def test_company_filter_looks_at_companies_only(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, agent: dict[str, str]
) -> None:
    await _company_customers(session, settings)
    assert await _names(client, agent, company="آلفا") == ["سارا امینی"]
    assert await _names(client, agent, company="رحیمی") == []
    assert await _names(client, agent, company="0912") == []


async def test_search_by_part_of_a_number(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, agent: dict[str, str]
) -> None:
    await make_customer(session, settings, "موبایل‌دار", ("0912 123 4567",))
    await make_customer(session, settings, "ثابت‌دار", ("(021) 8877-6655 داخلی ۱۲",))
    await make_customer(session, settings, "خارجی", ("+44 20 7946 0958",))
    mobile, office, abroad = ["موبایل‌دار"], ["ثابت‌دار"], ["خارجی"]
    cases = {
        "۱۲۳۴": mobile,
        "1234567": mobile,
        "912 123": mobile,
        "0912": mobile,
        "0912-123-4567": mobile,
        "۰۹۱۲ ۱۲۳ ۴۵۶۷": mobile,
        "+98 912": mobile,
        "989121234567": mobile,
        "4567": mobile,
        "8877": office,
        "(021) 8877": office,
        "۰۲۱۸۸۷۷۶۶۵۵": office,
        "+98 21 8877 6655": office,
        "6655": office,
        "7946 0958": abroad,
        "+44 20": abroad,
        "020 7946": abroad,
        "5555": [],
        "0913": [],
    }
    for q, expected in cases.items():
        assert await _names(client, agent, q=q) == expected, q


async def test_search_by_tags_all_must_match(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, agent: dict[str, str]
) -> None:
    await make_customer(session, settings, "الف", ("09121111111",), tags=["VIP", "تهران"])
    await make_customer(
        session, settings, "ب", ("09122222222",), tags=["vip", f"عمده{ZWNJ}فروش", "تهران"]
    )
    await make_customer(session, settings, "پ", ("09123333333",), tags=["عمده‌فروش"])
    assert await _names(client, agent, tag="vip") == ["الف", "ب"]
    assert await _names(client, agent, tag=["VIP", "تهران"]) == ["الف", "ب"]
    assert await _names(client, agent, tag=["vip", "عمدهفروش"]) == ["ب"]
    assert await _names(client, agent, tag=["عمده‌فروش"]) == ["ب", "پ"]
    assert await _names(client, agent, tag=["vip", "شیراز"]) == []
    assert await _names(client, agent, tag="تهران", q="الف") == ["الف"]


# First letters in the same order by code point and in the alphabet (ا ب ر ز ع م ی, Latin
# first), so the expected order holds whatever the database's collation.
PAGE_NAMES = [
    "رضا احمدی",
    "Ali Rezaei",
    "علی کریمی",
    "علي كريمي",  # the same key as the one above: the id breaks the tie
    "علی کریمی",
    "زهرا نیک‌نام",
    "یاسمن",
    "آرش کمانگیر",
    "بهرام",
    "ali rezaei",
    "محمد",
]


async def test_keyset_pagination_walks_everything_in_name_order(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, agent: dict[str, str]
) -> None:
    created: list[Customer] = []
    for i, name in enumerate(PAGE_NAMES):
        created.append(
            await make_customer(session, settings, name, (f"0912{i:07d}",), tags=["صفحه"])
        )
    # The phonebook order: the name's order key (Persian alphabetical order), then the id.
    expected = [c.id for c in sorted(created, key=lambda c: (order_key(c.name), c.id))]

    for limit in (1, 2, 3, 4, 10, 11, 50):
        seen: list[int] = []
        cursor: str | None = None
        pages = 0
        while True:
            params: dict[str, str | int] = {"tag": "صفحه", "limit": limit}
            if cursor is not None:
                params["cursor"] = cursor
            r = await client.get("/api/customers", params=params, headers=agent)
            assert r.status_code == 200, r.text
            page = r.json()
            pages += 1
            assert len(page["items"]) <= limit
            seen.extend(c["id"] for c in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
            assert len(page["items"]) == limit
        assert seen == expected, limit
        assert pages == max(1, -(-len(PAGE_NAMES) // limit)), limit


async def test_pagination_with_a_query(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, agent: dict[str, str]
) -> None:
    ids = [
        (await make_customer(session, settings, f"کریمی {n}", (f"0912{n:07d}",))).id
        for n in range(5)
    ]
    r = await client.get("/api/customers", params={"q": "كريمي", "limit": 3}, headers=agent)
    first = r.json()
    assert [c["id"] for c in first["items"]] == ids[:3]
    r = await client.get(
        "/api/customers",
        params={"q": "كريمي", "limit": 3, "cursor": first["next_cursor"]},
        headers=agent,
    )
    second = r.json()
    assert [c["id"] for c in second["items"]] == ids[3:]
    assert second["next_cursor"] is None


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


GARBAGE_CURSORS = [
    "garbage",
    "!!!",
    "a",
    "e30",  # {}
    "__4=",
    _cursor("just a string"),
    _cursor(["only the key"]),
    _cursor(["key", "not an id"]),
    _cursor(["key", 1.5]),
    _cursor({"a": 1, "b": 2}),
    _cursor([1, 2]),
]


@pytest.mark.parametrize("cursor", GARBAGE_CURSORS)
async def test_garbage_cursor_is_422(
    client: httpx.AsyncClient, agent: dict[str, str], cursor: str
) -> None:
    r = await client.get("/api/customers", params={"cursor": cursor}, headers=agent)
    assert r.status_code == 422
    assert r.json() == {
        "error": {
            "code": "invalid",
            "message": "cursor is not one this API returned",
            "fields": [
                {
                    "field": "cursor",
                    "message": "cursor is not one this API returned",
                    "code": "invalid",
                }
            ],
        }
    }


@pytest.mark.parametrize(
    "cursor",
    [_cursor(["key", 10**30]), _cursor(["key", True]), _cursor(["key\u0000", 1])],
    ids=["id-beyond-bigint", "boolean-id", "nul-in-key"],
)
async def test_forged_cursor_is_422_not_500(
    client: httpx.AsyncClient, agent: dict[str, str], cursor: str
) -> None:
    r = await client.get("/api/customers", params={"cursor": cursor}, headers=agent)
    assert r.status_code == 422


async def test_a_long_tag_finds_its_customer(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, agent: dict[str, str]
) -> None:
    # Tags are stored cut to 64 characters; the same tag in full still finds them.
    tag = "مشتریان-" + "x" * 70
    await make_customer(session, settings, "دارای برچسب بلند", ("09121111111",), tags=[tag])
    assert await _names(client, agent, tag=tag) == ["دارای برچسب بلند"]


async def test_nul_in_a_tag_is_not_a_server_error(
    client: httpx.AsyncClient, agent: dict[str, str]
) -> None:
    r = await client.get("/api/customers", params={"tag": "vip\u0000"}, headers=agent)
    assert r.status_code in (200, 422)


async def test_search_needs_a_sign_in(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/customers", params={"q": "علی"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "not_authenticated"


def test_order_key_orders_the_persian_alphabet() -> None:
    from app.textnorm import PERSIAN_ALPHABET, order_key

    letters = list(PERSIAN_ALPHABET)
    assert sorted(letters, key=order_key) == letters
    assert len(set(letters)) == 32
    # Forms read as the same letter have the same key; the key keeps normalize's length.
    assert order_key("كريم") == order_key("کریم")
    assert order_key("آب") == order_key("اب")
    assert len(order_key("علی اکبر ۱۲")) == len("علی اکبر 12")
    assert sorted(["هادی", "وحید", "پرویز", "یاسر", "بابک"], key=order_key) == [
        "بابک",
        "پرویز",
        "وحید",
        "هادی",
        "یاسر",
    ]
