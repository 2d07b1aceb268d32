"""What falls due, popped on the assignee's panel exactly once: callbacks due now and task
reminders. Every instance runs ``fire_due`` on a timer; each due row is claimed (marked
popped) and its pops written in one transaction, through the same pop table and NOTIFY as
call pops, so whichever instance claims it, every instance's panels get it once. What fell
due while no instance was running is claimed by the first one back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.callbacks.repository import CallbackRepository
from app.callbacks.service import CallbackService
from app.config import Settings
from app.contracts.status import add_months
from app.errors import InvalidInput, NotFound, PermissionDenied
from app.followups.due import due_from, parse_moment
from app.followups.repository import TaskRepository
from app.followups.schemas import TaskCreate, TaskRead, TaskUpdate
from app.models import Callback, Customer, Role, Task, User
from app.phones import display_number
from app.tracking.service import TrackingService
from screenpop.service import PopService

BATCH = 200


class FollowupService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.pops = PopService(session, settings.default_region)

    async def fire_due(self, now: datetime | None = None) -> int:
        """Claim what is due by ``now`` and write its pops (NOTIFY at commit): how many."""
        now = now or datetime.now(UTC)
        pops = await self._callback_pops(now)
        pops += await self._reminder_pops(now)
        await self.pops.add(pops)
        return len(pops)

    async def _callback_pops(self, now: datetime) -> list[dict[str, Any]]:
        repo = CallbackRepository(self.session)
        due = await repo.claim_due(now, BATCH)
        if not due:
            return []
        queues = await repo.queue_agents(
            sorted({(c.pbx, c.queue) for c in due if c.assigned_user_id is None and c.queue})
        )
        holders = await CallbackService(self.session).holders([c.e164 for c in due if c.e164])
        out = []
        for callback in due:
            for user_id in _recipients(callback, queues):
                out.append(
                    {
                        "user_id": user_id,
                        "pbx": callback.pbx,
                        "linkedid": f"callback-{callback.id}",
                        "kind": "callback_due",
                        "payload": self._callback_payload(callback, holders, now),
                    }
                )
        return out

    def _callback_payload(
        self, callback: Callback, holders: dict[str, tuple[int, str]], now: datetime
    ) -> dict[str, Any]:
        customer_id, name = holders.get(callback.e164 or "", (None, ""))
        return {
            "callback_id": callback.id,
            "number": callback.number,
            "number_display": display_number(callback.number, self.settings.default_region),
            "e164": callback.e164,
            "queue": callback.queue,
            "source": callback.source,
            "due_at": callback.due_at.isoformat(),
            "attempts": callback.attempts,
            "tries": callback.tries,
            "max_tries": callback.max_tries,
            "note": callback.note,
            "customer_id": customer_id,
            "customer_name": name,
            "event_at": now.timestamp(),
        }

    async def _reminder_pops(self, now: datetime) -> list[dict[str, Any]]:
        repo = TaskRepository(self.session)
        due = await repo.claim_reminders(now, BATCH)
        if not due:
            return []
        names, codes = await repo.labels(due)
        return [
            {
                "user_id": task.assignee_user_id,
                "pbx": "",
                "linkedid": f"task-{task.id}",
                "kind": "reminder",
                "payload": {
                    **task_payload(task, names, codes),
                    "event_at": now.timestamp(),
                },
            }
            for task in due
        ]


def task_payload(task: Task, names: dict[int, str], codes: dict[int, str]) -> dict[str, Any]:
    return {
        "task_id": task.id,
        "task_kind": task.kind,
        "title": task.title,
        "notes": task.notes,
        "due_at": task.due_at.isoformat() if task.due_at else None,
        "customer_id": task.customer_id,
        "customer_name": names.get(task.customer_id or 0, ""),
        "tracking_code": codes.get(task.tracking_code_id or 0, ""),
    }


CONTRACT_NOTICE_TITLE = "Support contract ending: call about renewal"


async def contract_notices(session: AsyncSession, settings: Settings, today: date) -> int:
    """A task for the owner of every customer whose contract ends within the notice window
    (TAMAS_CONTRACT_NOTICE_MONTHS), once per contract whatever the instances: how many new."""
    last = add_months(today, settings.contract_notice_months)
    return await TaskRepository(session).add_contract_notices(today, last, CONTRACT_NOTICE_TITLE)


class TaskService:
    """Tasks on a customer or a case: by whom, by when, reminded when due."""

    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = TaskRepository(session)

    def _when(self, at: str | None, in_minutes: int | None, field: str) -> datetime | None:
        if at is None and in_minutes is None:
            return None
        try:
            return due_from(at=at, in_minutes=in_minutes, zone=self.settings.time_zone)
        except ValueError as exc:
            raise InvalidInput(str(exc), field=field) from None

    async def _assignee(self, user: User, assignee_user_id: int | None) -> int:
        if assignee_user_id is None or assignee_user_id == user.id:
            return user.id
        if user.role == Role.agent.value:
            raise PermissionDenied("agents give tasks to themselves; supervisors to anyone")
        other = await self.session.get(User, assignee_user_id)
        if other is None or not other.is_active:
            raise NotFound("no such active user", field="assignee_user_id")
        return other.id

    async def create(self, user: User, body: TaskCreate) -> Task:
        due = self._when(body.due_at, body.in_minutes, "due_at")
        remind = None
        if body.remind_at is not None:
            try:
                remind = parse_moment(body.remind_at, self.settings.time_zone)
            except ValueError as exc:
                raise InvalidInput(str(exc), field="remind_at") from None
        elif body.remind:
            remind = due
        code_id = None
        customer_id = body.customer_id
        if body.tracking_code is not None:
            code = await TrackingService(self.session, self.settings).get(body.tracking_code)
            code_id = code.id
            customer_id = customer_id or code.customer_id
        if customer_id is not None and await self.session.get(Customer, customer_id) is None:
            raise NotFound("no such customer", field="customer_id")
        return await self.repo.add(
            Task(
                kind="task",
                title=body.title.strip(),
                notes=body.notes,
                customer_id=customer_id,
                tracking_code_id=code_id,
                assignee_user_id=await self._assignee(user, body.assignee_user_id),
                created_by_user_id=user.id,
                due_at=due,
                remind_at=remind,
                done_note="",
            )
        )

    async def get(self, user: User, task_id: int, *, lock: bool = False) -> Task:
        task = await self.repo.get(task_id, lock=lock)
        if task is None or (
            user.role == Role.agent.value
            and user.id not in (task.assignee_user_id, task.created_by_user_id)
        ):
            raise NotFound("no such task")
        return task

    async def update(self, user: User, task_id: int, body: TaskUpdate) -> Task:
        task = await self.get(user, task_id, lock=True)
        if body.title is not None:
            task.title = body.title.strip()
        if body.notes is not None:
            task.notes = body.notes
        if body.assignee_user_id is not None:
            task.assignee_user_id = await self._assignee(user, body.assignee_user_id)
        due = self._when(body.due_at, body.in_minutes, "due_at")
        if due is not None:
            # Rescheduled: reminded again at the new time.
            task.remind_at = due if task.remind_at is not None or task.due_at is None else None
            task.due_at = due
            task.reminded_at = None
        await self.session.flush()
        return task

    async def done(self, user: User, task_id: int, note: str, done: bool = True) -> Task:
        task = await self.get(user, task_id, lock=True)
        if done:
            task.done_at = task.done_at or datetime.now(UTC)
            task.done_by_user_id = user.id
            task.done_note = note.strip()
        else:
            task.done_at = None
            task.done_by_user_id = None
        await self.session.flush()
        return task

    async def snooze(self, user: User, task_id: int, minutes: int) -> Task:
        task = await self.get(user, task_id, lock=True)
        task.remind_at = datetime.now(UTC) + timedelta(minutes=minutes)
        task.reminded_at = None
        await self.session.flush()
        return task

    async def listing(
        self,
        user: User,
        *,
        everyone: bool,
        done: bool,
        customer_id: int | None,
        tracking_code: str | None,
        overdue: bool,
        limit: int,
    ) -> list[TaskRead]:
        code_id = None
        if tracking_code is not None:
            code_id = (await TrackingService(self.session, self.settings).get(tracking_code)).id
        if everyone and user.role == Role.agent.value:
            raise PermissionDenied("only supervisors list everyone's tasks")
        now = datetime.now(UTC)
        rows = await self.repo.listing(
            None if everyone else user.id,
            done,
            customer_id,
            code_id,
            now if overdue else None,
            limit,
        )
        return await self.read(rows, now)

    async def read(self, tasks: Sequence[Task], now: datetime | None = None) -> list[TaskRead]:
        now = now or datetime.now(UTC)
        names, codes = await self.repo.labels(tasks)
        out = []
        for task in tasks:
            item = TaskRead.model_validate(task)
            item.customer_name = names.get(task.customer_id or 0, "")
            item.tracking_code = codes.get(task.tracking_code_id or 0, "")
            item.overdue = task.done_at is None and task.due_at is not None and task.due_at < now
            out.append(item)
        return out

    async def summary(self, user: User) -> dict[str, int]:
        """Due today (later today, in the service's time zone) and overdue, for the panel."""
        zone = ZoneInfo(self.settings.time_zone)
        now = datetime.now(UTC)
        tomorrow = datetime.combine(now.astimezone(zone).date() + timedelta(days=1), time(), zone)
        return await self.repo.summary(user.id, now, tomorrow)


def _recipients(callback: Callback, queues: dict[tuple[str, str], list[int]]) -> Sequence[int]:
    """The assigned agent; else the one who claimed it; else the queue's agents."""
    if callback.assigned_user_id is not None:
        return [callback.assigned_user_id]
    if callback.claimed_by_user_id is not None:
        return [callback.claimed_by_user_id]
    return queues.get((callback.pbx, callback.queue), [])
