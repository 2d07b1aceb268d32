"""Phone numbers: what people type and paste in, E.164 out (the ``phonenumbers`` library)."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat, PhoneNumberType

from app.textnorm import to_latin_digits

# Words people write before an extension, in Persian and English.
_EXTENSION_WORDS = re.compile(
    r"(?:داخلی|داخلي|داخلى|داخل|extension|extn\.?|ext\.?|int\.?|;\s*ext\s*=|x|#)"
    r"\s*[:.]?\s*(?=\d)",
    re.IGNORECASE,
)
_EXTENSION = re.compile(r" ext\. (\d+)$")
# Longer extensions do not fit the column that stores them (and are never real).
MAX_EXTENSION_DIGITS = 10
_ALLOWED = re.compile(r"^[\d\s+()\-./]*$")
_DIGITS_ONLY = re.compile(r"\D")
# Invisible marks that ride along with text pasted from RTL pages and documents: ZWNJ/ZWJ,
# zero-width space, word joiner, soft hyphen, the bidi marks and embeddings, ALM and a BOM.
_INVISIBLE = re.compile("[\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")
# Dashes and minus signs of every kind, and tatweel, which some type between digit groups.
_DASHES = re.compile("[\u0640\u2010-\u2015\u2212\ufe58\ufe63\uff0d]")

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
    # NFKC: full-width digits, plus and brackets, and no-break spaces, to their plain forms.
    text = to_latin_digits(unicodedata.normalize("NFKC", raw))
    text = _INVISIBLE.sub(" ", text)
    text = _DASHES.sub("-", text)
    text = _EXTENSION_WORDS.sub(" ext. ", text, count=1)
    return " ".join(text.split())


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


def _national_lengths(region: str) -> tuple[set[int], set[int]]:
    """Lengths of full national numbers (fixed line or mobile) in ``region``, and of local
    landline numbers dialled without their area code."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None:
        return set(), set()
    full = {n for desc in (meta.fixed_line, meta.mobile) if desc for n in desc.possible_length}
    local = set(meta.fixed_line.possible_length_local_only) if meta.fixed_line else set()
    return {n for n in full if n > 0}, local


def _home_length(region: str) -> int:
    """Digits in the longest home number written with its trunk prefix (11 in Iran:
    0912 123 4567)."""
    meta = PhoneMetadata.metadata_for_region(region)
    full, _ = _national_lengths(region)
    if meta is None or not full:
        return 0
    return max(full) + len(meta.national_prefix or "")


def _valid(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    parsed = _parse(text, region)
    return parsed if parsed is not None and phonenumbers.is_valid_number(parsed) else None


def _one_zero_less(text: str, digits: str, region: str) -> phonenumbers.PhoneNumber | None:
    """``text`` read with its first 0 dropped, when that is a valid home number: "0045 3322
    1100" is also 045 3322 1100 (a city code) typed with one 0 too many."""
    if not digits.startswith("00"):
        return None
    home = _valid(text.replace("0", "", 1), region)
    if home is None or home.country_code != phonenumbers.country_code_for_region(region):
        return None
    return home


def _why_invalid(
    shown: str, text: str, digits: str, region: str, default_area_code: str | None
) -> str:
    """The reason ``text`` (no candidate of which is valid) is refused, in the words of the
    person who typed it."""
    international = text.startswith("+") or (
        digits.startswith("00") and not digits.startswith("0" * 3)
    )
    suffix = "" if international else f" (numbers without a country code are read as {region})"
    home = _one_zero_less(text, digits, region)
    if home is not None:
        national = phonenumbers.format_number(home, PhoneNumberFormat.NATIONAL)
        return (
            f"{shown!r} starts with 00 (a call abroad) but is no valid number abroad; "
            f"did you mean {national}?"
        )
    if text.startswith("+") and (home := _valid(digits, region)) is not None:
        # "+912 123 4567": a home number with "+" but without the country code.
        national = phonenumbers.format_number(home, PhoneNumberFormat.NATIONAL)
        intl = phonenumbers.format_number(home, PhoneNumberFormat.INTERNATIONAL)
        return f"{shown!r} has no valid country code after +; did you mean {national} ({intl})?"
    parsed = _parse(text, region)
    if parsed is None:
        return f"{shown!r} is not a valid phone number{suffix}"
    where = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    full, local = _national_lengths(where)
    # Not national_significant_number(): an unstripped trunk 0 would count as a digit.
    length = len(str(parsed.national_number))
    written_locally = not international and not digits.startswith("0")
    if written_locally and length in local and default_area_code is None:
        example = " (such as 021 for Tehran)" if region == "IR" else ""
        return f"{shown!r} has no area code: write the city code{example} before the number"
    if full and length not in full:
        few = "few" if length < max(full) else "many"
        return f"{shown!r} has too {few} digits for a phone number in {where}{suffix}"
    return f"{shown!r} is not a valid phone number in {where}{suffix}"


def parse_phone(
    raw: str,
    region: str = "IR",
    *,
    default_area_code: str | None = None,
    refuse_ambiguous: bool = True,
) -> PhoneNumber:
    """Parse ``raw`` as typed by a person and return the number in E.164, or raise
    :class:`InvalidPhoneNumber` with a message that says what is wrong.

    Accepted: Persian and Arabic-Indic digits, spaces, dashes, dots, parentheses, ``+98``,
    ``0098``, a leading trunk ``0`` or none (``912...``), country code without ``+``
    (``98912...``, as some trunks send it), landlines with a city code, and an extension after
    ``ext``, ``x``, ``#`` or ``داخلی``. A local landline without a city code is accepted only
    when ``default_area_code`` is configured.

    A mistyped home number never becomes a foreign one: the home country code is the only one
    recognised without ``+`` or ``00``, and a number after ``00`` that is also a home number
    with one 0 too many ("0045 3322 1100"), or that has as many digits as a home number
    ("00533221100" for 04533221100), is refused as ambiguous, unless ``refuse_ambiguous`` is
    false (a caller ID: the trunk does not mistype, it is abroad). Written with ``+``, a
    number abroad is always taken at its word.
    """
    shown = raw.strip()
    text = _prepare(raw)
    if not text:
        raise InvalidPhoneNumber("phone number is empty")
    number, extension = text, None
    if match := _EXTENSION.search(text):
        number, extension = text[: match.start()], match.group(1)
    if not _ALLOWED.match(number):
        raise InvalidPhoneNumber(f"phone number {shown!r} contains letters or symbols")
    if extension is not None and len(extension) > MAX_EXTENSION_DIGITS:
        raise InvalidPhoneNumber(
            f"phone number {shown!r} has an extension of {len(extension)} digits"
            f" (at most {MAX_EXTENSION_DIGITS})"
        )
    digits = _DIGITS_ONLY.sub("", number)
    if len(digits) < 3:
        raise InvalidPhoneNumber(f"phone number {shown!r} is too short")
    if len(digits) > 17:
        raise InvalidPhoneNumber(f"phone number {shown!r} is too long")

    candidates = [text]
    if not text.startswith("+"):
        # The home country code without "+" or "00" (989121234567, as some trunks send it).
        # Only the home one: a mistyped local number must not turn into a foreign one.
        if digits.startswith(str(phonenumbers.country_code_for_region(region))):
            candidates.append("+" + text)
        # A local landline never starts with the trunk 0 ("00..." is a call abroad).
        if default_area_code and not digits.startswith("0"):
            candidates.append("0" + default_area_code.lstrip("0") + text)
    for candidate in candidates:
        parsed = _valid(candidate, region)
        if parsed is None:
            continue
        home_code = phonenumbers.country_code_for_region(region)
        if refuse_ambiguous and parsed.country_code != home_code and not text.startswith("+"):
            abroad = phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL)
            home = _one_zero_less(text, digits, region)
            if home is not None:
                national = phonenumbers.format_number(home, PhoneNumberFormat.NATIONAL)
                raise InvalidPhoneNumber(
                    f"{shown!r} is ambiguous: {abroad} abroad, or {national} with one 0 too"
                    f" many; write a number abroad with + ({abroad})"
                )
            if len(digits) == _home_length(region):
                # "00533221100" for 04533221100: a slip that made the "00" of a call abroad.
                raise InvalidPhoneNumber(
                    f"{shown!r} is ambiguous: {abroad} abroad, or a mistyped number in"
                    f" {region} (it has as many digits); write a number abroad with +"
                    f" ({abroad})"
                )
        return PhoneNumber(
            e164=phonenumbers.format_number(parsed, PhoneNumberFormat.E164),
            extension=parsed.extension or None,
            region=phonenumbers.region_code_for_number(parsed),
            number_type=_TYPE_NAMES.get(phonenumbers.number_type(parsed), "other"),
        )
    raise InvalidPhoneNumber(_why_invalid(shown, text, digits, region, default_area_code))


@functools.lru_cache(maxsize=16384)
def try_parse_phone(
    raw: str, region: str = "IR", *, default_area_code: str | None = None
) -> PhoneNumber | None:
    """:func:`parse_phone` for lookups: ``None`` instead of an error, and a number after
    ``00`` read as dialled (abroad) even where it could be a home number with one 0 too many:
    a lookup stores nothing, and caller IDs of calls from abroad arrive that way.

    Remembered (the answer depends on nothing else, and ``PhoneNumber`` is immutable): a
    call's number is read by the tracker, the screen-pop and the PBX's lookup, and the same
    callers call again; parsing costs more than the database lookup it leads to."""
    try:
        return parse_phone(raw, region, default_area_code=default_area_code, refuse_ambiguous=False)
    except InvalidPhoneNumber:
        return None


def digits_of(text: str) -> str:
    """Only the digits of ``text``, Persian and Arabic-Indic digits included, as 0-9."""
    return _DIGITS_ONLY.sub("", to_latin_digits(text))


@functools.lru_cache(maxsize=4096)
def display_number(number: str, region: str) -> str:
    """The one form Tamas shows a number in (pops, the customer card, the call history, the
    wallboard): national format for a local number, international for a foreign one, as it
    came when it is not a phone number (an extension, "anonymous"). Remembered: every pop
    of a call shows its number, and parsing it is most of a pop's own work."""
    parsed = try_parse_phone(number, region) if number else None
    if parsed is None:
        return number
    return parsed.national() if parsed.region == region else parsed.international
