"""Pop enrichment: what the ERP or website says about a caller (open invoices, last order,
balance), asked over HTTP and shown on the pop and the customer card as labelled fields.

A pop never waits for it. A fresh answer in the cache goes on the pop itself. Otherwise the
pop goes out at once marked ``pending`` and the lookup starts (one per caller, shared by
every pop that wants it); the answer follows as an ``enrichment`` message for that call.
Past the time budget the pop's enrichment is marked ``late`` (a message saying so), and an
answer that still comes before the timeout follows as an update all the same. A failure is
``failed``: the pop is never delayed nor broken by it. Answers are kept ``ttl`` seconds
(failures a few seconds only).

The lookup: GET the URL template with {number} (E.164), {customer_id} and {external_id}
filled in (URL-quoted; empty when unknown), the configured headers. The answer: JSON,
either ``{"fields": [{"label": "...", "value": ...}, ...]}`` or a flat object whose keys are
the labels.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from app.config import Settings
from app.tasks import cancelled

logger = logging.getLogger(__name__)

Deliver = Callable[[int, dict[str, Any]], None]
Key = tuple[str, str, str]  # number, customer id, external id

MAX_FIELDS = 20
MAX_TEXT = 200
_KEPT = 10_000  # answers kept at most (the oldest go first)
_FAILURE_KEPT = 10.0  # seconds a failure is remembered (not asked again at every pop)


class BadAnswer(ValueError):
    pass


def fields_of(data: Any) -> list[dict[str, str]]:
    """The labelled fields of an answer (see the module's text)."""
    if isinstance(data, dict) and isinstance(data.get("fields"), list):
        items = []
        for item in data["fields"]:
            if not isinstance(item, dict) or "label" not in item:
                raise BadAnswer("each of fields needs a label")
            items.append((item["label"], item.get("value")))
    elif isinstance(data, dict):
        items = list(data.items())
    else:
        raise BadAnswer("the answer is not a JSON object")
    out = []
    for label, value in items[:MAX_FIELDS]:
        if value is None or isinstance(value, dict | list):
            continue
        text = value if isinstance(value, str) else str(value)
        out.append({"label": str(label)[:MAX_TEXT], "value": text[:MAX_TEXT]})
    return out


class _Lookup:
    """One caller's lookup in flight and the pops waiting to hear of it."""

    def __init__(self) -> None:
        # Who to tell: (user id, the pop's call, how to reach them).
        self.waiting: list[tuple[int, dict[str, Any], Deliver]] = []
        self.late = False
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None


class Enricher:
    def __init__(self, settings: Settings) -> None:
        assert settings.enrichment_url is not None
        self.template = settings.enrichment_url
        self.headers = {k: v.get_secret_value() for k, v in settings.enrichment_headers.items()}
        self.budget = settings.enrichment_budget_ms / 1000
        self.ttl = settings.enrichment_ttl_seconds
        self.timeout = settings.enrichment_timeout_seconds
        self._client: httpx.AsyncClient | None = None
        self._cache: OrderedDict[Key, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lookups: dict[Key, _Lookup] = {}
        self.asked = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Enricher | None:
        return cls(settings) if settings.enrichment_url else None

    def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout), follow_redirects=False
        )

    async def stop(self) -> None:
        for lookup in list(self._lookups.values()):
            if lookup.timer is not None:
                lookup.timer.cancel()
            await cancelled(lookup.task)
        self._lookups.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def key_of(self, message: dict[str, Any]) -> Key | None:
        customers = message.get("customers") or []
        number = message.get("e164") or ""
        first = customers[0] if len(customers) == 1 else {}
        customer_id = str(first.get("id") or "")
        external_id = str(first.get("external_id") or "")
        if not (number or customer_id):
            return None
        return (number, customer_id, external_id)

    def attach(self, user_id: int, message: dict[str, Any], deliver: Deliver) -> None:
        """Deliver a pop (``deliver(user_id, message)``) with what is known of its caller,
        at once; start the lookup when nothing fresh is known."""
        key = self.key_of(message) if message.get("type") == "pop" else None
        if key is None or self._client is None:
            deliver(user_id, message)
            return
        cached = self._fresh(key)
        if cached is not None:
            message["enrichment"] = cached
            deliver(user_id, message)
            return
        lookup = self._lookups.get(key)
        if lookup is None:
            lookup = self._lookups[key] = _Lookup()
            loop = asyncio.get_running_loop()
            lookup.task = loop.create_task(self._ask(key, lookup), name="enrichment")
            lookup.timer = loop.call_later(self.budget, self._past_budget, key, lookup)
        message["enrichment"] = {"status": "late" if lookup.late else "pending"}
        deliver(user_id, message)
        about = _about(message)
        # Told once per agent and call, however many of its pops came meanwhile.
        if not any(u == user_id and a == about for u, a, _ in lookup.waiting):
            lookup.waiting.append((user_id, about, deliver))

    def _fresh(self, key: Key) -> dict[str, Any] | None:
        found = self._cache.get(key)
        if found is None:
            return None
        until, value = found
        if time.monotonic() >= until:
            del self._cache[key]
            return None
        return value

    def _past_budget(self, key: Key, lookup: _Lookup) -> None:
        lookup.timer = None
        if self._lookups.get(key) is not lookup:
            return
        lookup.late = True
        for user_id, about, deliver in lookup.waiting:
            deliver(user_id, {"type": "enrichment", **about, "enrichment": {"status": "late"}})

    async def _ask(self, key: Key, lookup: _Lookup) -> None:
        assert self._client is not None
        number, customer_id, external_id = key
        url = self.template.format(
            number=quote(number, safe=""),
            customer_id=quote(customer_id, safe=""),
            external_id=quote(external_id, safe=""),
        )
        began = time.perf_counter()
        self.asked += 1
        result: dict[str, Any]
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._client.get(
                    url, headers={"Accept": "application/json", **self.headers}
                )
            if not 200 <= response.status_code < 300:
                raise BadAnswer(f"HTTP {response.status_code}")
            fields = fields_of(response.json())
            result = {"status": "ok", "fields": fields}
            kept = self.ttl
        except (TimeoutError, httpx.HTTPError, ValueError) as exc:
            # ValueError: not JSON, or BadAnswer. The URL may hold a secret: not logged.
            logger.warning("pop enrichment failed: %s", type(exc).__name__ + f": {exc}"[:200])
            result = {"status": "failed"}
            kept = min(self.ttl, _FAILURE_KEPT)
        result["ms"] = round((time.perf_counter() - began) * 1000, 1)
        if lookup.late and result["status"] == "ok":
            result["late"] = True
        if kept > 0:
            self._cache[key] = (time.monotonic() + kept, result)
            self._cache.move_to_end(key)
            while len(self._cache) > _KEPT:
                self._cache.popitem(last=False)
        if lookup.timer is not None:
            lookup.timer.cancel()
            lookup.timer = None
        self._lookups.pop(key, None)
        for user_id, about, deliver in lookup.waiting:
            deliver(user_id, {"type": "enrichment", **about, "enrichment": result})


def _about(message: dict[str, Any]) -> dict[str, Any]:
    return {k: message.get(k) for k in ("pbx", "linkedid", "call_id", "origination")}
