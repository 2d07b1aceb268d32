"""SMS providers: one small interface, a Kavenegar adapter and a generic HTTP one.

Kavenegar: its REST API (https://kavenegar.com/rest.html) called with httpx rather than
its PyPI packages: ``kavenegar`` (1.1.2, 2018) is synchronous (requests) and would block
the event loop at every send; ``aio-kavenegar`` is asynchronous but opens a new connection
for every request, has its host fixed to https://api.kavenegar.com (the tests and the
benchmark need a local fake) and turns Kavenegar's error statuses into one exception after
``raise_for_status()``, losing the status that tells a wrong number (never retried) from a
busy server (retried). The API is four form posts; one pooled client serves them all.

The API key is in Kavenegar's URL path: it never reaches a log line (httpx logs each
request's URL at INFO, hence the filter below) or an error stored on a message.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import httpx
import phonenumbers

from app.config import Settings, SmsHttpSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    local_id: int  # the outbox's id: the same on every try of one message
    number: str  # E.164
    text: str


@dataclass(frozen=True)
class Sent:
    message_id: str
    status: str = "sent"  # sent, delivered, failed, cancelled


class ProviderError(Exception):
    """A send that did not go through. ``retryable``: try again later (the provider busy,
    down, or slow); else the message can never go (a wrong number, an empty text).
    ``maybe_sent``: the request reached the provider and its answer was lost (a read
    timeout, a dropped connection), so the text may have gone all the same."""

    def __init__(self, message: str, *, retryable: bool, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.maybe_sent = maybe_sent


# Failures of the HTTP client before the request could reach the provider: never sent.
_BEFORE_SENDING = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Provider(Protocol):
    name: str
    # Whether the provider refuses a second message with the same local id.
    deduplicates: bool

    async def send(self, message: Outgoing) -> Sent: ...

    async def statuses(self, message_ids: list[str]) -> dict[str, str]:
        """Delivery states of sent messages (sent, delivered, failed, cancelled) by the
        provider's id; those it does not know are left out."""
        ...

    async def aclose(self) -> None: ...


class _Redact(logging.Filter):
    """Masks a secret in the records of the HTTP client's loggers."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secret:
            message = record.getMessage()
            if self.secret in message:
                record.msg = message.replace(self.secret, "***")
                record.args = None
        return True


_HTTP_LOGGERS = ("httpx", "httpcore")


class _Guarded:
    """What both adapters share: a pooled client and the secret kept out of logs."""

    def __init__(self, secret: str, timeout: float, concurrency: int) -> None:
        self._secret = secret
        self._filter = _Redact(secret)
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).addFilter(self._filter)
        self.client = httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

    def _clean(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    async def aclose(self) -> None:
        await self.client.aclose()
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).removeFilter(self._filter)


# Kavenegar's message states (sms/status.json, the delivery callback).
KAVENEGAR_STATES = {
    1: "sent",  # in the send queue
    2: "sent",  # scheduled
    4: "sent",  # handed to the operator
    5: "sent",  # handed to the operator
    6: "failed",  # not delivered (the operator failed)
    10: "delivered",
    11: "failed",  # undelivered (the phone off or unreachable too long)
    13: "cancelled",
    14: "failed",  # the receiver blocked texts from this sender
}
# Statuses (return.status) after which the same request can never succeed.
KAVENEGAR_PERMANENT = {400, 406, 411, 413, 414, 417, 419, 422}


def receptor(e164: str) -> str:
    """A number as Kavenegar takes it: 09121234567 inside Iran, 00 + digits abroad."""
    parsed = phonenumbers.parse(e164, None)
    if parsed.country_code == 98:
        return "0" + str(parsed.national_number)
    return "00" + e164.lstrip("+")


class KavenegarProvider(_Guarded):
    name = "kavenegar"
    deduplicates = True  # localid: a repeated one is answered with the first message

    def __init__(
        self, api_key: str, sender: str, base_url: str, *, timeout: float, concurrency: int
    ) -> None:
        super().__init__(api_key, timeout, concurrency)
        self.sender = sender
        self.base = f"{base_url.rstrip('/')}/v1/{api_key}"

    async def _post(self, method: str, data: dict[str, str]) -> list[dict[str, Any]]:
        try:
            response = await self.client.post(f"{self.base}/sms/{method}.json", data=data)
        except httpx.TimeoutException:
            raise ProviderError("Kavenegar did not answer in time", retryable=True) from None
        except httpx.HTTPError as exc:
            raise ProviderError(
                self._clean(f"Kavenegar unreachable: {exc}"), retryable=True
            ) from None
        try:
            body = response.json()
            status = int(body["return"]["status"])
            reason = str(body["return"].get("message", ""))
        except (ValueError, KeyError, TypeError):
            raise ProviderError(
                f"Kavenegar answered HTTP {response.status_code} without its JSON",
                retryable=response.status_code >= 500 or response.status_code in (408, 429),
            ) from None
        if status != 200:
            raise ProviderError(
                self._clean(f"Kavenegar {status}: {reason}"),
                retryable=status not in KAVENEGAR_PERMANENT,
            )
        entries = body.get("entries") or []
        return entries if isinstance(entries, list) else [entries]

    async def send(self, message: Outgoing) -> Sent:
        data = {
            "receptor": receptor(message.number),
            "message": message.text,
            "localid": str(message.local_id),
        }
        if self.sender:
            data["sender"] = self.sender
        entries = await self._post("send", data)
        if not entries:
            raise ProviderError("Kavenegar accepted the text but named no message", retryable=True)
        entry = entries[0]
        return Sent(
            str(entry.get("messageid", "")),
            KAVENEGAR_STATES.get(int(entry.get("status", 1)), "sent"),
        )

    async def statuses(self, message_ids: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for i in range(0, len(message_ids), 500):  # its limit per request
            chunk = message_ids[i : i + 500]
            for entry in await self._post("status", {"messageid": ",".join(chunk)}):
                state = KAVENEGAR_STATES.get(int(entry.get("status", 0)))
                if state is not None:
                    out[str(entry.get("messageid"))] = state
        return out


def _dig(data: Any, path: str) -> Any:
    for part in path.split(".") if path else []:
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data


class HttpProvider(_Guarded):
    """Any provider with an HTTP API: the request written from templates (SmsHttpSettings)."""

    name = "http"

    def __init__(self, conf: SmsHttpSettings, *, timeout: float, concurrency: int) -> None:
        key = conf.api_key.get_secret_value() if conf.api_key else ""
        super().__init__(key, timeout, concurrency)
        self.conf = conf
        self.deduplicates = conf.deduplicates

    def _fields(self, message: Outgoing) -> dict[str, str]:
        parsed = phonenumbers.parse(message.number, None)
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        return {
            "number": message.number.lstrip("+"),
            "national": "".join(c for c in national if c.isdigit()),
            "e164": message.number,
            "text": message.text,
            "local_id": str(message.local_id),
            "sender": self.conf.sender,
            "api_key": self._secret,
        }

    def request(self, message: Outgoing) -> tuple[str, dict[str, str], bytes]:
        """The URL, headers and body for ``message``."""
        fields = self._fields(message)
        url = self.conf.url.format_map({k: quote(v, safe="") for k, v in fields.items()})
        headers = {
            k: v.format_map(fields).replace("\r", "").replace("\n", "")
            for k, v in self.conf.headers.items()
        }
        if self.conf.body_format == "json":
            escaped = {k: json.dumps(v, ensure_ascii=False)[1:-1] for k, v in fields.items()}
            body = self.conf.body.format_map(escaped).encode()
            headers.setdefault("Content-Type", "application/json")
        else:
            pairs = [p.split("=", 1) for p in self.conf.body.split("&") if p]
            body = urlencode([(k, v.format_map(fields)) for k, v in pairs]).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return url, headers, body

    async def send(self, message: Outgoing) -> Sent:
        url, headers, body = self.request(message)
        try:
            response = await self.client.request(
                self.conf.method, url, headers=headers, content=body or None
            )
        except httpx.TimeoutException as exc:
            raise ProviderError(
                "the provider did not answer in time",
                retryable=True,
                maybe_sent=not isinstance(exc, _BEFORE_SENDING),
            ) from None
        except httpx.HTTPError as exc:
            raise ProviderError(
                self._clean(f"provider unreachable: {exc}"),
                retryable=True,
                maybe_sent=not isinstance(exc, _BEFORE_SENDING),
            ) from None
        code = response.status_code
        if code >= 400:
            raise ProviderError(
                self._clean(f"provider HTTP {code}: {response.text[:200]}"),
                retryable=code >= 500 or code in (401, 403, 408, 409, 425, 429),
            )
        data: Any = None
        if self.conf.id_path or self.conf.ok_path:
            try:
                data = response.json()
            except ValueError:
                raise ProviderError(f"provider HTTP {code} without JSON", retryable=True) from None
        if self.conf.ok_path and str(_dig(data, self.conf.ok_path)) != self.conf.ok_value:
            raise ProviderError(
                self._clean(f"provider refused: {response.text[:200]}"), retryable=True
            )
        found = _dig(data, self.conf.id_path) if self.conf.id_path else None
        return Sent("" if found is None else str(found))

    async def statuses(self, message_ids: list[str]) -> dict[str, str]:
        return {}  # delivery reports come by the callback, when the provider sends them


def build_provider(settings: Settings) -> Provider | None:
    """The configured provider, or None ("none": texts wait in the outbox)."""
    if settings.sms_provider == "kavenegar":
        if settings.sms_kavenegar_api_key is None:
            raise ValueError("TAMAS_SMS_PROVIDER=kavenegar needs TAMAS_SMS_KAVENEGAR_API_KEY")
        return KavenegarProvider(
            settings.sms_kavenegar_api_key.get_secret_value(),
            settings.sms_kavenegar_sender,
            settings.sms_kavenegar_base_url,
            timeout=settings.sms_timeout_seconds,
            concurrency=settings.sms_concurrency,
        )
    if settings.sms_provider == "http":
        if settings.sms_http is None:
            raise ValueError("TAMAS_SMS_PROVIDER=http needs TAMAS_SMS_HTTP")
        return HttpProvider(
            settings.sms_http,
            timeout=settings.sms_timeout_seconds,
            concurrency=settings.sms_concurrency,
        )
    return None
