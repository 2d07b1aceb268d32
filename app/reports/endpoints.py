from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.deps import AgentUser, SessionDep, SettingsDep, has_role
from app.errors import InvalidInput
from app.history.filters import day_bounds
from app.models import Role
from app.reports.service import GroupBy, ReportQuery, ReportService
from app.schemas import DbId

router = APIRouter(prefix="/api/reports", tags=["reports"])


@router.get("/kpi")
async def kpi(
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
    from_: Annotated[
        str,
        Query(alias="from", min_length=1, max_length=40, description="first day (ISO or Jalali)"),
    ],
    to: Annotated[str, Query(min_length=1, max_length=40, description="last day, inclusive")],
    by: Annotated[GroupBy, Query()] = "queue",
    queue: Annotated[str | None, Query(max_length=80)] = None,
    agent: DbId | None = None,
    service_level_seconds: Annotated[int, Query(ge=1, le=600)] = 20,
    short_abandon_seconds: Annotated[int, Query(ge=0, le=120)] = 5,
    week_starts: Literal["saturday", "monday"] = "saturday",
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Per queue, agent, day, hour or week: offered, answered, abandoned (short abandons
    apart), missed (for an agent: ring-no-answer), service level, ASA, longest wait, average
    talk and handle time, callbacks done, and the `total` over every call once (definitions
    in the README and `app/reports/definitions.py`). Agents get their own figures only."""
    start, end = day_bounds(from_, to, settings.time_zone)
    assert start is not None and end is not None
    if (end - start).days > 400:
        raise InvalidInput("a report covers at most 400 days", field="to", code="period_too_long")
    if not has_role(user, Role.supervisor):
        if by == "queue":
            by = "agent"
        agent = user.id
    rows, total = await ReportService(session).report(
        ReportQuery(
            start=start,
            end=end,
            by=by,
            tz=settings.time_zone,
            service_level_seconds=service_level_seconds,
            short_abandon_seconds=short_abandon_seconds,
            queue=queue,
            agent_id=agent,
            week_starts=week_starts,
        )
    )
    if format == "csv":
        buffer = io.StringIO()
        columns = list(rows[0]) if rows else ["key", "label", "offered", "answered"]
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        return Response(
            "\ufeff" + buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="kpi-{by}.csv"'},
        )
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "by": by,
        "rows": rows,
        "total": total,
    }
