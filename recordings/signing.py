"""Short-lived signed addresses of a recording's audio, for the browser's <audio src> (which
cannot send the bearer token): an HMAC-SHA256, under the instance's secret key, over the
recording's id, the user it was given to and when it expires. Pure: the clock is passed in."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

# Kept apart from every other use of the secret key.
_PURPOSE = b"tamas recording stream v1\n"


class BadSignature(ValueError):
    """The address was not signed by this instance (or was changed)."""


class Expired(ValueError):
    """The address was signed by this instance but its time is up."""


@dataclass(frozen=True, slots=True)
class StreamGrant:
    recording_id: int
    user_id: int
    expires: int  # Unix time, seconds


def _mac(key: str, recording_id: int, user_id: int, expires: int) -> str:
    message = _PURPOSE + f"{recording_id}\n{user_id}\n{expires}".encode()
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(key: str, recording_id: int, user_id: int, now: float, ttl: float) -> tuple[str, int]:
    """The signature and the expiry (Unix seconds) of an address good for ``ttl`` seconds."""
    expires = int(now + ttl)
    return _mac(key, recording_id, user_id, expires), expires


def verify(
    key: str, recording_id: int, user_id: int, expires: int, signature: str, now: float
) -> StreamGrant:
    """The grant, if the signature is this instance's over exactly these values and it has
    not expired; :class:`BadSignature` or :class:`Expired` otherwise (a forged address is
    told apart before its time is looked at)."""
    expected = _mac(key, recording_id, user_id, expires)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise BadSignature("the address's signature does not match")
    if now >= expires:
        raise Expired("the address has expired")
    return StreamGrant(recording_id, user_id, expires)
