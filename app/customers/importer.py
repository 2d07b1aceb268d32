"""Reading customer CSV files: encoding, delimiter, header mapping, one result per row.

Pure parsing, no database: rows come out as :class:`ImportRow` (ready for the service) or as
``(line, reason)`` errors. Excel's Persian CSVs are UTF-8 with a BOM, or Windows-1256 when
saved as plain "CSV"; both are read. A row that fails never stops the file.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from pydantic import ValidationError

from app.customers.schemas import CustomerCreate, PhoneIn
from app.textnorm import normalize, tokens

# Header aliases (compared after normalisation), English and Persian.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "name": (
        "name",
        "full name",
        "customer",
        "customer name",
        "نام",
        "نام و نام خانوادگی",
        "نام مشتری",
    ),
    "first_name": ("first name", "firstname", "نام کوچک"),
    "last_name": ("last name", "lastname", "surname", "family", "نام خانوادگی", "فامیلی"),
    "company": (
        "company",
        "company name",
        "organization",
        "organisation",
        "شرکت",
        "سازمان",
        "نام شرکت",
    ),
    "address": ("address", "آدرس", "نشانی"),
    "email": ("email", "e-mail", "email address", "mail", "ایمیل", "پست الکترونیک"),
    "notes": ("notes", "note", "description", "یادداشت", "توضیحات"),
    "tags": ("tags", "tag", "segment", "برچسب", "برچسب ها", "گروه"),
    "priority": ("priority", "اولویت"),
    "kind": ("kind", "type", "نوع"),
    "external_id": (
        "external id",
        "external_id",
        "id",
        "code",
        "customer id",
        "کد",
        "شناسه",
        "کد مشتری",
    ),
}
# Number columns: header alias -> label.
PHONE_ALIASES: dict[str, str] = {
    "phone": "other",
    "phones": "other",
    "phone number": "other",
    "number": "other",
    "numbers": "other",
    "tel": "other",
    "telephone": "other",
    "تلفن": "other",
    "شماره": "other",
    "شماره تلفن": "other",
    "تلفن ها": "other",
    "شماره تماس": "other",
    "تلفن تماس": "other",
    "mobile": "mobile",
    "mobile number": "mobile",
    "mobile phone": "mobile",
    "cell": "mobile",
    "cell phone": "mobile",
    "موبایل": "mobile",
    "همراه": "mobile",
    "تلفن همراه": "mobile",
    "شماره همراه": "mobile",
    "شماره موبایل": "mobile",
    "office": "office",
    "work": "office",
    "work phone": "office",
    "تلفن ثابت": "office",
    "شماره ثابت": "office",
    "تلفن محل کار": "office",
    "دفتر": "office",
    "home": "home",
    "home phone": "home",
    "منزل": "home",
    "تلفن منزل": "home",
    "fax": "fax",
    "فکس": "fax",
    "نمابر": "fax",
}
KIND_VALUES = {
    "person": "person",
    "شخص": "person",
    "حقیقی": "person",
    "organization": "organization",
    "organisation": "organization",
    "company": "organization",
    "سازمان": "organization",
    "شرکت": "organization",
    "حقوقی": "organization",
}
LIST_SEPARATORS = (";", "|", "،", "\n")
# A header row longer than this, or with more columns, is not a customer list (a binary file,
# a log, a one-line dump): refused before it is held in memory or mapped column by column.
MAX_HEADER_CHARS = 64 * 1024
MAX_COLUMNS = 500
DELIMITERS = (",", ";", "\t", "|")


def _alias_key(text: str) -> str:
    """A header compared without case, spaces, punctuation or ZWNJ: "E-Mail", "email" and
    "نام‌خانوادگی" (ZWNJ), "نام خانوادگی" (space), "نامخانوادگی" are the same column."""
    return "".join(tokens(text))


def _header_key(header: str) -> str:
    # "Phone 2", "phone_2", "موبایل ۲" all mean the same column kind.
    key = _alias_key(header)
    return key.rstrip("0123456789") or key


_FIELD_BY_ALIAS = {_alias_key(a): f for f, aliases in FIELD_ALIASES.items() for a in aliases}
_LABEL_BY_ALIAS = {_alias_key(a): label for a, label in PHONE_ALIASES.items()}
_KIND_BY_VALUE = {normalize(value): kind for value, kind in KIND_VALUES.items()}
_BARE_NAME = {_alias_key("name"), _alias_key("نام")}
# Control characters (a NUL above all) cannot be stored in PostgreSQL text: dropped from cells;
# tab and newline stay (a multi-line note).
_CONTROLS = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


@dataclass(frozen=True)
class ColumnMap:
    fields: dict[int, str]
    phones: dict[int, str]
    ignored: list[str]


def map_columns(header: list[str]) -> ColumnMap:
    fields: dict[int, str] = {}
    phones: dict[int, str] = {}
    ignored: list[str] = []
    for i, raw in enumerate(header):
        name = raw.strip().lstrip("\ufeff")
        key = _alias_key(name)
        if key in _FIELD_BY_ALIAS and _FIELD_BY_ALIAS[key] not in fields.values():
            fields[i] = _FIELD_BY_ALIAS[key]
        elif _header_key(name) in _LABEL_BY_ALIAS:
            phones[i] = _LABEL_BY_ALIAS[_header_key(name)]
        elif name:
            ignored.append(name)
    # Persian lists often have "نام" beside "نام خانوادگی": there "نام" is the first name, and
    # the customer's name is both (not the first name alone).
    mapped = set(fields.values())
    if {"name", "last_name"} <= mapped and "first_name" not in mapped:
        [column] = [i for i, f in fields.items() if f == "name"]
        if _alias_key(header[column]) in _BARE_NAME:
            fields[column] = "first_name"
    return ColumnMap(fields=fields, phones=phones, ignored=ignored)


class CountingReader(io.RawIOBase):
    """Counts the bytes read from a binary stream, for progress."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.stream.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 without a BOM (some exports): the high byte of every Latin letter is 0x00 and of
    every Persian one 0x06. Such bytes often decode as "UTF-8", to garbage; caught here."""

    def high_share(half: bytes) -> float:
        return (half.count(0x00) + half.count(0x06)) / len(half)

    sample = sample[: len(sample) // 2 * 2]
    if len(sample) < 8:
        return None
    even, odd = high_share(sample[0::2]), high_share(sample[1::2])
    if odd > 0.9 and even < 0.5:
        return "utf-16-le"
    if even > 0.9 and odd < 0.5:
        return "utf-16-be"
    return None


def detect_encoding(stream: IO[bytes], chunk_size: int = 1 << 20) -> str:
    """``utf-8-sig``, ``utf-16`` (BOM; ``utf-16-le``/``-be`` without one) or, when the bytes
    are not UTF-8, ``cp1256``. Reads the whole stream once and rewinds it."""
    start = stream.read(4096)
    stream.seek(0)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if without_bom := _utf16_without_bom(start):
        return without_bom
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := stream.read(chunk_size):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        encoding = "cp1256"
    stream.seek(0)
    return encoding


def _split_list(value: str) -> list[str]:
    for sep in LIST_SEPARATORS:
        value = value.replace(sep, ",")
    return [v.strip() for v in value.split(",") if v.strip()]


# Between numbers in one cell. "/" alone is not one ("0912/123/4567" is one number) and
# neither is a space (numbers are written in groups); a comma never occurs inside a number.
NUMBER_SEPARATORS = ("|", "\n", "،", ",", ";", " / ", " و ")


def _split_numbers(value: str) -> list[str]:
    for sep in NUMBER_SEPARATORS:
        value = value.replace(sep, ";")
    return [v.strip() for v in value.split(";") if v.strip()]


def _validation_reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {str(err['msg']).removeprefix('Value error, ')}")
    return "; ".join(parts)


@dataclass(frozen=True)
class ImportRow:
    """A row that reads as a customer; the service may still refuse it (a bad number)."""

    line: int
    data: CustomerCreate


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


@dataclass
class ParsedRows:
    encoding: str
    delimiter: str
    columns: ColumnMap
    rows: Iterator[ImportRow | RowError]


def in_batches(
    rows: Iterable[ImportRow | RowError], size: int = 500
) -> Iterator[list[ImportRow | RowError]]:
    batch: list[ImportRow | RowError] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# .xlsx (a zip) and .xls (an OLE2 compound file).
_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


def read_customers(
    stream: IO[bytes], *, on_bytes: Callable[[int], None] | None = None
) -> ParsedRows:
    """Read a CSV of customers. ``rows`` yields an :class:`ImportRow` for a good row and a
    :class:`RowError` for a bad one. Raises ``ValueError`` when the file has no usable
    header (nothing can be imported)."""
    magic = stream.read(8)
    stream.seek(0)
    if magic.startswith(_WORKBOOK_MAGIC):
        # The first thing people upload: the workbook itself, read as text it is garbage.
        raise ValueError(
            "the file is an Excel workbook, not CSV: in Excel, save it as "
            '"CSV UTF-8 (Comma delimited)" and import that file'
        )
    encoding = detect_encoding(stream)
    counter = CountingReader(stream)
    text = io.TextIOWrapper(
        io.BufferedReader(counter), encoding=encoding, errors="replace", newline=""
    )
    # Blank lines before the header are skipped (and counted, for the line numbers).
    header_line = 0
    first = ""
    while not first.strip():
        first = text.readline(MAX_HEADER_CHARS + 1)
        if not first:
            raise ValueError("the file is empty: the first line must be a header row")
        if len(first) > MAX_HEADER_CHARS:
            raise ValueError(
                f"the first line is longer than {MAX_HEADER_CHARS} characters: the first line "
                "must be a header row naming the columns"
            )
        header_line += 1
    delimiter = max(DELIMITERS, key=first.count)
    header = next(csv.reader([first], delimiter=delimiter))
    if len(header) > MAX_COLUMNS:
        raise ValueError(f"the header row has {len(header)} columns; at most {MAX_COLUMNS}")
    columns = map_columns(header)
    if "name" not in columns.fields.values() and not (
        {"first_name", "last_name", "company"} & set(columns.fields.values())
    ):
        raise ValueError(
            "the header row has no name column (expected one of: name, نام, first name, "
            f"last name, company); found: {', '.join(h.strip() for h in header)}"
        )

    def rows() -> Iterator[ImportRow | RowError]:
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        while True:
            # A record may span several lines (a quoted newline): it is reported by its first.
            start = header_line + reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RowError(start, f"unreadable CSV: {exc}")
                continue
            if on_bytes is not None:
                on_bytes(counter.count)
            if not any(cell.strip() for cell in record):
                continue
            result = _row_to_customer(record, header, columns)
            yield RowError(start, result) if isinstance(result, str) else ImportRow(start, result)

    return ParsedRows(encoding=encoding, delimiter=delimiter, columns=columns, rows=rows())


def _row_to_customer(
    record: list[str], header: list[str], columns: ColumnMap
) -> CustomerCreate | str:
    if len(record) > len(header) and any(c.strip() for c in record[len(header) :]):
        return f"row has {len(record)} fields but the header has {len(header)}"
    cells = {
        i: record[i].translate(_CONTROLS).strip() if i < len(record) else ""
        for i in range(len(header))
    }
    values = {f: cells[i] for i, f in columns.fields.items() if cells[i]}
    first, last = values.pop("first_name", ""), values.pop("last_name", "")
    if "name" not in values:
        values["name"] = " ".join(p for p in (first, last) if p) or values.get("company", "")
    if not values.get("name"):
        return "no name (and no company to use as the name)"
    if "kind" in values:
        kind = _KIND_BY_VALUE.get(normalize(values["kind"]))
        if kind is None:
            return f"kind {values['kind']!r} is neither person nor organization"
        values["kind"] = kind
    if "priority" in values:
        values["priority"] = values["priority"].upper()
    data: dict[str, object] = dict(values)
    if "tags" in values:
        data["tags"] = _split_list(values["tags"])
    phones: list[PhoneIn] = []
    for i, label in columns.phones.items():
        for number in _split_numbers(cells[i]):
            try:
                phones.append(PhoneIn(number=number, label=label))
            except ValidationError as exc:
                # Named by its column: "phones.3" would mean nothing to whoever wrote the file.
                return f"{header[i].strip().lstrip(chr(0xFEFF))}: {_validation_reason(exc)}"
    data["phones"] = phones
    try:
        return CustomerCreate.model_validate(data)
    except ValidationError as exc:
        return _validation_reason(exc)
