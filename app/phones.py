"""Phone numbers: what people type and paste in, E.164 out (the ``phonenumbers`` library)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from app.textnorm import to_latin_digits

# Words people write before an extension, in Persian and English.
_EXTENSION_WORDS = re.compile(
    r"(?:داخلی|داخلي|داخل|extension|ext\.?|int\.?|x|#)\s*[:.]?\s*(?=\d)", re.IGNORECASE
)
_ALLOWED = re.compile(r"^[\d\s+()\-./]*(?: ext\. \d{1,10})?$")
_DIGITS_ONLY = re.compile(r"\D")

_TYPE_NAMES = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.UAN: "uan",
}


class InvalidPhoneNumber(ValueError):
    """A number that cannot be stored; the message says why, for the person who typed it."""


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    e164: str
    extension: str | None
    region: str | None
    number_type: str

    @property
    def international(self) -> str:
        parsed = phonenumbers.parse(self.e164)
        return str(phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL))

    def national(self) -> str:
        parsed = phonenumbers.parse(self.e164)
        return str(phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL))


def _prepare(raw: str) -> str:
    text = to_latin_digits(raw)
    # Invisible marks that ride along with pasted RTL text.
    text = re.sub(r"[\u200c\u200d\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\u00a0]", " ", text)
    text = text.replace("\uff0b", "+").replace("\u2212", "-").replace("\u2013", "-")
    text = _EXTENSION_WORDS.sub(" ext. ", text, count=1)
    return " ".join(text.split())


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


def parse_phone(
    raw: str, region: str = "IR", *, default_area_code: str | None = None
) -> PhoneNumber:
    """Parse ``raw`` as typed by a person and return the number in E.164, or raise
    :class:`InvalidPhoneNumber` with a message that says what is wrong.

    Accepted: Persian and Arabic-Indic digits, spaces, dashes, dots, parentheses, ``+98``,
    ``0098``, a leading trunk ``0`` or none (``912...``), country code without ``+``
    (``98912...``, as some trunks send it), landlines with a city code, and an extension after
    ``ext``, ``x``, ``#`` or ``داخلی``. A local landline without a city code is accepted only
    when ``default_area_code`` is configured.
    """
    text = _prepare(raw)
    if not text:
        raise InvalidPhoneNumber("phone number is empty")
    if not _ALLOWED.match(text):
        raise InvalidPhoneNumber(f"phone number {raw.strip()!r} contains letters or symbols")
    digits = _DIGITS_ONLY.sub("", text.split(" ext. ")[0])
    if len(digits) < 3:
        raise InvalidPhoneNumber(f"phone number {raw.strip()!r} is too short")
    if len(digits) > 17:
        raise InvalidPhoneNumber(f"phone number {raw.strip()!r} is too long")

    candidates = [text]
    if not text.startswith("+"):
        # The home country code without "+" or "00" (989121234567, as some trunks send it).
        # Only the home one: a mistyped local number must not turn into a foreign one.
        if digits.startswith(str(phonenumbers.country_code_for_region(region))):
            candidates.append("+" + text)
        if default_area_code:
            candidates.append("0" + default_area_code.lstrip("0") + text)
    for candidate in candidates:
        parsed = _parse(candidate, region)
        if parsed is not None and phonenumbers.is_valid_number(parsed):
            e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
            return PhoneNumber(
                e164=e164,
                extension=parsed.extension or None,
                region=phonenumbers.region_code_for_number(parsed),
                number_type=_TYPE_NAMES.get(phonenumbers.number_type(parsed), "other"),
            )
    raise InvalidPhoneNumber(
        f"{raw.strip()!r} is not a valid phone number"
        f" (numbers without a country code are read as {region})"
    )


def try_parse_phone(
    raw: str, region: str = "IR", *, default_area_code: str | None = None
) -> PhoneNumber | None:
    """:func:`parse_phone` for lookups: ``None`` instead of an error."""
    try:
        return parse_phone(raw, region, default_area_code=default_area_code)
    except InvalidPhoneNumber:
        return None


def digits_of(text: str) -> str:
    """Only the digits of ``text``, Persian and Arabic-Indic digits included, as 0-9."""
    return _DIGITS_ONLY.sub("", to_latin_digits(text))
