"""One settings object for the whole service (``TAMAS_`` environment variables or ``.env``)."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

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
    # Live supervision: the context the supervisor's phone is Originated into, whose
    # extensions listen/whisper/barge run ChanSpy on ${TAMAS_SPY_CHANNEL} (the [tamas-spy]
    # of asterisk-dev/etc/asterisk/extensions_tamas.conf).
    spy_context: str = Field(default="tamas-spy", pattern=r"^[A-Za-z0-9_.-]{1,80}$")
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


class SmsHttpSettings(BaseModel):
    """A provider spoken to over plain HTTP (Ghasedak, SMS.ir, Melipayamak...): where to
    send, how, and where its answer holds the message's id. In ``url``, ``headers`` and
    ``body`` the fields {number} (E.164 digits without +), {national} (09121234567), {e164}
    (+989121234567), {text}, {local_id} (the outbox's id: the same for every try of one
    message), {sender} and {api_key} are filled in; in a JSON body each is JSON-escaped."""

    url: str = Field(pattern=r"^https?://\S+$")
    method: Literal["POST", "GET", "PUT"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    # "json": the body template is JSON; "form": it is k=v&k=v, each value URL-encoded.
    body_format: Literal["json", "form"] = "json"
    body: str = ""
    # Where the answer's JSON has the provider's message id (dotted, list items by index:
    # "data.messageId", "entries.0.messageid"); "" when it gives none.
    id_path: str = ""
    # The answer is a success when this dotted path holds this value (besides a 2xx), e.g.
    # "status" = "1" for SMS.ir; empty: a 2xx is enough.
    ok_path: str = ""
    ok_value: str = ""
    api_key: SecretStr | None = None
    sender: str = ""
    # Whether the provider refuses a second message with the same {local_id} (then a try
    # whose answer was lost cannot send the text twice: see the README).
    deduplicates: bool = False


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
    # permessage-deflate on the panels' websockets. Off by default: a pop is a few hundred
    # bytes, and each compressed socket keeps its compressor's state (about 40 KiB of the 78
    # KiB an idle panel cost, see BENCHMARKS.md) and spends CPU on every message.
    ws_compression: bool = False
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
    # Sign-in to Tamas (an agent's panel open), kept as activity intervals: every instance
    # marks the agents whose panels it holds as seen this often, and an interval nobody has
    # seen for signin_grace_seconds ends when they were last seen (a reload or a move to
    # another instance within the grace is one interval).
    signin_seen_seconds: float = Field(default=60.0, gt=0, le=3600)
    signin_grace_seconds: float = Field(default=300.0, gt=0, le=86400)

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
    # Contract notices: contracts ending within this many months are listed for follow-up,
    # each made a task for the customer's owner (once), and the pop says "ends in N months".
    contract_notice_months: int = Field(default=6, ge=1, le=60)

    # Follow-ups. Callbacks: how many calls to try, and the minutes between them.
    callback_max_tries: int = Field(default=3, ge=1, le=20)
    callback_retry_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60)
    # How often each instance looks for reminders and callbacks falling due (and pops them:
    # exactly one instance claims each).
    followups_tick_seconds: float = Field(default=5.0, gt=0, le=300)
    # Case SLAs count wall-clock time unless office hours are set ("08:00-17:00", in
    # time_zone): then only those hours on working days count. The weekend (Iran: Friday;
    # add "thursday" for a two-day weekend) and holidays (ISO or Jalali dates) do not count.
    business_hours: str = Field(default="", pattern=r"^$|^\d{2}:\d{2}-\d{2}:\d{2}$")
    business_weekend: list[str] = Field(default_factory=lambda: ["friday"])
    business_holidays: list[str] = Field(default_factory=list)

    # SMS. "none": texts are still queued (so none is lost) but not sent until a provider
    # is set. "kavenegar": its REST API; "http": sms_http below (any other provider).
    sms_provider: Literal["none", "kavenegar", "http"] = "none"
    sms_kavenegar_api_key: SecretStr | None = None
    sms_kavenegar_sender: str = Field(default="", pattern=r"^[0-9]{0,20}$")
    # Tests point this at a local fake Kavenegar; leave it for the real one.
    sms_kavenegar_base_url: str = Field(
        default="https://api.kavenegar.com", pattern=r"^https?://\S+$"
    )
    sms_http: SmsHttpSettings | None = None
    # Which template of a trigger texts use.
    sms_language: Literal["fa", "en"] = "fa"
    # Tries of one message before it is "failed"; waits between them double from the first
    # to at most the longest.
    sms_max_attempts: int = Field(default=8, ge=1, le=50)
    sms_backoff_first_seconds: float = Field(default=30.0, gt=0, le=3600)
    sms_backoff_most_seconds: float = Field(default=3600.0, gt=0, le=86400)
    # How long a worker owns a message it claimed; one that died sending lets it go then.
    sms_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    sms_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    sms_batch: int = Field(default=100, ge=1, le=5000)
    sms_concurrency: int = Field(default=20, ge=1, le=500)
    sms_poll_seconds: float = Field(default=2.0, gt=0, le=300)
    # No texts in these hours (local time, time_zone), e.g. "22:00-08:00": queued until the
    # window opens. Empty: any time.
    sms_quiet_hours: str = Field(default="22:00-08:00", pattern=r"^$|^\d{2}:\d{2}-\d{2}:\d{2}$")
    # At most this many texts to one number in sms_rate_window_minutes (0: no limit); more
    # are cancelled (automatic ones) or refused (an agent's).
    sms_rate_per_number: int = Field(default=5, ge=0, le=1000)
    sms_rate_window_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    # Delivery reports: ask the provider (Kavenegar) about texts sent at least this long ago
    # and not yet delivered, for this long after sending. 0: only its callback is used.
    sms_status_poll_seconds: float = Field(default=60.0, ge=0, le=86400)
    sms_status_poll_hours: float = Field(default=24.0, gt=0, le=24 * 7)
    # The token a provider's delivery callback carries (?token=); unset: callbacks refused.
    sms_callback_token: SecretStr | None = None
    # The contract-expiring text goes this many days before the contract's last day.
    sms_contract_days_before: int = Field(default=7, ge=1, le=90)
    # Post-call surveys: the SMS link for answered calls that took no IVR survey, sent this
    # many minutes after the call (trigger "survey_link"); the link's address is
    # public_url/survey/<token> and is good for survey_link_days.
    public_url: str = Field(default="http://127.0.0.1:8000", pattern=r"^https?://\S+$")
    survey_link_delay_minutes: int = Field(default=10, ge=1, le=24 * 60)
    survey_link_days: int = Field(default=3, ge=1, le=30)

    # Webhooks (the endpoints are registered on the admin page): how long an endpoint may
    # take to answer, how many tries before a delivery is dead, and the waits between tries
    # (doubled each time from the first up to the longest, each with up to half of it
    # taken off at random so that a recovering endpoint is not hit by every instance at once).
    # Where deliveries run: "process" (a child process that `tamas serve` starts and keeps
    # running: their CPU is not taken from the event loop writing the screen-pops),
    # "inline" (in the serving process; the tests), "off" (none here: run `tamas webhooks`
    # yourself, on this machine or another).
    webhook_worker: Literal["process", "inline", "off"] = "process"
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    webhook_max_attempts: int = Field(default=8, ge=1, le=100)
    webhook_backoff_first_seconds: float = Field(default=5.0, gt=0, le=3600)
    webhook_backoff_most_seconds: float = Field(default=3600.0, gt=0, le=86400)
    # Deliveries in flight at once per instance (one per endpoint: each endpoint's are in order).
    webhook_concurrency: int = Field(default=16, ge=1, le=1000)
    # Events kept for the event stream's resumption (Last-Event-ID), in days.
    integration_events_retention_days: int = Field(default=7, ge=1, le=365)

    # Pop enrichment: an HTTP GET to the ERP/website asked for each pop's caller, its
    # answer's labelled fields shown on the pop and the customer card. The URL template's
    # fields: {number} (E.164), {customer_id}, {external_id} (empty when unknown). Unset: off.
    enrichment_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    # Headers sent with it, as JSON: {"Authorization": "Bearer ..."} (never logged).
    enrichment_headers: dict[str, SecretStr] = Field(default_factory=dict)
    # A pop never waits for it: an answer that comes within this budget is put on the pop
    # (an update of it when the pop went first), a later one is marked late.
    enrichment_budget_ms: int = Field(default=300, ge=10, le=10_000)
    # The slowest answer still taken (and shown when it arrives), and how long one is kept.
    enrichment_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    enrichment_ttl_seconds: float = Field(default=300.0, ge=0, le=86400)

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

    @field_validator("business_weekend")
    @classmethod
    def _weekend(cls, value: list[str]) -> list[str]:
        days = [d.strip().lower() for d in value]
        for day in days:
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r} (monday ... sunday)")
        return days

    @model_validator(mode="after")
    def _signin_grace(self) -> Settings:
        if self.signin_grace_seconds < 2 * self.signin_seen_seconds:
            # Otherwise a panel that is open would be taken for gone between two marks.
            raise ValueError("signin_grace_seconds must be at least twice signin_seen_seconds")
        return self

    @model_validator(mode="after")
    def _business_calendar(self) -> Settings:
        from app.followups.hours import BusinessHours

        BusinessHours.from_settings(self)  # a bad value is told at start, not at first use
        return self

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

    def today(self) -> date:
        """Today's date where the call center is (time_zone): the day a contract ends on, a
        report's "today". Not the UTC date, which is yesterday in Tehran until 03:30."""
        return datetime.now(ZoneInfo(self.time_zone)).date()

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
