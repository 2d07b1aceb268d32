"""The customer CSV import: the reader on bytes, the service on the database, the API
endpoint and the ``tamas import customers`` command."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.customers.importer import ImportRow, ParsedRows, RowError, read_customers
from app.customers.service import CustomerService, ImportCounts
from app.models import Role
from tests.fixtures.factories import auth_headers

ZWNJ = "\u200c"


def read(data: bytes) -> tuple[ParsedRows, list[ImportRow | RowError]]:
    parsed = read_customers(io.BytesIO(data))
    return parsed, list(parsed.rows)


Row = tuple[int, str] | tuple[int, str, list[tuple[str, str]]]


def summary(rows: list[ImportRow | RowError]) -> list[Row]:
    """(line, name, [(number, label)]) for a good row, (line, reason) for a bad one."""
    out: list[Row] = []
    for row in rows:
        if isinstance(row, RowError):
            out.append((row.line, row.reason))
        else:
            out.append((row.line, row.data.name, [(p.number, p.label) for p in row.data.phones]))
    return out


def good(rows: list[ImportRow | RowError]) -> list[ImportRow]:
    return [r for r in rows if isinstance(r, ImportRow)]


# -- encodings ----------------------------------------------------------------------------

PERSIAN_CSV = "نام,موبایل,شرکت\nعلی رضایی,۰۹۱۲ ۱۲۳ ۴۵۶۷,شرکت آلفا\nسارا امینی,09351234567,\n"
PERSIAN_ROWS: list[Row] = [
    (2, "علی رضایی", [("۰۹۱۲ ۱۲۳ ۴۵۶۷", "mobile")]),
    (3, "سارا امینی", [("09351234567", "mobile")]),
]


def test_utf8_with_bom() -> None:
    parsed, rows = read(PERSIAN_CSV.encode("utf-8-sig"))
    assert parsed.encoding == "utf-8-sig"
    assert summary(rows) == PERSIAN_ROWS
    assert good(rows)[0].data.company == "شرکت آلفا"
    assert parsed.columns.ignored == []


def test_utf8_without_bom() -> None:
    parsed, rows = read(PERSIAN_CSV.encode("utf-8"))
    assert parsed.encoding == "utf-8-sig"  # reads both
    assert summary(rows) == PERSIAN_ROWS


def test_windows_1256() -> None:
    # Excel's plain "CSV" on a Persian Windows: Arabic yeh (cp1256 has no Persian one) and
    # Latin digits.
    data = "نام;موبايل;شركت\r\nعلي رضايي;09121234567;شرکت آلفا\r\nمريم;09351234567;\r\n"
    parsed, rows = read(data.encode("cp1256"))
    assert parsed.encoding == "cp1256"
    assert parsed.delimiter == ";"
    assert summary(rows) == [
        (2, "علي رضايي", [("09121234567", "mobile")]),
        (3, "مريم", [("09351234567", "mobile")]),
    ]
    assert good(rows)[0].data.company == "شرکت آلفا"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16(encoding: str) -> None:
    # Excel's "Unicode text": UTF-16 with a BOM, tab-separated; some tools leave the BOM out.
    data = "نام\tموبایل\r\nعلی رضایی\t۰۹۱۲ ۱۲۳ ۴۵۶۷\r\nSara\t09351234567\r\n"
    parsed, rows = read(data.encode(encoding))
    assert parsed.encoding == encoding
    assert parsed.delimiter == "\t"
    assert summary(rows) == [
        (2, "علی رضایی", [("۰۹۱۲ ۱۲۳ ۴۵۶۷", "mobile")]),
        (3, "Sara", [("09351234567", "mobile")]),
    ]


@pytest.mark.parametrize(
    ("delimiter", "data"),
    [
        (",", "name,mobile,company\nAli,09121234567,Alpha\n"),
        (";", "name;mobile;company\nAli;09121234567;Alpha\n"),
        ("\t", "name\tmobile\tcompany\nAli\t09121234567\tAlpha\n"),
        ("|", "name|mobile|company\nAli|09121234567|Alpha\n"),
        (";", 'name;mobile;company\n"Ali, Jr.";09121234567;"Alpha; Beta"\n'),
    ],
)
def test_delimiters(delimiter: str, data: str) -> None:
    parsed, rows = read(data.encode())
    assert parsed.delimiter == delimiter
    [row] = good(rows)
    assert row.data.phones[0].number == "09121234567"
    assert row.data.company in ("Alpha", "Alpha; Beta")


# -- headers ------------------------------------------------------------------------------


def test_persian_headers() -> None:
    header = [
        "نام و نام خانوادگی",
        "شماره موبایل",
        "تلفن ثابت",
        "نام شرکت",
        "نشانی",
        "ایمیل",
        "یادداشت",
        f"برچسب{ZWNJ}ها",
        "اولویت",
        "نوع",
        "کد مشتری",
        "فکس",
        "تلفن منزل",
    ]
    row = [
        "شرکت آلفا",
        "۰۹۱۲۱۲۳۴۵۶۷",
        "۰۲۱-۸۸۷۷۶۶۵۵",
        "آلفا",
        "تهران، ولیعصر",
        "info@alpha.ir",
        "مشتری قدیمی",
        "vip، عمده‌فروش",
        "vip",
        "حقوقی",
        "A-100",
        "021 8877 6656",
        "021 2222 3333",
    ]
    data = ",".join(header) + "\n" + ",".join(f'"{c}"' for c in row) + "\n"
    parsed, rows = read(data.encode())
    assert parsed.columns.ignored == []
    [imported] = good(rows)
    d = imported.data
    assert (d.name, d.company, d.address, d.email, d.notes) == (
        "شرکت آلفا",
        "آلفا",
        "تهران، ولیعصر",
        "info@alpha.ir",
        "مشتری قدیمی",
    )
    assert d.tags == ["vip", "عمدهفروش"]
    assert (d.priority, d.kind, d.external_id) == ("VIP", "organization", "A-100")
    assert [(p.number, p.label) for p in d.phones] == [
        ("۰۹۱۲۱۲۳۴۵۶۷", "mobile"),
        ("۰۲۱-۸۸۷۷۶۶۵۵", "office"),
        ("021 8877 6656", "fax"),
        ("021 2222 3333", "home"),
    ]


def test_english_headers_any_case_and_spelling() -> None:
    data = (
        "Full Name,Mobile Number,Work Phone,Company Name,E-Mail,Tags,Priority,Type,"
        "External ID,Favourite colour\n"
        "Ali Rezaei,09121234567,021 8877 6655,Alpha,ali@alpha.ir,a;b,b,person,X1,blue\n"
    )
    parsed, rows = read(data.encode())
    assert parsed.columns.ignored == ["Favourite colour"]
    [imported] = good(rows)
    d = imported.data
    assert (d.name, d.company, d.email, d.tags, d.priority, d.kind, d.external_id) == (
        "Ali Rezaei",
        "Alpha",
        "ali@alpha.ir",
        ["a", "b"],
        "B",
        "person",
        "X1",
    )
    assert [(p.number, p.label) for p in d.phones] == [
        ("09121234567", "mobile"),
        ("021 8877 6655", "office"),
    ]


@pytest.mark.parametrize(
    "header",
    [
        f"نام,نام{ZWNJ}خانوادگی,موبایل",
        "نام,نام خانوادگی,موبایل",
        "نام,نامخانوادگی,موبایل",
        "first name,last name,mobile",
        "First_Name,Last-Name,Mobile",
        "نام کوچک,فامیلی,موبایل",
    ],
)
def test_first_and_last_name_make_the_name(header: str) -> None:
    # "نام" beside "نام خانوادگی" is the first name: the customer is both, not the first alone.
    _, rows = read(f"{header}\nعلی,رضایی,09121234567\n,کریمی,09351234567\n".encode())
    assert [r.data.name for r in good(rows)] == ["علی رضایی", "کریمی"]


def test_company_is_the_name_when_there_is_none() -> None:
    _, rows = read("first name,last name,company\n,,شرکت بتا\n".encode())
    [row] = good(rows)
    assert (row.data.name, row.data.company) == ("شرکت بتا", "شرکت بتا")


@pytest.mark.parametrize(
    ("header", "found"),
    [
        ("mobile,email", "mobile, email"),
        ("موبایل,ایمیل,آدرس", "موبایل, ایمیل, آدرس"),
        ("phone", "phone"),
        ("id;notes", "id, notes"),
    ],
)
def test_header_without_a_name_column(header: str, found: str) -> None:
    with pytest.raises(ValueError) as caught:
        read(f"{header}\n09121234567,x@y.ir\n".encode())
    assert str(caught.value) == (
        "the header row has no name column (expected one of: name, نام, first name, "
        f"last name, company); found: {found}"
    )


def xlsx_bytes() -> bytes:
    """The start of what Excel writes for a workbook: a zip of XML parts."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as workbook:
        workbook.writestr("[Content_Types].xml", "<Types/>")
        workbook.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    return buffer.getvalue()


WORKBOOK_MESSAGE = (
    "the file is an Excel workbook, not CSV: in Excel, save it as "
    '"CSV UTF-8 (Comma delimited)" and import that file'
)


@pytest.mark.parametrize(
    "data",
    [xlsx_bytes(), b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504],
    ids=["xlsx", "xls"],
)
def test_an_excel_workbook_is_refused_with_advice(data: bytes) -> None:
    with pytest.raises(ValueError) as caught:
        read(data)
    assert str(caught.value) == WORKBOOK_MESSAGE


@pytest.mark.parametrize("data", [b"", b"\n\n", b"   \r\n", "\ufeff".encode()])
def test_empty_file(data: bytes) -> None:
    with pytest.raises(ValueError, match="the file is empty"):
        read(data)


# -- numbers and tags ----------------------------------------------------------------------


def test_several_number_columns_and_several_numbers_in_a_cell() -> None:
    data = (
        "name,mobile,mobile 2,phone,تلفن‌ها,موبایل ۲\n"
        'Ali,"09121234567; 09351234567","0919 123 4567 | 0901 123 4567",'
        '"021 8877 6655, 021 8877 6656","۰۲۱۲۲۲۲۳۳۳۳ و ۰۲۱۲۲۲۲۳۳۳۴","0990 123 4567\n'
        '0991 123 4567 / 0992 123 4567،0993 123 4567"\n'
    )
    _, rows = read(data.encode())
    [row] = good(rows)
    assert [(p.number, p.label) for p in row.data.phones] == [
        ("09121234567", "mobile"),
        ("09351234567", "mobile"),
        ("0919 123 4567", "mobile"),
        ("0901 123 4567", "mobile"),
        ("021 8877 6655", "other"),
        ("021 8877 6656", "other"),
        ("۰۲۱۲۲۲۲۳۳۳۳", "other"),
        ("۰۲۱۲۲۲۲۳۳۳۴", "other"),
        ("0990 123 4567", "mobile"),
        ("0991 123 4567", "mobile"),
        ("0992 123 4567", "mobile"),
        ("0993 123 4567", "mobile"),
    ]


def test_a_number_written_with_slashes_is_one_number() -> None:
    _, rows = read(b"name,phone\nAli,0912/123/4567\n")
    assert [p.number for p in good(rows)[0].data.phones] == ["0912/123/4567"]


def test_tags() -> None:
    data = 'name,tags\nA,"VIP, تهران; عمده‌فروش|vip"\nB,\nC,"ـ"\n'
    _, rows = read(data.encode())
    assert [r.data.tags for r in good(rows)] == [["vip", "تهران", "عمدهفروش"], [], []]


# -- line numbers and broken rows ----------------------------------------------------------


def test_multiline_fields_and_broken_rows_keep_their_line_numbers() -> None:
    data = (
        "name,phone,notes\n"  # 1
        'Ali,09121234567,"first line\n'  # 2
        "second line\n"  # 3
        'third line"\n'  # 4
        "Reza,09351234567,x\n"  # 5
        ",09191234567,no name\n"  # 6
        "Bob,09011234567,a,b\n"  # 7 (too many fields)
        "\n"  # 8 (blank)
        'Zed,"0912"1234567,x\n'  # 9 (an unreadable quote)
        "Mina,09901234567,\n"  # 10
        "Trailing,09911234567,,,\n"  # 11 (empty extra fields: fine)
        "   ,  ,  \n"  # 12 (blank)
        '"Open,09921234567,never closed\n'  # 13
        "Lost,09931234567,\n"  # 14 (inside the open quote)
    )
    _, rows = read(data.encode())
    assert summary(rows) == [
        (2, "Ali", [("09121234567", "other")]),
        (5, "Reza", [("09351234567", "other")]),
        (6, "no name (and no company to use as the name)"),
        (7, "row has 4 fields but the header has 3"),
        (9, "unreadable CSV: ',' expected after '\"'"),
        (10, "Mina", [("09901234567", "other")]),
        (11, "Trailing", [("09911234567", "other")]),
        (13, "unreadable CSV: unexpected end of data"),
    ]
    assert good(rows)[0].data.notes == "first line\nsecond line\nthird line"


def test_crlf_and_blank_lines_before_the_header() -> None:
    data = b"\r\n\r\nname,phone\r\nAli,09121234567\r\n\r\nReza,09351234567\r\n"
    _, rows = read(data)
    assert summary(rows) == [
        (4, "Ali", [("09121234567", "other")]),
        (6, "Reza", [("09351234567", "other")]),
    ]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("Ali,09121234567,alien,,", "kind 'alien' is neither person nor organization"),
        ("Ali,09121234567,,Z,", "priority: Input should be 'A', 'B', 'C' or 'VIP'"),
        (
            "Ali,09121234567,,,not-an-email",
            "email: value is not a valid email address: An email address must have an @-sign.",
        ),
        (
            "Ali," + ";".join(f"0912{n:07d}" for n in range(51)) + ",,,",
            "phones: List should have at most 50 items after validation, not 51",
        ),
        ("Ali," + "0" * 101 + ",,,", "phone: number: String should have at most 100 characters"),
    ],
)
def test_invalid_values_are_reported(row: str, reason: str) -> None:
    _, rows = read(f"name,phone,kind,priority,email\n{row}\n".encode())
    assert summary(rows) == [(2, reason)]


def test_kind_values() -> None:
    data = "name,kind\nA,حقیقی\nB,حقوقي\nC,Organisation\nD,شركت\nE,\n"
    _, rows = read(data.encode())
    assert [r.data.kind for r in good(rows)] == [
        "person",
        "organization",
        "organization",
        "organization",
        "person",
    ]


def test_control_characters_are_dropped() -> None:
    # A NUL cannot be stored in PostgreSQL; a tab or newline inside a note stays.
    _, rows = read(b'name,notes\nA\x00li,"one\x00\ttwo\nthree\x07"\n')
    [row] = good(rows)
    assert (row.data.name, row.data.notes) == ("Ali", "one\ttwo\nthree")


def test_progress_reports_bytes_read() -> None:
    data = ("name,phone\n" + "".join(f"Customer {n},0912{n:07d}\n" for n in range(2000))).encode()
    seen: list[int] = []
    parsed = read_customers(io.BytesIO(data), on_bytes=seen.append)
    assert len(list(parsed.rows)) == 2000
    assert len(seen) == 2000
    assert seen == sorted(seen)
    assert seen[-1] == len(data)


# -- the service, on the database ----------------------------------------------------------

BATCH = (
    "name,mobile,office,external id,company,tags\n"  # 1
    "علی رضایی,09121234567,,C-1,,vip\n"  # 2
    "سارا امینی,09351234567,021 8877 6655,,آلفا,\n"  # 3
    "مریم کریمی,0912 12,,,,\n"  # 4: a bad number
    "رضا نوری,09191234567,021 8877 6655,,آلفا,\n"  # 5: shares the office line with Sara
    ",09011234567,,,,\n"  # 6: no name
    "Pooya,09901234567,88776655,,,\n"  # 7: an office number without its city code
)
BATCH_ERRORS = [
    (
        4,
        "'0912 12' has too few digits for a phone number in IR"
        " (numbers without a country code are read as IR)",
    ),
    (6, "no name (and no company to use as the name)"),
    (
        7,
        "'88776655' has no area code: write the city code (such as 021 for Tehran)"
        " before the number",
    ),
]


async def run_import(session: AsyncSession, settings: Settings, data: str) -> ImportCounts:
    counts = ImportCounts()
    parsed = read_customers(io.BytesIO(data.encode()))
    await CustomerService(session, settings).import_rows(list(parsed.rows), counts)
    return counts


def as_dict(counts: ImportCounts) -> dict[str, object]:
    return {
        "rows": counts.rows,
        "created": counts.created,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "errors": sorted(counts.errors),
    }


async def holders(session: AsyncSession, settings: Settings, number: str) -> list[str]:
    outcome = await CustomerService(session, settings).lookup(number)
    return [c.name for c in outcome.customers]


async def test_import_rows(session: AsyncSession, settings: Settings) -> None:
    counts = await run_import(session, settings, BATCH)
    assert as_dict(counts) == {
        "rows": 6,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "errors": BATCH_ERRORS,
    }
    ali = (await CustomerService(session, settings).lookup("۰۹۱۲۱۲۳۴۵۶۷")).customers
    assert [(c.name, c.external_id, c.tags) for c in ali] == [("علی رضایی", "C-1", ["vip"])]
    assert [(p.e164, p.label, p.raw) for p in ali[0].phones] == [
        ("+989121234567", "mobile", "09121234567")
    ]
    # Two people on one office line are two customers, both found by the line.
    assert await holders(session, settings, "(021) 8877-6655") == ["سارا امینی", "رضا نوری"]
    # A refused row is refused whole: its good numbers are not stored either.
    assert await holders(session, settings, "09011234567") == []
    assert await holders(session, settings, "09901234567") == []
    service = CustomerService(session, settings)
    rows, _ = await service.search(q="مریم")
    assert list(rows) == []
    rows, _ = await service.search(q="Pooya")
    assert list(rows) == []


async def test_reimport_creates_no_duplicates(session: AsyncSession, settings: Settings) -> None:
    await run_import(session, settings, BATCH)
    again = await run_import(session, settings, BATCH)
    assert as_dict(again) == {
        "rows": 6,
        "created": 0,
        "updated": 0,
        "unchanged": 3,
        "errors": BATCH_ERRORS,
    }
    assert await holders(session, settings, "09121234567") == ["علی رضایی"]
    assert await holders(session, settings, "021 8877 6655") == ["سارا امینی", "رضا نوری"]


async def test_same_person_written_differently_is_one_customer(
    session: AsyncSession, settings: Settings
) -> None:
    await run_import(session, settings, "name,mobile\nعلی کریمی,09121234567\n")
    # Arabic letters, another number format: the same person and number.
    counts = await run_import(session, settings, "name,mobile\nعلي كريمي,+98 912 123 4567\n")
    assert (counts.created, counts.unchanged) == (0, 1)
    # The same file twice over in one go.
    counts = await run_import(
        session, settings, "name,mobile\nنادر,09351234567\nنادر,0935 123 4567\n"
    )
    assert (counts.created, counts.unchanged) == (1, 1)


async def test_rows_without_numbers_match_on_name_and_company(
    session: AsyncSession, settings: Settings
) -> None:
    data = "name,company\nعلی,آلفا\nعلی,بتا\n"
    first = await run_import(session, settings, data)
    second = await run_import(session, settings, data)
    assert (first.created, second.created, second.unchanged) == (2, 0, 2)


async def test_external_id_match_updates_the_customer(
    session: AsyncSession, settings: Settings
) -> None:
    await run_import(
        session,
        settings,
        "id,name,mobile,company,tags,email\nC-1,علی رضایی,09121234567,آلفا,vip,\n",
    )
    counts = await run_import(
        session,
        settings,
        "id,name,mobile,company,tags,email\nC-1,علی رضایی,09351234567,بتا,تهران,ali@beta.ir\n",
    )
    assert as_dict(counts) == {
        "rows": 1,
        "created": 0,
        "updated": 1,
        "unchanged": 0,
        "errors": [],
    }
    [customer] = (await CustomerService(session, settings).lookup("09351234567")).customers
    assert (customer.company, customer.email, customer.tags) == (
        "بتا",
        "ali@beta.ir",
        ["vip", "تهران"],
    )
    # A new number is added; the old one is kept.
    assert sorted(p.e164 for p in customer.phones) == ["+989121234567", "+989351234567"]
    # Searching finds it by what changed.
    rows, _ = await CustomerService(session, settings).search(company="بتا")
    assert [c.id for c in rows] == [customer.id]
    rows, _ = await CustomerService(session, settings).search(q="0935")
    assert [c.id for c in rows] == [customer.id]


async def test_external_id_match_updates_the_name(
    session: AsyncSession, settings: Settings
) -> None:
    await run_import(session, settings, "id,name,mobile\nC-7,Ali,09121234567\n")
    counts = await run_import(session, settings, "id,name,mobile\nC-7,Ali Rezaei,09121234567\n")
    assert (counts.updated, counts.unchanged) == (1, 0)
    rows, _ = await CustomerService(session, settings).search(q="rezaei")
    assert [c.name for c in rows] == ["Ali Rezaei"]


async def test_a_bad_number_refuses_an_update_whole(
    session: AsyncSession, settings: Settings
) -> None:
    await run_import(session, settings, "id,name,mobile,company\nC-1,Ali,09121234567,Alpha\n")
    counts = await run_import(
        session, settings, 'id,name,mobile,company\nC-1,Ali,"09351234567; 0912 12",Beta\n'
    )
    assert counts.updated == 0
    assert [line for line, _ in counts.errors] == [2]
    [customer] = (await CustomerService(session, settings).lookup("09121234567")).customers
    assert customer.company == "Alpha"
    assert [p.e164 for p in customer.phones] == ["+989121234567"]


async def test_default_area_code_applies_to_imports(
    session: AsyncSession, settings: Settings
) -> None:
    tehran = settings.model_copy(update={"default_area_code": "21"})
    counts = await run_import(session, tehran, "name,office\nدفتر مرکزی,8877 6655\n")
    assert (counts.created, counts.errors) == (1, [])
    assert await holders(session, settings, "021 8877 6655") == ["دفتر مرکزی"]


# -- the API -------------------------------------------------------------------------------


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str], data: bytes, name: str = "c.csv"
) -> httpx.Response:
    return await client.post(
        "/api/customers/import", files={"file": (name, data, "text/csv")}, headers=headers
    )


def report(
    created: int, updated: int, unchanged: int, encoding: str = "utf-8-sig"
) -> dict[str, object]:
    return {
        "encoding": encoding,
        "rows": 6,
        "created": created,
        "updated": updated,
        "unchanged": unchanged,
        "failed": 3,
        "errors": [{"line": line, "reason": reason} for line, reason in BATCH_ERRORS],
        "ignored_columns": [],
    }


async def test_import_endpoint(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    supervisor = await auth_headers(session, settings, Role.supervisor)
    r = await upload(client, supervisor, BATCH.encode("utf-8-sig"))
    assert r.status_code == 200, r.text
    assert r.json() == report(created=3, updated=0, unchanged=0)

    agent = await auth_headers(session, settings, Role.agent)
    r = await client.get("/api/customers/lookup", params={"number": "02188776655"}, headers=agent)
    assert sorted(c["name"] for c in r.json()["customers"]) == ["رضا نوری", "سارا امینی"]
    r = await client.get("/api/customers", params={"q": "مریم"}, headers=agent)
    assert r.json()["items"] == []

    # The same file again: nothing new.
    r = await upload(client, supervisor, BATCH.encode("utf-8-sig"))
    assert r.json() == report(created=0, updated=0, unchanged=3)

    # The same list, saved by Excel as Windows-1256 (Arabic yeh), with a new tag for Ali.
    cp1256 = BATCH.replace("ی", "ي").replace(",vip\n", ',"vip,طلايي"\n').encode("cp1256")
    r = await upload(client, supervisor, cp1256)
    assert r.json() == report(created=0, updated=1, unchanged=2, encoding="cp1256")
    r = await client.get("/api/customers", params={"tag": "طلایی"}, headers=agent)
    assert [c["name"] for c in r.json()["items"]] == ["علی رضایی"]


async def test_import_reports_ignored_columns(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    supervisor = await auth_headers(session, settings, Role.supervisor)
    r = await upload(client, supervisor, "نام,رنگ,شماره ملی\nعلی,آبی,123\n".encode())
    assert r.status_code == 200, r.text
    assert r.json()["ignored_columns"] == ["رنگ", "شماره ملی"]
    assert r.json()["created"] == 1


async def test_import_needs_a_supervisor(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    agent = await auth_headers(session, settings, Role.agent)
    r = await upload(client, agent, BATCH.encode())
    assert r.status_code == 403
    assert r.json() == {
        "error": {"code": "forbidden", "message": "this needs the supervisor role", "fields": []}
    }
    r = await client.get("/api/customers", params={"q": "علی"}, headers=agent)
    assert r.json()["items"] == []
    r = await upload(client, {}, BATCH.encode())
    assert r.status_code == 401


async def test_import_without_a_name_column_is_422(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    admin = await auth_headers(session, settings, Role.admin)
    r = await upload(client, admin, b"mobile,email\n09121234567,a@b.ir\n")
    assert r.status_code == 422
    message = (
        "the header row has no name column (expected one of: name, نام, first name, "
        "last name, company); found: mobile, email"
    )
    assert r.json() == {
        "error": {
            "code": "invalid",
            "message": message,
            "fields": [{"field": "file", "message": message, "code": "invalid"}],
        }
    }
    r = await upload(client, admin, b"")
    assert r.status_code == 422
    assert r.json()["error"]["message"].startswith("the file is empty")
    r = await upload(client, admin, xlsx_bytes(), name="customers.xlsx")
    assert r.status_code == 422
    assert r.json()["error"]["message"] == WORKBOOK_MESSAGE


async def test_import_without_a_file_is_422(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    supervisor = await auth_headers(session, settings, Role.supervisor)
    r = await client.post("/api/customers/import", headers=supervisor)
    assert r.status_code == 422
    assert r.json()["error"]["fields"][0]["field"] == "body.file"


# -- the command ---------------------------------------------------------------------------


def test_cli_import(cli_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(BATCH.encode("utf-8-sig"))
    runner = CliRunner()

    first = runner.invoke(cli, ["import", "customers", str(path), "--batch", "2"], env=cli_env)
    assert first.exit_code == 1, first.output
    reasons = [f"line {line}: {reason}" for line, reason in BATCH_ERRORS]
    assert first.stderr.splitlines() == reasons
    assert first.stdout.splitlines() == [
        "6 rows (utf-8-sig): 3 created, 0 updated, 0 unchanged, 3 failed"
    ]

    again = runner.invoke(cli, ["import", "customers", str(path)], env=cli_env)
    assert again.exit_code == 1, again.output
    assert again.stderr.splitlines() == reasons
    assert again.stdout.splitlines() == [
        "6 rows (utf-8-sig): 0 created, 0 updated, 3 unchanged, 3 failed"
    ]

    clean = tmp_path / "clean.csv"
    clean.write_bytes("نام,موبايل,رنگ\nنادر,09131234567,سبز\n".encode("cp1256"))
    ok = runner.invoke(cli, ["import", "customers", str(clean)], env=cli_env)
    assert ok.exit_code == 0, ok.output
    assert ok.stderr.splitlines() == ["ignored columns: رنگ"]
    assert ok.stdout.splitlines() == [
        "1 rows (cp1256): 1 created, 0 updated, 0 unchanged, 0 failed"
    ]


def test_cli_import_refuses_a_file_without_a_name_column(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "numbers.csv"
    path.write_bytes(b"mobile\n09121234567\n")
    result = CliRunner().invoke(cli, ["import", "customers", str(path)], env=cli_env)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: the header row has no name column")
    assert result.stdout == ""


def test_cli_import_missing_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["import", "customers", str(tmp_path / "nothing.csv")], env=cli_env
    )
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
