from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.deps import AgentUser, SessionDep, SettingsDep
from app.followups.schemas import DueSummary, Snooze, TaskCreate, TaskDone, TaskRead, TaskUpdate
from app.followups.service import TaskService
from app.schemas import DbId

router = APIRouter(prefix="/api/tasks", tags=["tasks and reminders"])


@router.get("", response_model=list[TaskRead])
async def list_tasks(
    session: SessionDep,
    settings: SettingsDep,
    user: AgentUser,
    everyone: Annotated[bool, Query(description="supervisors: everyone's")] = False,
    done: bool = False,
    overdue: Annotated[bool, Query(description="only those past their due time")] = False,
    customer_id: DbId | None = None,
    tracking_code: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[TaskRead]:
    """Your tasks (given to you or by you), open ones soonest due first; of a customer or a
    case; `done=true` the finished ones, newest first."""
    return await TaskService(session, settings).listing(
        user,
        everyone=everyone,
        done=done,
        customer_id=customer_id,
        tracking_code=tracking_code,
        overdue=overdue,
        limit=limit,
    )


@router.get("/summary", response_model=DueSummary)
async def due_summary(session: SessionDep, settings: SettingsDep, user: AgentUser) -> DueSummary:
    """The panel's counts: your tasks overdue and due later today, callbacks due for you,
    your contract notices."""
    return DueSummary(**await TaskService(session, settings).summary(user))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TaskRead)
async def create_task(
    body: TaskCreate, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> TaskRead:
    """A task on a customer or a case (its tracking code), due now, in N minutes or at a
    Jalali or Gregorian date and time; a reminder pops on the assignee's panel when it falls
    due (once, whichever instance of Tamas is running; late if Tamas was down)."""
    service = TaskService(session, settings)
    return (await service.read([await service.create(user, body)]))[0]


@router.patch("/{task_id}", response_model=TaskRead)
async def update_task(
    task_id: DbId, body: TaskUpdate, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> TaskRead:
    """Change it; a new due time is reminded again."""
    service = TaskService(session, settings)
    return (await service.read([await service.update(user, task_id, body)]))[0]


@router.post("/{task_id}/done", response_model=TaskRead)
async def finish_task(
    task_id: DbId, body: TaskDone, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> TaskRead:
    """Done, with an optional note."""
    service = TaskService(session, settings)
    return (await service.read([await service.done(user, task_id, body.note)]))[0]


@router.post("/{task_id}/reopen", response_model=TaskRead)
async def reopen_task(
    task_id: DbId, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> TaskRead:
    service = TaskService(session, settings)
    return (await service.read([await service.done(user, task_id, "", done=False)]))[0]


@router.post("/{task_id}/snooze", response_model=TaskRead)
async def snooze_task(
    task_id: DbId, body: Snooze, session: SessionDep, settings: SettingsDep, user: AgentUser
) -> TaskRead:
    """Remind me again in N minutes."""
    service = TaskService(session, settings)
    return (await service.read([await service.snooze(user, task_id, body.minutes)]))[0]
