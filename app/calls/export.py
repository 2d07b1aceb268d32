"""Stored calls as JSON lines or CSV, for administrators, scripts and audits."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

from app.calls.repository import CallRepository
from app.calls.schemas import CallRead
from app.db import SessionMaker

Format = Literal["jsonl", "csv"]
FIELDS = list(CallRead.model_fields)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def call_row(call: Any) -> dict[str, Any]:
    data = CallRead.model_validate(call).model_dump()
    return {k: _plain(v) for k, v in data.items()}


def format_rows(rows: list[dict[str, Any]], fmt: Format, *, header: bool) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    if header:
        writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v
                for k, v in row.items()
            }
        )
    return buffer.getvalue()


async def export_calls(
    sessionmaker: SessionMaker, *, since: datetime | None, fmt: Format, batch: int = 1000
) -> AsyncIterator[str]:
    """Every stored call (started at or after ``since``), in id order, a batch at a time
    (one short read transaction each, so a large export holds nothing open for long)."""
    after = 0
    first = True
    while True:
        async with sessionmaker() as session:
            calls = list(
                await CallRepository(session).export(since=since, after_id=after, limit=batch)
            )
        if not calls:
            if first and fmt == "csv":
                yield format_rows([], fmt, header=True)
            return
        yield format_rows([call_row(c) for c in calls], fmt, header=first)
        first = False
        after = calls[-1].id
