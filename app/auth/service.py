"""Sign-in, tokens and throttling of failed attempts."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import AuditService
from app.config import Settings
from app.errors import NotAuthenticated, SignInFailed, TooManyAttempts
from app.models import AuthToken, User
from app.security import hash_password, needs_rehash, new_token, token_digest, verify_password
from app.users.repository import ThrottleRepository, TokenRepository, UserRepository

logger = logging.getLogger(__name__)

# Failures older than this are forgotten.
FAILURE_WINDOW = timedelta(hours=1)
# How often a token in use is marked used.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    expires_in: float
    user: User


def _now() -> datetime:
    return datetime.now(UTC)


class AuthService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.users = UserRepository(session)
        self.tokens = TokenRepository(session)
        self.throttle = ThrottleRepository(session)
        self.audit = AuditService(session)

    def digest(self, token: str) -> str:
        """What is stored of a token (never the token itself)."""
        return token_digest(token, self.settings.secret_key.get_secret_value())

    async def _check_throttle(self, keys: list[str], now: datetime) -> None:
        for row in await self.throttle.get_many(keys):
            if row.blocked_until is not None and row.blocked_until > now:
                wait = int((row.blocked_until - now).total_seconds()) + 1
                raise TooManyAttempts(
                    f"too many failed sign-ins; try again in {wait} s", retry_after=wait
                )

    async def _record_failure(self, keys: list[str], now: datetime) -> None:
        existing = {row.key: row for row in await self.throttle.get_many(keys)}
        for key in keys:
            row = existing.get(key)
            if row is not None and row.last_failure_at < now - FAILURE_WINDOW:
                await self.throttle.clear(key)
            failures = await self.throttle.record_failure(key, now)
            free = (
                self.settings.login_free_failures
                if key.startswith("user:")
                else self.settings.login_free_failures_per_address
            )
            extra = failures - free
            if extra >= 0:
                delay = min(2**extra, self.settings.login_max_delay_seconds)
                await self.throttle.block(key, now + timedelta(seconds=delay))

    async def sign_in(
        self, username: str, password: str, *, client: str = "", user_agent: str = ""
    ) -> IssuedToken:
        """Check the password and issue a token. Repeated failures for one username or one
        client address make the next attempt wait (doubling each time)."""
        now = _now()
        name = username.strip().lower()
        keys = [f"user:{name}"] + ([f"ip:{client}"] if client else [])
        await self._check_throttle(keys, now)
        user = await self.users.get_by_username(name)
        ok = verify_password(user.password_hash if user else None, password)
        if user is None or not ok or not user.is_active:
            await self._record_failure(keys, now)
            # Kept with the failure count (SignInFailed commits what was written).
            await self.audit.record(
                "sign_in_failed", None, actor_name=name, address=client, target=f"user:{name}"
            )
            logger.info("failed sign-in for %r from %s", name, client or "?")
            raise SignInFailed("wrong username or password")
        for key in keys:
            await self.throttle.clear(key)
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        issued = await self._issue(user, now, user_agent)
        await self.tokens.delete_expired(now - timedelta(days=30))
        # Sign-ins are rare enough to carry the audit log's clean-up too.
        await self.audit.purge(self.settings.audit_retention_days, now)
        await self.audit.record("sign_in", user, address=client, target=f"user:{user.id}")
        logger.info("user %s signed in", user.username)
        return issued

    async def _issue(self, user: User, now: datetime, user_agent: str) -> IssuedToken:
        token = new_token()
        expires_at = now + timedelta(hours=self.settings.token_ttl_hours)
        await self.tokens.add(
            AuthToken(
                user_id=user.id,
                token_hash=self.digest(token),
                expires_at=expires_at,
                user_agent=user_agent[:300],
            )
        )
        return IssuedToken(
            token=token,
            expires_at=expires_at,
            expires_in=round((expires_at - now).total_seconds(), 3),
            user=user,
        )

    async def refresh(self, token: str, *, client: str = "", user_agent: str = "") -> IssuedToken:
        """Rotation: a new token with a fresh expiry for the same user, and the old one
        revoked in the same transaction (a stolen copy of the old one stops working)."""
        now = _now()
        found = await self.tokens.active_user(self.digest(token), now)
        if found is None:
            raise NotAuthenticated("the token is invalid, expired or revoked; sign in again")
        old, user = found
        # Two refreshes racing with one token: the row lock lets only one revoke it.
        if not await self.tokens.revoke(old.id, now):
            raise NotAuthenticated("the token is invalid, expired or revoked; sign in again")
        issued = await self._issue(user, now, user_agent)
        await self.audit.record("token_refreshed", user, address=client, target=f"user:{user.id}")
        return issued

    async def user_for_token(self, token: str) -> User:
        """The active user a token belongs to, or :class:`NotAuthenticated`."""
        found = await self.tokens.active_user(self.digest(token), _now())
        if found is None:
            raise NotAuthenticated("the token is invalid, expired or revoked; sign in again")
        auth_token, user = found
        now = _now()
        # Writing on every request would turn reads into writes; once a minute is enough.
        if auth_token.last_used_at is None or now - auth_token.last_used_at > TOUCH_EVERY:
            await self.tokens.touch(auth_token.id, now)
        return user

    async def live_digests(self, digests: Collection[str]) -> set[str]:
        """Of the given token digests, those still signed in (one query for all of them, for
        the checks of open websockets); they are marked used."""
        if not digests:
            return set()
        now = _now()
        live = await self.tokens.live_digests(digests, now)
        if live:
            await self.tokens.touch_many(live, now, TOUCH_EVERY)
        return live

    async def sign_out(self, token: str, *, client: str = "") -> None:
        found = await self.tokens.active_user(self.digest(token), _now())
        if found is not None:
            await self.tokens.revoke(found[0].id, _now())
            user = found[1]
            await self.audit.record("sign_out", user, address=client, target=f"user:{user.id}")

    async def revoke_all(self, user_id: int) -> int:
        return await self.tokens.revoke_all(user_id, _now())
