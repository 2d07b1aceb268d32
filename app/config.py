"""One settings object for the whole service (``TAMAS_`` environment variables or ``.env``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The development default is public (it is in this file): refused outside development.
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"


class PbxSettings(BaseModel):
    """One Asterisk to follow over AMI (a manager.conf user with read access)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    host: str
    port: int = Field(default=5038, ge=1, le=65535)
    username: str
    secret: SecretStr

    # Click-to-call: the agent's own device rings first (``Channel``), then the dialplan
    # ``originate_context`` dials ``dial_template`` (FreePBX/Issabel: from-internal). The
    # template's fields: {national} 09121234567, {e164} +989121234567, {e164_digits}
    # 989121234567, {international} 00989121234567; e.g. "9{national}" for a trunk prefix.
    # An internal extension is dialled as it is.
    originate_context: str = Field(default="from-internal", pattern=r"^[A-Za-z0-9_.-]{1,80}$")
    dial_template: str = "{national}"
    # How long the agent's phone rings before the attempt is given up.
    originate_ring_seconds: int = Field(default=30, ge=5, le=180)
    # Queues agents log in to and out of from the panel (QueueAdd/QueueRemove). Empty:
    # membership is static (queues.conf / the FreePBX queue page) and only pausing is shown.
    login_queues: list[str] = Field(default_factory=list)
    # The queue-member interface of an agent's device when it differs from the device, e.g.
    # "Local/{extension}@from-queue/n" on FreePBX. {device} and {extension} are filled in.
    member_interface: str = "{device}"
    # The PBX's own phones that are no agent's (a reception desk, a meeting room), beside the
    # agents' devices: together they are the internal devices, everything else a trunk. Both
    # empty: a device is internal when its name looks like an extension (PJSIP/1001).
    internal_devices: list[str] = Field(default_factory=list)
    # Recordings: the PBX's own recording folder, stripped from the paths it reports to find
    # the file under Tamas's recordings root (the spool mounted or synced there).
    spool_prefix: str = "/var/spool/asterisk/monitor/"
    # The token the PBX presents to Tamas's /pbx/ endpoints: pushing finished recordings,
    # the caller lookup and the tracking-code lookup of its dialplan. Unset: they refuse it.
    token: SecretStr | None = None

    @field_validator("dial_template")
    @classmethod
    def _dial_template(cls, value: str) -> str:
        fields = {"national": "0", "e164": "+0", "e164_digits": "0", "international": "00"}
        try:
            dialled = value.format(**fields)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"dial_template {value!r}: unknown field {exc}") from None
        if not dialled or any(c not in "0123456789+*#" for c in dialled):
            raise ValueError("dial_template may hold only digits, * # + and the fields")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TAMAS_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    environment: Literal["development", "production", "test"] = "development"
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)

    # PostgreSQL. Unset: an embedded server (pgserver) in ``data_dir``/pgdata.
    database_url: SecretStr | None = None
    data_dir: Path = Path("var")
    pgdata: Path | None = None
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_echo: bool = False
    run_migrations_on_start: bool = True

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "info"
    # "json": every log line (uvicorn's and the access log too) a JSON object with time,
    # level, logger, message, request_id and pbx; for production log collectors.
    log_format: Literal["text", "json"] = "text"
    # Set: GET /metrics needs "Authorization: Bearer <this>" (unset: open, like /healthz).
    metrics_token: SecretStr | None = None
    # On SIGTERM: how long the listeners may take to store the events already received.
    shutdown_drain_seconds: float = Field(default=10.0, ge=0, le=300)

    # The PBXes to follow, as JSON: [{"id": "main", "host": "10.0.0.5", "port": 5038,
    # "username": "tamas", "secret": "..."}]. Ids must be unique: every call carries one.
    pbxes: list[PbxSettings] = Field(default_factory=list)

    # The AMI listener when the database is unreachable: the calls whose events it holds
    # in memory until it is back (each call's events coalesced), at most. Once full, it
    # stops reading the PBX and, with the database back, reconnects and resyncs (the calls
    # that began and ended in between are not logged: see the README, "Reliability").
    ami_buffer_calls: int = Field(default=5000, ge=10, le=1_000_000)
    # Events read from the PBX but not tracked yet, at most: beyond it the listener stops
    # reading the socket until the consumer catches up (TCP backpressure).
    ami_queue_events: int = Field(default=20000, ge=100, le=1_000_000)
    # Reconnecting to a PBX: the first wait, doubled at each failure up to the longest.
    ami_reconnect_first_seconds: float = Field(default=1.0, gt=0, le=60)
    ami_reconnect_most_seconds: float = Field(default=60.0, gt=0, le=600)

    default_region: str = "IR"
    # City code for local landlines typed without one (e.g. 21 for Tehran); unset: refused.
    default_area_code: str | None = Field(default=None, pattern=r"^0?\d{1,4}$")
    token_ttl_hours: float = Field(default=12.0, gt=0, le=24 * 90)
    # Failed sign-ins: the first few are free, then each one doubles the wait.
    login_free_failures: int = Field(default=5, ge=1)
    # Per client address: higher, since a whole call center may sit behind one NAT address.
    login_free_failures_per_address: int = Field(default=30, ge=1)
    login_max_delay_seconds: int = Field(default=900, ge=1)
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (uvicorn's
    # --forwarded-allow-ips: addresses or networks, comma-separated; "*" trusts everyone, which
    # lets any client pick the address its failed sign-ins are counted under).
    forwarded_allow_ips: str = "127.0.0.1"
    # The service is reached over HTTPS (directly or through the proxy): responses carry
    # Strict-Transport-Security so browsers never fall back to plain HTTP.
    https: bool = False
    # Browser origins allowed to call the API from their own pages (CORS), as JSON:
    # ["https://crm.example.com"]. Empty: closed, only the panel served by Tamas itself.
    cors_origins: list[str] = Field(default_factory=list)
    # Delete audit-log entries older than this many days (0: keep them all).
    audit_retention_days: int = Field(default=0, ge=0)

    # Click-to-call rules. Numbers starting with a denied prefix (E.164, e.g. "+98935" or a
    # whole country) are refused, as are premium-rate numbers (where the numbering plan in
    # phonenumbers marks them) and foreign numbers unless allowed.
    dial_deny_prefixes: list[str] = Field(default_factory=list)
    dial_block_premium: bool = True
    dial_allow_international: bool = False
    # Click-to-calls one user may start per minute.
    originate_per_minute: int = Field(default=6, ge=1, le=600)
    # Pause reasons offered to agents (sent to the PBX as QueuePause Reason).
    pause_reasons: list[str] = Field(
        default_factory=lambda: ["lunch", "break", "training", "meeting", "after-call work"]
    )
    # After-call work: seconds an agent stays paused after each call (0: off).
    wrapup_seconds: int = Field(default=0, ge=0, le=3600)
    # How often the agents' devices (which devices are internal, not trunks) are read again.
    device_refresh_seconds: float = Field(default=30.0, ge=1, le=3600)

    # Recordings. The root holds the PBX's recordings (its spool mounted or synced there, or
    # pushed by the PBX); unset: data_dir/recordings.
    recordings_root: Path | None = None
    # Glob patterns (under the root) to find a call's recording when the PBX named none, e.g.
    # "{Y}/{m}/{d}/*-{uniqueid}.*" (FreePBX). Fields: {uniqueid} {linkedid} {Y} {m} {d}.
    recording_patterns: list[str] = Field(default_factory=list)
    # A recording not there yet is looked for again, waiting 10 s, 20 s, 40 s... (at most an
    # hour between tries), this many times before it is called missing.
    recording_attempts: int = Field(default=12, ge=1, le=100)
    # Delete recordings of calls older than this many days (0: keep); per queue if listed.
    recording_retention_days: int = Field(default=0, ge=0)
    recording_retention_by_queue: dict[str, int] = Field(default_factory=dict)
    recording_upload_max_mb: int = Field(default=200, ge=1, le=4096)
    # The player's <audio src>: a signed address of the audio, good this many seconds (the
    # player asks for another when one expires mid-listen).
    recording_url_ttl_seconds: int = Field(default=300, ge=5, le=86400)
    # Local copies of recordings (converted for browsers, downloaded from a bucket): pruned
    # every recordings_cache_prune_seconds, those unused for recordings_cache_max_age_hours
    # and then the least recently used above recordings_cache_max_mb in all.
    recordings_cache_max_mb: int = Field(default=2048, ge=1, le=1 << 22)
    recordings_cache_max_age_hours: float = Field(default=24.0, gt=0, le=24 * 365)
    recordings_cache_prune_seconds: float = Field(default=600.0, ge=1, le=86400)
    # Request bodies: a JSON request may be at most this many bytes; a customer CSV import
    # (the whole upload) at most import_max_bytes. Larger ones are refused with 413.
    max_request_bytes: int = Field(default=1 << 20, ge=1024, le=1 << 30)
    import_max_bytes: int = Field(default=50 << 20, ge=1024, le=1 << 34)
    # Set: recordings live in this S3-compatible bucket (the "s3" extra) instead of the root,
    # under the prefix; the endpoint for MinIO, Ceph, ArvanCloud... (unset: AWS). Credentials
    # come from boto3's usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE,
    # ~/.aws/credentials, an instance role), never from Tamas's settings.
    recordings_s3_bucket: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$"
    )
    recordings_s3_prefix: str = Field(default="", max_length=512)
    recordings_s3_endpoint_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    recordings_s3_region: str | None = Field(default=None, pattern=r"^[a-z0-9-]{1,64}$")

    # Tracking codes: issue one for every answered inbound call (agents can always issue one).
    tracking_auto_issue: bool = True
    # What agents pick for a call.
    dispositions: list[str] = Field(
        default_factory=lambda: [
            "sale",
            "support",
            "complaint",
            "information",
            "wrong number",
            "other",
        ]
    )
    # Reports, history dates and "today" are in this time zone.
    time_zone: str = "Asia/Tehran"

    # A support contract ending within this many days shows as "expiring soon".
    contract_expiring_days: int = Field(default=30, ge=1, le=365)

    @field_validator("default_region")
    @classmethod
    def _region_upper(cls, value: str) -> str:
        import phonenumbers

        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {value!r} (use an ISO code such as IR)")
        return region

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.environment != "development":
            key = self.secret_key.get_secret_value()
            if key == DEV_SECRET_KEY or len(key) < 32:
                raise ValueError(
                    "TAMAS_SECRET_KEY must be set to a private random value of at least 32 "
                    "characters outside development (for example: "
                    'python -c "import secrets; print(secrets.token_urlsafe(48))")'
                )
        return self

    @field_validator("cors_origins")
    @classmethod
    def _cors_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin == "*" or not origin.startswith(("http://", "https://")):
                raise ValueError(
                    f"CORS origin {origin!r}: name each origin as scheme://host[:port]"
                )
            if origin.rstrip("/").count("/") > 2:
                raise ValueError(f"CORS origin {origin!r}: an origin has no path")
        return [o.rstrip("/") for o in value]

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Tehran)") from None
        return value

    @field_validator("dial_deny_prefixes")
    @classmethod
    def _deny_prefixes(cls, value: list[str]) -> list[str]:
        for prefix in value:
            if not prefix.startswith("+") or not prefix[1:].isdigit():
                raise ValueError(f"deny prefix {prefix!r} must be + and digits (E.164)")
        return value

    @field_validator("pbxes")
    @classmethod
    def _unique_pbx_ids(cls, value: list[PbxSettings]) -> list[PbxSettings]:
        ids = [p.id for p in value]
        if len(ids) != len(set(ids)):
            raise ValueError("every PBX needs its own id")
        return value

    @property
    def recordings_dir(self) -> Path:
        return (
            self.recordings_root
            if self.recordings_root is not None
            else self.data_dir / "recordings"
        )

    @property
    def pgdata_dir(self) -> Path:
        return self.pgdata if self.pgdata is not None else self.data_dir / "pgdata"


@lru_cache
def get_settings() -> Settings:
    return Settings()
