"""The one settings object, read from the environment and validated at start."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from email.headerregistry import Address
from email.utils import parseaddr
from functools import lru_cache
from urllib.parse import parse_qs, unquote, urlsplit


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    use_tls: bool  #: implicit TLS (smtps://)
    start_tls: bool  #: STARTTLS upgrade on a plain connection (?starttls=1)
    username: str | None
    password: str | None = field(repr=False)

    @classmethod
    def parse(cls, url: str) -> SmtpSettings:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise SettingsError("SMTP_URL", "scheme must be smtp:// or smtps://")
        if not parts.hostname:
            raise SettingsError("SMTP_URL", "a host is required, e.g. smtp://mail.example.org:587")
        try:
            port = parts.port
        except ValueError as exc:
            raise SettingsError("SMTP_URL", "port must be a number from 1 to 65535") from exc
        query = parse_qs(parts.query)
        starttls = query.get("starttls", ["0"])[-1].lower() in ("1", "true", "yes", "on")
        use_tls = parts.scheme == "smtps"
        if use_tls and starttls:
            raise SettingsError("SMTP_URL", "smtps:// already uses TLS; drop ?starttls=1")
        return cls(
            host=parts.hostname,
            port=port or (465 if use_tls else 25),
            use_tls=use_tls,
            start_tls=starttls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


@dataclass(frozen=True, slots=True)
class VolumeLimits:
    """How much one event may make the service send: services take it from the settings."""

    #: occurrences a recurrence rule may produce in one day (BYHOUR x BYMINUTE x BYSECOND)
    per_day: int = 4
    #: occurrences a recurrence rule may produce within the reminder planning horizon
    occurrences: int = 1000
    #: reminder rows (reminders x occurrences in the horizon x invitees) planned for one event
    reminder_rows: int = 100_000


#: the limits as the settings default them (for callers without settings: scripts, tests)
DEFAULT_VOLUME = VolumeLimits()


@lru_cache(maxsize=32)  # read on every write of an event: made once, not per request
def _volume(per_day: int, occurrences: int, reminder_rows: int) -> VolumeLimits:
    return VolumeLimits(per_day=per_day, occurrences=occurrences, reminder_rows=reminder_rows)


@lru_cache(maxsize=32)
def _host(url: str) -> str:
    return urlsplit(url).hostname or "localhost"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `count` requests per `seconds` (a fixed window), e.g. RATE_LIMIT_...=30/5m."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, variable: str, raw: str) -> RateLimit | None:
        """`<count>/<seconds>`, the window optionally in s, m or h (`30/5m`); `off` disables."""
        text = raw.strip().lower()
        if text in ("off", "0"):
            return None
        match = re.fullmatch(r"(\d{1,9})\s*/\s*(\d{1,7})\s*([smh]?)", text)
        if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
            raise SettingsError(variable, f"{raw!r} is not <count>/<window>, e.g. 30/5m, or off")
        seconds = int(match.group(2)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(3)]
        if seconds > 7 * 86400:
            raise SettingsError(variable, "the window must be at most 7 days")
        return cls(count=int(match.group(1)), seconds=seconds)


def parse_networks(variable: str, raw: str) -> tuple[str, ...]:
    """A comma-separated list of addresses or networks (`10.0.0.0/8, ::1`), normalized."""
    out: list[str] = []
    for item in raw.split(","):
        if item.strip():
            try:
                out.append(str(ipaddress.ip_network(item.strip(), strict=False)))
            except ValueError as exc:
                raise SettingsError(variable, f"{item.strip()!r} is not an IP address") from exc
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    redis_url: str
    smtp: SmtpSettings
    public_base_url: str
    secret_key: str = field(repr=False)
    mail_from: str
    admin_token: str | None = field(repr=False)
    #: ORGANIZER of every invitation: where calendar clients send their iTIP REPLY. Each
    #: invitee's copy carries its own address, plus-addressed (`rsvp+<token>@…`) or with the
    #: token where `{token}` stands (`r-{token}@replies.example.org`)
    reply_address: str = ""
    #: a reply at the plain address is applied when its DKIM signature verifies for the
    #: attendee's domain and From is the attendee (otherwise it is held for the organizer)
    inbound_verify_dkim: bool = False
    #: bearer token of POST /inbound/email (mail providers' inbound hooks); None: disabled
    inbound_token: str | None = field(default=None, repr=False)
    #: only set by `events-svc dev`: the folder where the mail catcher keeps .eml files
    dev_mail_dir: str | None = None
    max_body_bytes: int = 1024 * 1024
    #: delay before the first retry of a message after a transient failure; doubles each time
    send_retry_first: float = 15.0
    #: a message still failing transiently this long after it was queued is marked failed
    send_give_up_after: float = 24 * 3600.0
    #: a claimed message whose lease was not renewed this long is taken over by another
    #: worker (a live worker renews its leases every second; a dead one is noticed from its
    #: heartbeat within seconds, so this is only the fallback while Redis cannot tell)
    send_lease: float = 60.0
    #: the API's connect and statement timeout: a database that is down, restarting or frozen
    #: gets a 503 within this long instead of a hanging request
    db_timeout: float = 2.0
    #: connect and command timeout of every Redis connection (API and workers)
    redis_timeout: float = 2.0
    #: how often the worker's cron sweep re-enqueues queued messages (divides 60)
    sweep_interval: int = 10
    #: a queued message is re-enqueued by the sweep once it has waited this long
    sweep_grace: float = 60.0
    #: open SMTP connections per worker, reused across messages
    smtp_pool_size: int = 4
    smtp_timeout: float = 30.0
    #: on SIGTERM/SIGINT a worker takes no new job and gives the running ones this long to
    #: finish, so a deploy never cuts a message between the SMTP reply and its record
    worker_stop_grace: float = 60.0
    #: an agenda change reaches invitees this long after the first edit, with every edit made
    #: meanwhile in one message
    agenda_update_delay: float = 300.0
    #: how often subscribed calendars are asked to refresh (REFRESH-INTERVAL, X-PUBLISHED-TTL)
    feed_refresh_seconds: int = 3600
    #: a webhook POST (connect, send, answer) is abandoned and retried after this long
    webhook_timeout: float = 10.0
    #: delay before the first retry of a webhook delivery; doubles each time (at most 1 h)
    webhook_retry_first: float = 10.0
    #: a delivery is marked failed after this many attempts ...
    webhook_max_attempts: int = 30
    #: ... or when its next attempt would come this long after it was emitted
    webhook_give_up_after: float = 24 * 3600.0
    #: deliver webhooks to loopback, private and other non-public addresses too (development
    #: only: `events-svc dev` turns it on); off, such destinations are refused (SSRF)
    webhook_allow_private: bool = False
    #: recurrence rules producing more a day or within the horizon are refused (422)
    max_occurrences_per_day: int = 4
    max_occurrences: int = 1000
    #: an event whose reminders would make more rows than this is refused (422)
    max_reminder_rows_per_event: int = 100_000

    @property
    def volume(self) -> VolumeLimits:
        return _volume(
            self.max_occurrences_per_day, self.max_occurrences, self.max_reminder_rows_per_event
        )

    #: failed API key / admin token / inbound token checks per client address; over it,
    #: every credential from that address answers 429 until the window ends
    rate_limit_auth_failures: RateLimit | None = RateLimit(30, 300)
    #: answers posted through one RSVP link
    rate_limit_rsvp_token: RateLimit | None = RateLimit(20, 3600)
    #: RSVP answers posted, and RSVP pages asked with an unknown link, per client address
    rate_limit_rsvp_address: RateLimit | None = RateLimit(600, 600)
    #: POST /inbound/email per client address (a mail provider's hook)
    rate_limit_inbound: RateLimit | None = RateLimit(600, 60)
    #: public certificate look-ups per client address
    rate_limit_certificates: RateLimit | None = RateLimit(60, 60)
    #: messages one organization's events may queue per clock hour (reminders excepted);
    #: the rest wait for the next hours, never dropped; 0: no cap
    rate_limit_org_messages_per_hour: int = 100_000
    #: messages all workers together hand to the SMTP relay per second (a token bucket in
    #: Redis, shared fairly by the organizations with mail waiting); 0: no cap (the default)
    send_rate_per_second: float = 0.0
    #: messages the bucket may release at once after an idle spell (default: one second's)
    send_rate_burst: int = 0
    #: further caps per clock hour and per UTC day (relays count those too); 0: none
    send_rate_per_hour: int = 0
    send_rate_per_day: int = 0
    #: console sign-in links asked per client address, and per e-mail address asked for
    rate_limit_sign_in_address: RateLimit | None = RateLimit(20, 600)
    rate_limit_sign_in_email: RateLimit | None = RateLimit(5, 900)
    #: public self-registrations per client address, and per e-mail address registered
    rate_limit_registration_address: RateLimit | None = RateLimit(30, 600)
    rate_limit_registration_email: RateLimit | None = RateLimit(5, 3600)
    #: an unconfirmed registration expires (and its link stops working) after this long
    registration_confirm_seconds: float = 48 * 3600.0
    #: a console session ends after this long without a request ...
    console_session_idle: float = 8 * 3600.0
    #: ... and this long after sign-in, however busy
    console_session_absolute: float = 7 * 86400.0
    #: proxies whose X-Forwarded-For is believed (addresses or networks); none by default,
    #: so the client address is the connection's peer
    trusted_proxies: tuple[str, ...] = ()
    # --- operations (README: Running in production) ---
    #: bearer token of GET /metrics; None: nobody can read it over the API
    metrics_token: str | None = field(default=None, repr=False)
    #: count metrics at all (off: every hook is a no-op; for comparing costs)
    metrics: bool = True
    #: a worker serves its own /metrics on this port (0: none)
    worker_metrics_port: int = 0
    #: json (one object per line) or text (`events-svc dev`)
    log_format: str = "json"
    #: PostgreSQL connections per API process / per worker process (see the connection budget)
    db_pool_size: int = 20
    worker_db_pool_size: int = 10
    #: an API key that passed is trusted this long per API process without a database look-up;
    #: a key revoked elsewhere keeps working at most this long in the other processes (0: off)
    api_key_cache_seconds: float = 5.0
    #: the retention job removes finished rows older than these many days (0: keeps them)
    retain_notifications_days: int = 180
    retain_webhook_deliveries_days: int = 30
    retain_held_replies_days: int = 90

    @property
    def organizer_email(self) -> str:
        """ORGANIZER where no invitation is at hand (public feeds, event files): the reply
        address, or MAIL_FROM when REPLY_ADDRESS is a template with `{token}`."""
        if "{token}" in self.reply_address:
            return self.mail_from
        return self.reply_address or self.mail_from

    @property
    def feed_refresh(self) -> timedelta:
        return timedelta(seconds=self.feed_refresh_seconds)

    @property
    def send_capped(self) -> bool:
        """Whether any send-rate cap is set (without one the sender asks Redis nothing more)."""
        return bool(self.send_rate_per_second or self.send_rate_per_hour or self.send_rate_per_day)

    @property
    def webhook_lease(self) -> float:
        """A delivery held by a worker that died is retried after SEND_LEASE_SECONDS, but
        never while the worker's own request could still be running."""
        return max(self.send_lease, 3 * self.webhook_timeout)

    @property
    def public_host(self) -> str:
        return _host(self.public_base_url)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise SettingsError(name, "is not set")
            return value

        database_url = required("DATABASE_URL")
        if urlsplit(database_url).scheme not in ("postgres", "postgresql"):
            raise SettingsError("DATABASE_URL", "must be a postgresql:// URL")
        check_database_url(database_url)
        redis_url = required("REDIS_URL")
        check_redis_url(redis_url)
        smtp = SmtpSettings.parse(env.get("SMTP_URL", "").strip() or "smtp://127.0.0.1:1025")

        public_base_url = (
            env.get("PUBLIC_BASE_URL", "").strip() or "http://127.0.0.1:8000"
        ).rstrip("/")
        public = urlsplit(public_base_url)
        if public.scheme not in ("http", "https") or not public.hostname:
            raise SettingsError("PUBLIC_BASE_URL", "must be an absolute http(s) URL")

        secret_key = required("SECRET_KEY")
        if len(secret_key) < 32:
            raise SettingsError("SECRET_KEY", "must be at least 32 characters")

        mail_from = env.get("MAIL_FROM", "").strip() or f"events@{public.hostname}"
        _name, address = parseaddr(mail_from)
        try:
            Address(addr_spec=address)
        except (ValueError, IndexError) as exc:
            raise SettingsError("MAIL_FROM", f"{mail_from!r} is not an e-mail address") from exc
        if "@" not in address or any(c in mail_from for c in "\r\n"):
            raise SettingsError("MAIL_FROM", f"{mail_from!r} is not an e-mail address")

        def address_of(name: str, value: str) -> str:
            _name, addr = parseaddr(value)
            try:
                Address(addr_spec=addr)
            except (ValueError, IndexError) as exc:
                raise SettingsError(name, f"{value!r} is not an e-mail address") from exc
            if "@" not in addr or any(c in value for c in "\r\n"):
                raise SettingsError(name, f"{value!r} is not an e-mail address")
            return addr

        reply_address = address_of("REPLY_ADDRESS", env.get("REPLY_ADDRESS", "").strip() or address)
        reply_local, _, reply_domain = reply_address.rpartition("@")
        if (
            reply_address.count("{token}") > 1
            or "{token}" in reply_domain
            or "{" in reply_address.replace("{token}", "")
            or "}" in reply_address.replace("{token}", "")
        ):
            raise SettingsError("REPLY_ADDRESS", "`{token}` may stand once, in the local part")
        # the 42-character token must fit in the 64 octets of a local part (RFC 5321)
        local_length = len(reply_local.replace("{token}", "")) + 42 + ("{token}" not in reply_local)
        if local_length > 64:
            raise SettingsError("REPLY_ADDRESS", "the local part is too long for the token")
        verify_dkim = env.get("INBOUND_VERIFY_DKIM", "").strip().lower()
        if verify_dkim not in ("", "0", "1", "true", "false", "yes", "no", "on", "off"):
            raise SettingsError("INBOUND_VERIFY_DKIM", "must be 1/0, true/false, yes/no or on/off")
        inbound_token = env.get("INBOUND_TOKEN", "").strip() or None
        if inbound_token is not None and len(inbound_token) < 16:
            raise SettingsError("INBOUND_TOKEN", "must be at least 16 characters")

        admin_token = env.get("ADMIN_TOKEN", "").strip() or None
        if admin_token is not None and len(admin_token) < 16:
            raise SettingsError("ADMIN_TOKEN", "must be at least 16 characters")

        def number(name: str, default: float, low: float, high: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError as exc:
                raise SettingsError(name, f"{raw!r} is not a number") from exc
            if not low <= value <= high:
                raise SettingsError(name, f"must be between {low:g} and {high:g}")
            return value

        sweep_interval = int(number("SWEEP_INTERVAL_SECONDS", 10, 1, 30))
        if 60 % sweep_interval:
            raise SettingsError("SWEEP_INTERVAL_SECONDS", "must divide 60 (1, 2, 5, 10, 15 ...)")

        allow_private = env.get("WEBHOOK_ALLOW_PRIVATE", "").strip().lower()
        if allow_private not in ("", "0", "1", "true", "false", "yes", "no", "on", "off"):
            raise SettingsError("WEBHOOK_ALLOW_PRIVATE", "must be 1/true/yes/on or 0/false/no/off")

        def rate(name: str, default: RateLimit | None) -> RateLimit | None:
            raw = env.get(name, "").strip()
            return RateLimit.parse(name, raw) if raw else default

        metrics_token = env.get("METRICS_TOKEN", "").strip() or None
        if metrics_token is not None and len(metrics_token) < 16:
            raise SettingsError("METRICS_TOKEN", "must be at least 16 characters")
        metrics_flag = env.get("METRICS", "").strip().lower()
        if metrics_flag not in ("", "0", "1", "true", "false", "yes", "no", "on", "off"):
            raise SettingsError("METRICS", "must be 1/true/yes/on or 0/false/no/off")
        log_format = env.get("LOG_FORMAT", "").strip().lower() or "json"
        if log_format not in ("json", "text"):
            raise SettingsError("LOG_FORMAT", "must be json or text")

        return cls(
            metrics_token=metrics_token,
            metrics=metrics_flag not in ("0", "false", "no", "off"),
            worker_metrics_port=int(number("WORKER_METRICS_PORT", 0, 0, 65535)),
            log_format=log_format,
            db_pool_size=int(number("DB_POOL_SIZE", 20, 1, 500)),
            worker_db_pool_size=int(number("WORKER_DB_POOL_SIZE", 10, 2, 500)),
            api_key_cache_seconds=number("API_KEY_CACHE_SECONDS", 5.0, 0, 60),
            retain_notifications_days=int(number("RETAIN_NOTIFICATIONS_DAYS", 180, 0, 36500)),
            retain_webhook_deliveries_days=int(
                number("RETAIN_WEBHOOK_DELIVERIES_DAYS", 30, 0, 36500)
            ),
            retain_held_replies_days=int(number("RETAIN_HELD_REPLIES_DAYS", 90, 0, 36500)),
            rate_limit_auth_failures=rate("RATE_LIMIT_AUTH_FAILURES", RateLimit(30, 300)),
            rate_limit_rsvp_token=rate("RATE_LIMIT_RSVP_TOKEN", RateLimit(20, 3600)),
            rate_limit_rsvp_address=rate("RATE_LIMIT_RSVP_ADDRESS", RateLimit(600, 600)),
            rate_limit_inbound=rate("RATE_LIMIT_INBOUND", RateLimit(600, 60)),
            rate_limit_certificates=rate("RATE_LIMIT_CERTIFICATES", RateLimit(60, 60)),
            rate_limit_org_messages_per_hour=int(
                number("RATE_LIMIT_ORG_MESSAGES_PER_HOUR", 100_000, 0, 100_000_000)
            ),
            send_rate_per_second=number("SEND_RATE_PER_SECOND", 0, 0, 1_000_000),
            send_rate_burst=int(number("SEND_RATE_BURST", 0, 0, 1_000_000)),
            send_rate_per_hour=int(number("SEND_RATE_PER_HOUR", 0, 0, 1_000_000_000)),
            send_rate_per_day=int(number("SEND_RATE_PER_DAY", 0, 0, 1_000_000_000)),
            rate_limit_sign_in_address=rate("RATE_LIMIT_SIGN_IN_ADDRESS", RateLimit(20, 600)),
            rate_limit_sign_in_email=rate("RATE_LIMIT_SIGN_IN_EMAIL", RateLimit(5, 900)),
            rate_limit_registration_address=rate(
                "RATE_LIMIT_REGISTRATION_ADDRESS", RateLimit(30, 600)
            ),
            rate_limit_registration_email=rate("RATE_LIMIT_REGISTRATION_EMAIL", RateLimit(5, 3600)),
            registration_confirm_seconds=number(
                "REGISTRATION_CONFIRM_SECONDS", 48 * 3600, 60, 30 * 86400
            ),
            console_session_idle=number("CONSOLE_SESSION_IDLE_SECONDS", 8 * 3600, 60, 30 * 86400),
            console_session_absolute=number(
                "CONSOLE_SESSION_ABSOLUTE_SECONDS", 7 * 86400, 300, 365 * 86400
            ),
            trusted_proxies=parse_networks("TRUSTED_PROXIES", env.get("TRUSTED_PROXIES", "")),
            send_retry_first=number("SEND_RETRY_FIRST_SECONDS", 15, 0.1, 30),
            send_give_up_after=number("SEND_GIVE_UP_AFTER_SECONDS", 24 * 3600, 1, 30 * 24 * 3600),
            send_lease=number("SEND_LEASE_SECONDS", 60, 5, 24 * 3600),
            db_timeout=number("DB_TIMEOUT_SECONDS", 2, 0.1, 600),
            redis_timeout=number("REDIS_TIMEOUT_SECONDS", 2, 0.1, 600),
            sweep_interval=sweep_interval,
            sweep_grace=number("SWEEP_GRACE_SECONDS", 60, 1, 3600),
            smtp_pool_size=int(number("SMTP_POOL_SIZE", 4, 1, 64)),
            smtp_timeout=number("SMTP_TIMEOUT_SECONDS", 30, 1, 600),
            worker_stop_grace=number("WORKER_STOP_GRACE_SECONDS", 60, 1, 3600),
            agenda_update_delay=number("AGENDA_UPDATE_DELAY_SECONDS", 300, 0, 7 * 86400),
            feed_refresh_seconds=int(number("FEED_REFRESH_SECONDS", 3600, 60, 7 * 86400)),
            webhook_timeout=number("WEBHOOK_TIMEOUT_SECONDS", 10, 1, 120),
            webhook_retry_first=number("WEBHOOK_RETRY_FIRST_SECONDS", 10, 0.1, 3600),
            webhook_max_attempts=int(number("WEBHOOK_MAX_ATTEMPTS", 30, 1, 1000)),
            webhook_give_up_after=number(
                "WEBHOOK_GIVE_UP_AFTER_SECONDS", 24 * 3600, 1, 30 * 24 * 3600
            ),
            webhook_allow_private=allow_private in ("1", "true", "yes", "on"),
            max_occurrences_per_day=int(number("MAX_OCCURRENCES_PER_DAY", 4, 1, 96)),
            max_occurrences=int(number("MAX_OCCURRENCES", 1000, 1, 100_000)),
            max_reminder_rows_per_event=int(
                number("MAX_REMINDER_ROWS_PER_EVENT", 100_000, 1, 10_000_000)
            ),
            database_url=database_url,
            redis_url=redis_url,
            smtp=smtp,
            public_base_url=public_base_url,
            secret_key=secret_key,
            mail_from=address,
            reply_address=reply_address,
            inbound_verify_dkim=verify_dkim in ("1", "true", "yes", "on"),
            inbound_token=inbound_token,
            admin_token=admin_token,
            dev_mail_dir=env.get("EVENTS_SVC_DEV_MAIL_DIR") or None,
        )


#: what asyncpg understands in DATABASE_URL's sslmode
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def check_database_url(url: str) -> None:
    """TLS to PostgreSQL is asked for in the URL (`?sslmode=require`, or `verify-full` with
    `sslrootcert=/path/ca.pem`): asyncpg reads both; a mode it does not know, or a root
    certificate that is not there, is refused here rather than at the first connection."""
    query = parse_qs(urlsplit(url).query)
    mode = query.get("sslmode", [""])[-1]
    if mode and mode not in SSL_MODES:
        raise SettingsError("DATABASE_URL", f"sslmode={mode} is not one of {', '.join(SSL_MODES)}")
    for name in ("sslrootcert", "sslcert", "sslkey"):
        path = query.get(name, [""])[-1]
        if path and not os.path.isfile(path):
            raise SettingsError("DATABASE_URL", f"{name}={path}: no such file")
    if mode in ("verify-ca", "verify-full") and not query.get("sslrootcert"):
        default = os.path.expanduser("~/.postgresql/root.crt")
        if not os.path.isfile(default):
            raise SettingsError(
                "DATABASE_URL",
                f"sslmode={mode} needs the server's CA: add sslrootcert=/path/ca.pem",
            )


def check_redis_url(url: str) -> None:
    """redis://, rediss:// (TLS; `?ssl_ca_certs=/path/ca.pem` for a private CA) or unix://.
    Sentinel URLs are refused with what to do instead."""
    parts = urlsplit(url)
    if "sentinel" in parts.scheme:
        raise SettingsError(
            "REDIS_URL",
            "Redis Sentinel is not supported: give the primary's address (a managed Redis's "
            "endpoint, or a proxy that follows failovers, e.g. HAProxy checking `role:master`); "
            "workers and the API ride out the failover's reconnect",
        )
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise SettingsError("REDIS_URL", "must be a redis://, rediss:// or unix:// URL")
    query = parse_qs(parts.query)
    ca = query.get("ssl_ca_certs", [""])[-1]
    if ca and parts.scheme != "rediss":
        raise SettingsError("REDIS_URL", "ssl_ca_certs needs a rediss:// URL")
    if ca and not os.path.isfile(ca):
        raise SettingsError("REDIS_URL", f"ssl_ca_certs={ca}: no such file")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings.from_env()
