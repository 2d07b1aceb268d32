"""Agents' availability: paused or not (and why), logged in to which queues, on a call.

What the PBX reports is the truth (``queue_members``, kept by the instance that follows the
PBX from its ``QueueMember*`` events); Tamas's own requests (``QueuePause``, ``QueueAdd``,
``QueueRemove``) are sent by the edge and show up once the PBX reports them, like a pause
made from the phone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.repository import MemberRepository
from app.config import PbxSettings, Settings
from app.errors import InvalidInput
from app.models import QueueMember, User
from telephony.events import extension_of
from telephony.members import MemberSnapshot, MemberState

WRAPUP_REASON = "after-call work"
# Asterisk device states (QueueMemberStatus Status).
_OFFLINE = {4, 5}  # invalid, unavailable
_ON_CALL = {2, 3, 8}  # in use, busy, on hold
_RINGING = {6, 7}  # ringing, ringing while in use

# The "linkedid" under which agent-status messages are kept in an agent's message stream.
STATUS_KEY = "agent-status"


def member_interface(config: PbxSettings, device: str) -> str:
    return config.member_interface.format(device=device, extension=extension_of(device))


class AgentService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repo = MemberRepository(session)
        self.configs = {p.id: p for p in settings.pbxes}

    def interfaces(self, user: User) -> list[tuple[str, str]]:
        """(pbx, interface) of the user's devices as queue members, and the devices
        themselves (a member whose StateInterface is the device is the user's too)."""
        out: list[tuple[str, str]] = []
        for config in self.configs.values():
            for d in user.devices:
                out.append((config.id, member_interface(config, d.device)))
                out.append((config.id, d.device))
        return sorted(set(out))

    async def members(self, user: User) -> list[QueueMember]:
        return await self.repo.of_interfaces(self.interfaces(user))

    async def status(self, user: User) -> dict[str, Any]:
        return self.describe(user, await self.members(user))

    def describe(self, user: User, rows: Sequence[QueueMember]) -> dict[str, Any]:
        """The agent's availability as the panel and the API show it."""
        paused = [r for r in rows if r.paused]
        wrapup = [r.wrapup_until for r in rows if r.wrapup_until is not None]
        state = "available"
        if not rows:
            state = "no_queue"
        elif all(r.status in _OFFLINE for r in rows):
            state = "offline"
        elif any(r.status in _RINGING for r in rows):
            state = "ringing"
        elif any(r.in_call or r.status in _ON_CALL for r in rows):
            state = "on_call"
        elif len(paused) == len(rows):
            # Paused in only some queues, the agent still gets calls: available.
            state = "after_call_work" if wrapup else "paused"
        reason = paused[0].paused_reason if paused else ""
        member_of = {(r.pbx, r.queue): r.membership for r in rows}
        return {
            "user_id": user.id,
            "state": state,
            "paused": bool(rows) and len(paused) == len(rows),
            "partly_paused": bool(paused) and len(paused) < len(rows),
            "reason": reason,
            "wrapup_until": max(wrapup).isoformat() if wrapup else None,
            "queues": [
                {
                    "pbx": r.pbx,
                    "queue": r.queue,
                    "interface": r.interface,
                    "membership": r.membership,
                    "paused": r.paused,
                    "reason": r.paused_reason,
                    "status": r.status,
                    "in_call": r.in_call,
                }
                for r in rows
            ],
            "login_queues": [
                {
                    "pbx": c.id,
                    "queue": q,
                    "logged_in": (c.id, q) in member_of,
                    # Only a dynamic member can log out (static ones are set on the PBX).
                    "can_log_out": member_of.get((c.id, q)) == "dynamic",
                }
                for c in self.configs.values()
                for q in c.login_queues
            ],
            "pause_reasons": list(self.settings.pause_reasons),
        }

    # -- requests to the PBX ---------------------------------------------------------------

    async def pause_actions(
        self, user: User, paused: bool, reason: str = ""
    ) -> list[tuple[str, dict[str, Any]]]:
        """QueuePause for each of the user's member interfaces, across all their queues."""
        if paused and reason not in self.settings.pause_reasons:
            raise InvalidInput(
                f"pick a pause reason: {', '.join(self.settings.pause_reasons)}", field="reason"
            )
        rows = await self.members(user)
        if not rows:
            raise InvalidInput("you are in no queue: there is nothing to pause")
        targets = sorted({(r.pbx, r.interface) for r in rows})
        actions = []
        for pbx, interface in targets:
            action = {"Action": "QueuePause", "Interface": interface, "Paused": str(paused).lower()}
            if paused:
                action["Reason"] = reason
            actions.append((pbx, action))
        return actions

    async def queue_action(
        self, user: User, pbx: str | None, queue: str, login: bool
    ) -> list[tuple[str, dict[str, Any]]]:
        """QueueAdd / QueueRemove of the user's devices for a queue agents may log in to."""
        configs = [c for c in self.configs.values() if queue in c.login_queues]
        if pbx is not None:
            configs = [c for c in configs if c.id == pbx]
        if not configs:
            raise InvalidInput(f"{queue!r} is not a queue agents log in to", field="queue")
        if len(configs) > 1:
            raise InvalidInput("that queue is on several PBXes: say which", field="pbx")
        if not user.devices:
            raise InvalidInput("you have no phone set up in Tamas", field="device")
        config = configs[0]
        if not login:
            static = [
                r
                for r in await self.members(user)
                if r.queue == queue and r.pbx == config.id and r.membership == "static"
            ]
            if static:
                raise InvalidInput(
                    f"you are a fixed member of {queue} (set on the PBX): you cannot log out",
                    code="static_member",
                )
        actions = []
        for d in user.devices:
            interface = member_interface(config, d.device)
            if login:
                action = {
                    "Action": "QueueAdd",
                    "Queue": queue,
                    "Interface": interface,
                    "MemberName": user.full_name or user.username,
                    "StateInterface": d.device,
                    "Paused": "false",
                }
            else:
                action = {"Action": "QueueRemove", "Queue": queue, "Interface": interface}
            actions.append((config.id, action))
        return actions

    # -- what the PBX reports (inside the listener's transaction) ---------------------------

    async def apply(
        self, changes: Sequence[MemberState], snapshot: MemberSnapshot | None
    ) -> list[dict[str, Any]]:
        """Store membership changes; return the status messages for the agents concerned."""
        now = datetime.now(UTC)
        touched: set[str] = set()
        if snapshot is not None:
            gone = await self.repo.replace_pbx(snapshot.pbx, snapshot.members, now)
            touched |= set(gone)
            touched |= {m.interface for m in snapshot.members}
            touched |= {m.state_interface for m in snapshot.members}
        if changes:
            # Device states change with every call (ringing, in use, free): the agent's
            # availability does not. Only a change of it (paused, the reason, joining or
            # leaving a queue, the phone going unreachable) is sent to the agent; the call
            # itself is on their pop cards, and the wallboard reads every state.
            known = {
                (r.pbx, r.queue, r.interface): availability(
                    r.paused, r.paused_reason, r.status, False
                )
                for r in await self.repo.of_keys(
                    sorted({(m.pbx, m.queue, m.interface) for m in changes})
                )
            }
            for m in changes:
                key = (m.pbx, m.queue, m.interface)
                after = availability(m.paused, m.paused_reason, m.status, m.removed)
                if known.get(key) != after:
                    touched |= {m.interface, m.state_interface}
                known[key] = after
            await self.repo.upsert(changes, now)
        return await self.status_messages(touched) if touched else []

    async def statuses(self, users: Sequence[User]) -> dict[int, dict[str, Any]]:
        """Each user's status, from one query for all their memberships."""
        if not users:
            return {}
        wanted = {u.id: set(self.interfaces(u)) for u in users}
        rows = await self.repo.of_interfaces(sorted(set().union(*wanted.values())))
        return {
            user.id: self.describe(
                user,
                [
                    r
                    for r in rows
                    if (r.pbx, r.interface) in wanted[user.id]
                    or (r.pbx, r.state_interface) in wanted[user.id]
                ],
            )
            for user in users
        }

    async def status_messages(self, interfaces: set[str]) -> list[dict[str, Any]]:
        """A status message (pop row) for each user on these interfaces or devices: one query
        for the users, one for all their memberships."""
        devices = set(interfaces)
        for interface in interfaces:
            # Local/1001@from-queue/n and the like name the extension, not the device.
            devices |= devices_named_in(interface)
        users = await self.repo.users_of_devices(sorted(devices))
        statuses = await self.statuses(users)
        return [
            {
                "user_id": user.id,
                "pbx": "",
                "linkedid": STATUS_KEY,
                "kind": "agent",
                "payload": {"status": statuses[user.id]},
            }
            for user in users
        ]

    async def start_wrapup(
        self, pbx: str, device: str, until: datetime
    ) -> list[tuple[str, dict[str, Any]]]:
        """After-call work for the agent on ``device``: QueuePause actions, and the deadline
        noted on their memberships."""
        config = self.configs.get(pbx)
        if config is None:
            return []
        rows = await self.repo.of_interfaces(
            [(pbx, member_interface(config, device)), (pbx, device)]
        )
        # An agent who paused for something else stays as they are.
        if not rows or any(r.paused and r.paused_reason != WRAPUP_REASON for r in rows):
            return []
        interfaces = sorted({r.interface for r in rows})
        await self.repo.set_wrapup(pbx, interfaces, until)
        return [
            (
                pbx,
                {"Action": "QueuePause", "Interface": i, "Paused": "true", "Reason": WRAPUP_REASON},
            )
            for i in interfaces
        ]

    async def end_wrapups(self) -> list[tuple[str, dict[str, Any]]]:
        """Unpause the members whose after-call work is over (claimed once across instances),
        unless they changed the pause reason themselves meanwhile."""
        now = datetime.now(UTC)
        actions = []
        for pbx, interface, _state in await self.repo.claim_wrapups_due(now):
            rows = [
                r
                for r in await self.repo.of_interfaces([(pbx, interface)])
                if r.interface == interface
            ]
            if rows and all(not r.paused or r.paused_reason == WRAPUP_REASON for r in rows):
                actions.append(
                    (pbx, {"Action": "QueuePause", "Interface": interface, "Paused": "false"})
                )
        return actions


def availability(
    paused: bool, reason: str, status: int, removed: bool
) -> tuple[bool, bool, str, bool]:
    """What of a membership the agent's availability shows (not the device's call state)."""
    return (removed, paused, reason if paused else "", status in _OFFLINE)


def devices_named_in(interface: str) -> set[str]:
    """The devices a Local queue-member interface stands for (``Local/1001@from-queue/n``
    names extension 1001: its phone in the usual technologies). Most PBXes also report the
    device itself as the StateInterface, which is matched directly."""
    if not interface.startswith("Local/"):
        return set()
    extension = interface[len("Local/") :].split("@", 1)[0]
    return {f"PJSIP/{extension}", f"SIP/{extension}", f"IAX2/{extension}"}
