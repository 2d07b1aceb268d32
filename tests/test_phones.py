"""Phone numbers as people type and paste them, to E.164 (and an extension); and the lookup
by number that uses them."""

from __future__ import annotations

import contextlib

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Role
from app.phones import InvalidPhoneNumber, digits_of, parse_phone, try_parse_phone
from tests.fixtures.factories import auth_headers, make_customer

# Invisible marks that come along with numbers copied out of Persian (RTL) text.
LRM, RLM, ZWNJ, NBSP, ALM = "\u200e", "\u200f", "\u200c", "\u00a0", "\u061c"
LRE, PDF, FSI, PDI = "\u202a", "\u202c", "\u2068", "\u2069"

MOBILE = "+989121234567"
TEHRAN = "+982188776655"

VALID: list[tuple[str, str, str | None]] = [
    # Mobile, in every form it arrives in.
    ("09121234567", MOBILE, None),
    ("0912 123 4567", MOBILE, None),
    ("0912-123-4567", MOBILE, None),
    ("0912.123.4567", MOBILE, None),
    ("0912/123/4567", MOBILE, None),
    ("(0912) 123 4567", MOBILE, None),
    ("۰۹۱۲ ۱۲۳ ۴۵۶۷", MOBILE, None),
    ("۰۹۱۲۱۲۳۴۵۶۷", MOBILE, None),
    ("٠٩١٢١٢٣٤٥٦٧", MOBILE, None),
    ("٠٩١٢ ١٢٣ ٤٥٦٧", MOBILE, None),
    ("۰۹۱۲-123-٤٥٦٧", MOBILE, None),
    ("+98 912 123 4567", MOBILE, None),
    ("+989121234567", MOBILE, None),
    ("+98 (912) 123-4567", MOBILE, None),
    ("(+98) 912 123 4567", MOBILE, None),
    ("+98 (0) 912 123 4567", MOBILE, None),
    ("+98 0912 123 4567", MOBILE, None),
    ("+۹۸ ۹۱۲ ۱۲۳ ۴۵۶۷", MOBILE, None),
    ("0098-912-123-4567", MOBILE, None),
    ("0098 912 123 4567", MOBILE, None),
    ("00989121234567", MOBILE, None),
    ("0098 0912 123 4567", MOBILE, None),
    ("9121234567", MOBILE, None),
    ("912 123 4567", MOBILE, None),
    ("989121234567", MOBILE, None),
    ("98 912 123 4567", MOBILE, None),
    ("9809121234567", MOBILE, None),
    ("٩٨٩١٢١٢٣٤٥٦٧", MOBILE, None),
    ("  09121234567  ", MOBILE, None),
    ("09121234567.", MOBILE, None),
    ("\uff10\uff19\uff11\uff12\uff11\uff12\uff13\uff14\uff15\uff16\uff17", MOBILE, None),
    ("\uff0b98 912 123 4567", MOBILE, None),
    ("0912\u2013123\u20134567", MOBILE, None),
    ("0912\u2212123\u22124567", MOBILE, None),
    ("0912\u2010123\u20114567", MOBILE, None),
    ("۰۹۱۲ـ۱۲۳ـ۴۵۶۷", MOBILE, None),
    # Pasted out of RTL text: bidi marks, ZWNJ, no-break spaces around and between groups.
    (f"{LRM}09121234567{RLM}", MOBILE, None),
    (f"{RLM}۰۹۱۲ ۱۲۳ ۴۵۶۷{RLM}", MOBILE, None),
    (f"{LRE}+98 912 123 4567{PDF}", MOBILE, None),
    (f"{FSI}0912 123 4567{PDI}", MOBILE, None),
    (f"۰۹۱۲{ZWNJ}۱۲۳{ZWNJ}۴۵۶۷", MOBILE, None),
    (f"0912{NBSP}123{NBSP}4567", MOBILE, None),
    ("0912\u202f123\u202f4567", MOBILE, None),
    (f"{ALM}0912 123 4567", MOBILE, None),
    ("\u200b0912\u2060123\u00ad4567\ufeff", MOBILE, None),
    # Other operators.
    ("0901 123 4567", "+989011234567", None),
    ("0919 123 4567", "+989191234567", None),
    ("0935 123 4567", "+989351234567", None),
    ("0990 123 4567", "+989901234567", None),
    ("0998 123 4567", "+989981234567", None),
    ("0921 123 4567", "+989211234567", None),
    # Landlines with a city code.
    ("(021) 8877-6655", TEHRAN, None),
    ("021 8877 6655", TEHRAN, None),
    ("021-88776655", TEHRAN, None),
    ("02188776655", TEHRAN, None),
    ("021.8877.6655", TEHRAN, None),
    ("۰۲۱-۸۸۷۷۶۶۵۵", TEHRAN, None),
    ("+98 21 8877 6655", TEHRAN, None),
    ("+98-21-8877-6655", TEHRAN, None),
    ("0098 21 8877 6655", TEHRAN, None),
    ("0098(21)88776655", TEHRAN, None),
    ("982188776655", TEHRAN, None),
    ("2188776655", TEHRAN, None),
    ("031 3222 3344", "+983132223344", None),
    ("051 3844 5566", "+985138445566", None),
    ("076 3333 4444", "+987633334444", None),
    ("044 3322 1100", "+984433221100", None),
    ("071 3611 2233", "+987136112233", None),
    # Extensions.
    ("021 8877 6655 داخلی ۱۲", TEHRAN, "12"),
    ("021 8877 6655 داخلي 12", TEHRAN, "12"),
    ("021 8877 6655 داخلى ۱۲", TEHRAN, "12"),
    ("۰۲۱۸۸۷۷۶۶۵۵ داخلی۱۲۳", TEHRAN, "123"),
    ("021 8877 6655 داخلی: 12", TEHRAN, "12"),
    ("02188776655 ext 12", TEHRAN, "12"),
    ("02188776655 ext.12", TEHRAN, "12"),
    ("02188776655 Ext. 12", TEHRAN, "12"),
    ("02188776655 EXT: 12", TEHRAN, "12"),
    ("02188776655 extension 12", TEHRAN, "12"),
    ("02188776655 x12", TEHRAN, "12"),
    ("02188776655 X 12", TEHRAN, "12"),
    ("02188776655#12", TEHRAN, "12"),
    ("02188776655 # 12", TEHRAN, "12"),
    ("+982188776655;ext=12", TEHRAN, "12"),
    ("+98 21 8877 6655 ext 1234567890", TEHRAN, "1234567890"),
    ("0912 123 4567 داخلی 5", MOBILE, "5"),
    ("+1 650 253 0000 x 123", "+16502530000", "123"),
    # Abroad: with + or 00.
    ("+1 212 555 0123", "+12125550123", None),
    ("+1 (650) 253-0000", "+16502530000", None),
    ("001 650 253 0000", "+16502530000", None),
    ("+44 20 7946 0958", "+442079460958", None),
    ("0044 20 7946 0958", "+442079460958", None),
    ("+44 7911 123456", "+447911123456", None),
    ("+49 30 12345678", "+493012345678", None),
    ("+49 151 12345678", "+4915112345678", None),
    ("+971 50 123 4567", "+971501234567", None),
    ("+971 4 312 3456", "+97143123456", None),
    ("00971 50 123 4567", "+971501234567", None),
    ("+90 532 123 4567", "+905321234567", None),
    ("+964 770 123 4567", "+9647701234567", None),
    ("+۹۷۱ ۵۰ ۱۲۳ ۴۵۶۷", "+971501234567", None),
    # Explicit + is taken at its word, even where it reads like a home number too.
    ("+45 4529 2978", "+4545292978", None),
]


@pytest.mark.parametrize(("raw", "e164", "extension"), VALID)
def test_valid_numbers(raw: str, e164: str, extension: str | None) -> None:
    number = parse_phone(raw)
    assert (number.e164, number.extension) == (e164, extension)
    assert try_parse_phone(raw) == number


@pytest.mark.parametrize(
    ("raw", "region", "number_type"),
    [
        ("09121234567", "IR", "mobile"),
        ("021 8877 6655", "IR", "fixed_line"),
        ("+44 20 7946 0958", "GB", "fixed_line"),
        ("+971 50 123 4567", "AE", "mobile"),
        ("+1 650 253 0000", "US", "fixed_line_or_mobile"),
    ],
)
def test_region_and_type(raw: str, region: str, number_type: str) -> None:
    number = parse_phone(raw)
    assert (number.region, number.number_type) == (region, number_type)


def test_formats() -> None:
    mobile = parse_phone("۰۹۱۲ ۱۲۳ ۴۵۶۷")
    assert mobile.international == "+98 912 123 4567"
    assert mobile.national() == "0912 123 4567"
    office = parse_phone("021 8877 6655 داخلی ۱۲")
    assert office.national() == "021 8877 6655"  # the extension is kept apart


INVALID: list[tuple[str, str]] = [
    ("", "phone number is empty"),
    ("   ", "phone number is empty"),
    (f"{LRM}{RLM} {ZWNJ}", "phone number is empty"),
    ("abc", "phone number 'abc' contains letters or symbols"),
    ("0912abc4567", "phone number '0912abc4567' contains letters or symbols"),
    ("۰۹۱۲ یک ۴۵۶۷", "phone number '۰۹۱۲ یک ۴۵۶۷' contains letters or symbols"),
    ("tel:09121234567", "phone number 'tel:09121234567' contains letters or symbols"),
    ("0912*1234567", "phone number '0912*1234567' contains letters or symbols"),
    ("0912 123 4567 داخلی", "phone number '0912 123 4567 داخلی' contains letters or symbols"),
    ("ext 12", "phone number 'ext 12' contains letters or symbols"),
    ("0912-123-4567, 0935", "phone number '0912-123-4567, 0935' contains letters or symbols"),
    ("12", "phone number '12' is too short"),
    ("+", "phone number '+' is too short"),
    ("-", "phone number '-' is too short"),
    ("()", "phone number '()' is too short"),
    ("12345678901234567890", "phone number '12345678901234567890' is too long"),
    (
        "09121234567 09127654321",
        "phone number '09121234567 09127654321' is too long",
    ),
    (
        "02188776655 داخلی ۱۲۳۴۵۶۷۸۹۰۱",
        "phone number '02188776655 داخلی ۱۲۳۴۵۶۷۸۹۰۱' has an extension of 11 digits (at most 10)",
    ),
    (
        "0912 12",
        "'0912 12' has too few digits for a phone number in IR"
        " (numbers without a country code are read as IR)",
    ),
    (
        "0912 123 456",
        "'0912 123 456' has too few digits for a phone number in IR"
        " (numbers without a country code are read as IR)",
    ),
    (
        "۰۹۱۲۱۲۳۴۵۶",
        "'۰۹۱۲۱۲۳۴۵۶' has too few digits for a phone number in IR"
        " (numbers without a country code are read as IR)",
    ),
    (
        "091212345678",
        "'091212345678' has too many digits for a phone number in IR"
        " (numbers without a country code are read as IR)",
    ),
    (
        "021 8877 665",
        "'021 8877 665' has too few digits for a phone number in IR"
        " (numbers without a country code are read as IR)",
    ),
    ("+98 21 8877 665", "'+98 21 8877 665' has too few digits for a phone number in IR"),
    ("0098 912 123 456", "'0098 912 123 456' has too few digits for a phone number in IR"),
    (
        "88776655",
        "'88776655' has no area code: write the city code (such as 021 for Tehran)"
        " before the number",
    ),
    (
        "۸۸۷۷ ۶۶۵۵",
        "'۸۸۷۷ ۶۶۵۵' has no area code: write the city code (such as 021 for Tehran)"
        " before the number",
    ),
    ("+1 212 555 01", "'+1 212 555 01' has too few digits for a phone number in US"),
    ("+971 4 123 4567", "'+971 4 123 4567' is not a valid phone number in AE"),
    ("+999 1234 5678", "'+999 1234 5678' is not a valid phone number"),
]


@pytest.mark.parametrize(("raw", "message"), INVALID)
def test_invalid_numbers_say_why(raw: str, message: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        parse_phone(raw)
    assert str(caught.value) == message
    assert try_parse_phone(raw) is None


def test_invalid_phone_number_is_a_value_error() -> None:
    # Callers (pydantic validators, the importer) may catch ValueError.
    with pytest.raises(ValueError, match="too short"):
        parse_phone("1")


# A home number with a slip of the finger is refused, never stored as a number abroad.
MISTYPED_HOME: list[tuple[str, str]] = [
    # One 0 too many: "00" is the international prefix, so these read as a call abroad.
    (
        "0045 3322 1100",
        "'0045 3322 1100' is ambiguous: +45 33 22 11 00 abroad, or 045 3322 1100 with one 0"
        " too many; write a number abroad with + (+45 33 22 11 00)",
    ),
    (
        "004545292978",
        "'004545292978' is ambiguous: +45 45 29 29 78 abroad, or 045 4529 2978 with one 0"
        " too many; write a number abroad with + (+45 45 29 29 78)",
    ),
    (
        "0066 2303 2990",
        "'0066 2303 2990' is ambiguous: +66 2 303 2990 abroad, or 066 2303 2990 with one 0"
        " too many; write a number abroad with + (+66 2 303 2990)",
    ),
    # A slip that made the "00" of a call abroad: 04533221100 with its 4 typed as 0.
    (
        "00533221100",
        "'00533221100' is ambiguous: +53 32 21100 abroad, or a mistyped number in IR (it has"
        " as many digits); write a number abroad with + (+53 32 21100)",
    ),
    (
        "00912 123 4567",
        "'00912 123 4567' starts with 00 (a call abroad) but is no valid number abroad;"
        " did you mean 0912 123 4567?",
    ),
    (
        "0021 8877 6655",
        "'0021 8877 6655' starts with 00 (a call abroad) but is no valid number abroad;"
        " did you mean 021 8877 6655?",
    ),
    # "+" in place of the leading 0, or + without the country code.
    (
        "+9121234567",
        "'+9121234567' has no valid country code after +;"
        " did you mean 0912 123 4567 (+98 912 123 4567)?",
    ),
    (
        "+09121234567",
        "'+09121234567' has no valid country code after +;"
        " did you mean 0912 123 4567 (+98 912 123 4567)?",
    ),
    (
        "+2188776655",
        "'+2188776655' has no valid country code after +;"
        " did you mean 021 8877 6655 (+98 21 8877 6655)?",
    ),
    # A digit too few or too many stays a (refused) home number.
    (
        "912123456",
        "'912123456' has too few digits for a phone number in IR"
        " (numbers without a country code are read as IR)",
    ),
    (
        "98912123456",
        "'98912123456' has too few digits for a phone number in IR"
        " (numbers without a country code are read as IR)",
    ),
    (
        "0989121234567",
        "'0989121234567' has too many digits for a phone number in IR"
        " (numbers without a country code are read as IR)",
    ),
]


@pytest.mark.parametrize(("raw", "message"), MISTYPED_HOME)
def test_mistyped_home_number_never_becomes_foreign(raw: str, message: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        parse_phone(raw)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0045 3322 1100", "+4533221100"),
        ("004545292978", "+4545292978"),
        ("00533221100", "+533221100"),
    ],
)
def test_a_caller_id_from_abroad_is_read_as_dialled(raw: str, e164: str) -> None:
    # The trunk sends calls from abroad as 00 and the country code; it does not mistype.
    number = try_parse_phone(raw)
    assert number is not None
    assert number.e164 == e164


HOME_NUMBERS = [
    "09121234567",
    "09351234567",
    "09011234567",
    "02188776655",
    "03132223344",
    "04533221100",
    "05138445566",
    "06623032990",
]


def _slips(number: str) -> set[str]:
    """Every one-key slip of ``number``: a digit dropped, doubled, replaced or inserted, two
    neighbours swapped, and the extra 0 in front."""
    out = {"0" + number}
    for i in range(len(number)):
        out.add(number[:i] + number[i + 1 :])
        out.add(number[:i] + number[i + 1 : i + 2] + number[i] + number[i + 2 :])
        for d in "0123456789":
            out.add(number[:i] + d + number[i + 1 :])
            out.add(number[:i] + d + number[i:])
    return out - {number}


@pytest.mark.parametrize("number", HOME_NUMBERS)
@pytest.mark.parametrize("area_code", [None, "21"])
def test_no_slip_of_a_home_number_is_read_as_abroad(number: str, area_code: str | None) -> None:
    regions = set()
    for slip in _slips(number):
        with contextlib.suppress(InvalidPhoneNumber):
            regions.add(parse_phone(slip, default_area_code=area_code).region)
    assert regions == {"IR"}


@pytest.mark.parametrize(
    ("raw", "area_code", "e164"),
    [
        ("88776655", "21", TEHRAN),
        ("88776655", "021", TEHRAN),
        ("8877 6655", "21", TEHRAN),
        ("۸۸۷۷-۶۶۵۵", "21", TEHRAN),
        ("32223344", "31", "+983132223344"),
        ("33334444", "076", "+987633334444"),
        ("98123456", "21", "+982198123456"),
        # A number with its own city code or a mobile keeps it.
        ("031 3222 3344", "21", "+983132223344"),
        ("09121234567", "21", MOBILE),
        ("+98 912 123 4567", "21", MOBILE),
        ("989121234567", "21", MOBILE),
    ],
)
def test_default_area_code(raw: str, area_code: str, e164: str) -> None:
    assert parse_phone(raw, default_area_code=area_code).e164 == e164


def test_default_area_code_keeps_the_extension() -> None:
    number = parse_phone("8877 6655 داخلی ۱۲", default_area_code="21")
    assert (number.e164, number.extension) == (TEHRAN, "12")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # Numbers starting with 0 are not local: the default area code is not put before them.
        (
            "00123456",
            "'00123456' has too few digits for a phone number in US",
        ),
        (
            "01234567",
            "'01234567' is not a valid phone number in IR"
            " (numbers without a country code are read as IR)",
        ),
        (
            "1234567",
            "'1234567' is not a valid phone number in IR"
            " (numbers without a country code are read as IR)",
        ),
        (
            "887766554",
            "'887766554' has too few digits for a phone number in IR"
            " (numbers without a country code are read as IR)",
        ),
    ],
)
def test_default_area_code_refusals(raw: str, message: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        parse_phone(raw, default_area_code="21")
    assert str(caught.value) == message


def test_another_home_region() -> None:
    # Numbers without a country code are read in the region given.
    assert parse_phone("020 7946 0958", "GB").e164 == "+442079460958"
    assert parse_phone("4420 7946 0958", "GB").e164 == "+442079460958"
    assert parse_phone("+98 912 123 4567", "GB").e164 == MOBILE
    # The Iranian country code without + is only recognised at home.
    assert try_parse_phone("989121234567", "GB") is None


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("۰۹۱۲ ۱۲۳", "0912123"),
        ("٠٩١٢-١٢٣", "0912123"),
        ("+98 (912) 123-4567", "989121234567"),
        ("no digits", ""),
    ],
)
def test_digits_of(text: str, digits: str) -> None:
    assert digits_of(text) == digits


# -- the lookup a screen-pop makes, through the API ----------------------------------------


async def test_lookup_finds_a_number_typed_any_way(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    headers = await auth_headers(session, settings, Role.agent)
    await make_customer(session, settings, "علی رضایی", ("۰۹۱۲ ۱۲۳ ۴۵۶۷", "021 8877 6655 داخلی ۱۲"))
    for number, e164 in [
        ("09121234567", MOBILE),
        ("۰۹۱۲۱۲۳۴۵۶۷", MOBILE),
        ("+98 912 123 4567", MOBILE),
        ("989121234567", MOBILE),
        ("9121234567", MOBILE),
        ("0098 912 123 4567", MOBILE),
        (f"{LRM}0912 123 4567{RLM}", MOBILE),
        ("02188776655", TEHRAN),
        ("+982188776655", TEHRAN),
        ("021 8877 6655 داخلی ۱۳", TEHRAN),  # the same line, another extension
    ]:
        r = await client.get("/api/customers/lookup", params={"number": number}, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["number"], body["valid"], body["e164"]) == (number, True, e164)
        assert [c["name"] for c in body["customers"]] == ["علی رضایی"], number


@pytest.mark.parametrize(
    ("number", "valid", "e164"),
    [
        ("0912 12", False, None),
        # Stored, this one is refused as ambiguous; a caller ID is read as dialled (abroad).
        ("0045 3322 1100", True, "+4533221100"),
        ("anonymous", False, None),
        ("09121234568", True, "+989121234568"),
    ],
)
async def test_lookup_of_an_unknown_or_invalid_number(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    number: str,
    valid: bool,
    e164: str | None,
) -> None:
    headers = await auth_headers(session, settings, Role.agent)
    await make_customer(session, settings, "علی رضایی", ("09121234567",))
    r = await client.get("/api/customers/lookup", params={"number": number}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"number": number, "valid": valid, "e164": e164, "customers": []}
