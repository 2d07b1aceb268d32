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
from app.textnorm import normalize

# Header aliases (compared after normalisation), English and Persian.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "fullname", "customer", "نام", "نام و نام خانوادگی", "نام مشتری"),
    "first_name": ("first name", "firstname", "نام کوچک"),
    "last_name": ("last name", "lastname", "surname", "family", "نام خانوادگی", "فامیلی"),
    "company": ("company", "organization", "organisation", "شرکت", "سازمان", "نام شرکت"),
    "address": ("address", "آدرس", "نشانی"),
    "email": ("email", "e-mail", "mail", "ایمیل", "پست الکترونیک"),
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
    "number": "other",
    "numbers": "other",
    "tel": "other",
    "telephone": "other",
    "تلفن": "other",
    "شماره": "other",
    "شماره تلفن": "other",
    "تلفن ها": "other",
    "mobile": "mobile",
    "cell": "mobile",
    "موبایل": "mobile",
    "همراه": "mobile",
    "تلفن همراه": "mobile",
    "شماره همراه": "mobile",
    "office": "office",
    "work": "office",
    "work phone": "office",
    "تلفن ثابت": "office",
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
DELIMITERS = (",", ";", "\t", "|")


def _header_key(header: str) -> str:
    # "Phone 2", "phone_2", "موبایل ۲" all mean the same column kind.
    key = normalize(header.replace("_", " ").replace("-", " "))
    return key.rstrip("0123456789 ").strip() or key


_FIELD_BY_ALIAS = {normalize(a): f for f, aliases in FIELD_ALIASES.items() for a in aliases}
_LABEL_BY_ALIAS = {normalize(a): label for a, label in PHONE_ALIASES.items()}


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
        key = normalize(name.replace("_", " ").replace("-", " "))
        if key in _FIELD_BY_ALIAS and _FIELD_BY_ALIAS[key] not in fields.values():
            fields[i] = _FIELD_BY_ALIAS[key]
        elif _header_key(name) in _LABEL_BY_ALIAS:
            phones[i] = _LABEL_BY_ALIAS[_header_key(name)]
        elif name:
            ignored.append(name)
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


def detect_encoding(stream: IO[bytes], chunk_size: int = 1 << 20) -> str:
    """``utf-8-sig``, ``utf-16`` (BOM) or, when the bytes are not UTF-8, ``cp1256``.
    Reads the whole stream once and rewinds it."""
    start = stream.read(4)
    stream.seek(0)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
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


def _split_numbers(value: str) -> list[str]:
    # Commas are not split here: "021-8877,6655" is rare, and a comma list is ambiguous with
    # a thousands separator; numbers are separated by ; | / or a newline.
    for sep in ("|", "\n", "،", ";", " / "):
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


def read_customers(
    stream: IO[bytes], *, on_bytes: Callable[[int], None] | None = None
) -> ParsedRows:
    """Read a CSV of customers. ``rows`` yields an :class:`ImportRow` for a good row and a
    :class:`RowError` for a bad one. Raises ``ValueError`` when the file has no usable
    header (nothing can be imported)."""
    encoding = detect_encoding(stream)
    counter = CountingReader(stream)
    text = io.TextIOWrapper(
        io.BufferedReader(counter), encoding=encoding, errors="replace", newline=""
    )
    first = text.readline()
    if not first.strip():
        raise ValueError("the file is empty: the first line must be a header row")
    delimiter = max(DELIMITERS, key=first.count)
    header = next(csv.reader([first], delimiter=delimiter))
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
        line = 1
        while True:
            start = line + 1
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line = reader.line_num + 1
                yield RowError(start, f"unreadable CSV: {exc}")
                continue
            line = reader.line_num + 1
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
    cells = {i: record[i].strip() if i < len(record) else "" for i in range(len(header))}
    values = {f: cells[i] for i, f in columns.fields.items() if cells[i]}
    first, last = values.pop("first_name", ""), values.pop("last_name", "")
    if "name" not in values:
        values["name"] = " ".join(p for p in (first, last) if p) or values.get("company", "")
    if not values.get("name"):
        return "no name (and no company to use as the name)"
    if "kind" in values:
        kind = KIND_VALUES.get(normalize(values["kind"]))
        if kind is None:
            return f"kind {values['kind']!r} is neither person nor organization"
        values["kind"] = kind
    if "priority" in values:
        values["priority"] = values["priority"].upper()
    data: dict[str, object] = dict(values)
    if "tags" in values:
        data["tags"] = _split_list(values["tags"])
    phones: list[PhoneIn] = []
    try:
        for i, label in columns.phones.items():
            for number in _split_numbers(cells[i]):
                phones.append(PhoneIn(number=number, label=label))
        data["phones"] = phones
        return CustomerCreate.model_validate(data)
    except ValidationError as exc:
        return _validation_reason(exc)
