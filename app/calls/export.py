"""Stored calls as JSON lines or CSV, for administrators, scripts and audits."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, Literal

from app.calls.repository import CallRepository
from app.calls.schemas import CallRead
from app.db import SessionMaker
from recordings.repository import RecordingRepository
from recordings.schemas import RecordingBrief

Format = Literal["jsonl", "csv"]
FIELDS = list(CallRead.model_fields)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def call_row(call: Any, recordings: Sequence[Any] = ()) -> dict[str, Any]:
    """A call as exported: what ``GET /api/calls/{id}`` says of it, its recording files
    included (``recordings``: its rows, as ``RecordingRepository.of_calls`` gives them)."""
    item = CallRead.model_validate(call)
    item.recording_files = [RecordingBrief.model_validate(r) for r in recordings]
    return {k: _plain(v) for k, v in item.model_dump().items()}


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
            # The same rows the call's API lists (an export is an administrator's: all).
            files = await RecordingRepository(session).of_calls([c.id for c in calls])
        if not calls:
            if first and fmt == "csv":
                yield format_rows([], fmt, header=True)
            return
        rows = [call_row(c, files.get(c.id, [])) for c in calls]
        yield format_rows(rows, fmt, header=first)
        first = False
        after = calls[-1].id
