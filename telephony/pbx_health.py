"""What the health endpoint shows for one followed PBX (``AmiListener.health``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class PbxHealth:
    """What the health endpoint shows for one PBX."""

    status: str = "starting"  # connecting | authenticating | connected | failed | retrying
    reason: str = ""
    retry_in_seconds: float | None = None
    connected_since: float | None = None
    events: int = 0
    skipped: int = 0
    malformed: int = 0
    handler_errors: int = 0
    backlog: int = 0
    resyncs: int = 0
    # "ok", or "unreachable since <ISO time>" while the handler cannot reach the database.
    database: str = "ok"
    buffered: int = 0  # calls (and other items) held until the database stores them
    buffered_events: int = 0
    buffer_peak: int = 0
    buffer_full_episodes: int = 0  # times the buffer filled and the PBX was let go
    poisoned: int = 0  # events given up: their batch failed on its own data
    reading_paused: int = 0  # times the socket was not read because the queue was full
    last_outage_seconds: float | None = None
    last_catch_up_seconds: float | None = None  # from the database back to nothing held

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "retry_in_seconds": self.retry_in_seconds,
            "connected_since": self.connected_since,
            "events": self.events,
            "skipped": self.skipped,
            "malformed": self.malformed,
            "handler_errors": self.handler_errors,
            "backlog": self.backlog,
            "resyncs": self.resyncs,
            "database": self.database,
            "buffered": self.buffered,
            "buffered_events": self.buffered_events,
            "buffer_peak": self.buffer_peak,
            "buffer_full_episodes": self.buffer_full_episodes,
            "poisoned": self.poisoned,
            "reading_paused": self.reading_paused,
            "last_outage_seconds": self.last_outage_seconds,
            "last_catch_up_seconds": self.last_catch_up_seconds,
        }
