"""Webhook signatures, as Stripe signs its own.

Every delivery carries ``Tamas-Signature: t=<unix seconds>,v1=<hex>`` where the hex is
``HMAC-SHA256(secret, f"{t}.{body}")`` over the exact bytes of the body. A receiver
recomputes it with the endpoint's secret, compares in constant time, and refuses a ``t``
more than ``REPLAY_WINDOW`` seconds away from its own clock (a captured request replayed
later fails). ``verify`` is that check, for receivers written in Python.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

HEADER = "Tamas-Signature"
EVENT_ID_HEADER = "Tamas-Event-Id"
EVENT_TYPE_HEADER = "Tamas-Event-Type"
ATTEMPT_HEADER = "Tamas-Delivery-Attempt"
REPLAY_WINDOW = 300  # seconds


class BadSignature(ValueError):
    pass


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def header_value(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={digest(secret, t, body)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance: int = REPLAY_WINDOW,
    now: float | None = None,
) -> int:
    """Check a ``Tamas-Signature`` header against the body; its timestamp if it is good.
    Raises ``BadSignature`` otherwise."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(key, []).append(value)
    try:
        t = int(parts["t"][0])
    except (KeyError, ValueError):
        raise BadSignature("no timestamp in the signature header") from None
    if abs((time.time() if now is None else now) - t) > tolerance:
        raise BadSignature("the timestamp is outside the replay window")
    expected = digest(secret, t, body)
    if not any(hmac.compare_digest(expected, v) for v in parts.get("v1", [])):
        raise BadSignature("no v1 signature matches")
    return t
