"""Settings, read once in ``main()`` from the environment and ``.env``."""

from __future__ import annotations

import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from domain.activities import SignupRules
from domain.reminders import DIGEST_AT, DIGEST_WEEKDAY, QuietHours

SUPPORTED_LOCALES = ("ru", "uk", "en")
# The bot is asynchronous end to end: a synchronous driver would block it.
ASYNC_DRIVERS = frozenset({"sqlite+aiosqlite", "postgresql+asyncpg"})
OFFICIAL_API_URL = "https://api.telegram.org"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
# The playground's own: a bot that talks only to the embedded fake Bot API, with its own
# database, so that trying the bot out never touches a real one.
PLAYGROUND_TOKEN = "123456:PLAYGROUND"
PLAYGROUND_DATABASE_URL = "sqlite+aiosqlite:///data/playground.db"
# What Telegram accepts as a webhook's secret_token.
WEBHOOK_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
# Paths of the webhook server that are not the webhook.
SERVICE_PATHS = frozenset({"/healthz", "/metrics"})


class DatabaseSettings(BaseSettings):
    """The part of the settings that database commands need: they run without a bot token."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///data/bot.db"
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL, e.g. sqlite+aiosqlite:///data/bot.db") from None
        if url.drivername not in ASYNC_DRIVERS:
            known = ", ".join(sorted(ASYNC_DRIVERS))
            raise ValueError(f"the driver must be one of {known}")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level


class Settings(DatabaseSettings):
    bot_token: SecretStr
    telegram_api_url: str = OFFICIAL_API_URL
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    default_locale: str = "ru"
    consent_version: str = Field(default="2026-11-22.3", min_length=1, max_length=32)
    offer_window_hours: int = Field(default=12, ge=1, le=168)
    max_active_signups: int = Field(default=10, ge=1, le=100)
    max_concurrent_updates: int = Field(default=16, ge=1, le=1000)
    # The sender: 25 messages/s by default; Telegram allows about 30 for free, and up to 1000
    # with paid broadcasting (0.1 Stars per message).
    send_per_second: float | None = Field(default=None, gt=0, le=1000)
    allow_paid_broadcast: bool = False
    # Quiet hours in each center's time zone: only reminders that cannot wait go out then.
    quiet_hours_start: time = time(22, 0)
    quiet_hours_end: time = time(8, 0)
    # How long the process that sends and runs the jobs keeps that role without renewing it:
    # after a crash another process takes over this much later.
    worker_lease_seconds: float = Field(default=30.0, ge=1, le=600)
    # The weekly digest goes out on this ISO weekday (1 = Monday) at this time, in each
    # center's time zone.
    digest_weekday: int = Field(default=DIGEST_WEEKDAY, ge=1, le=7)
    digest_hour: time = DIGEST_AT
    # Dialog state in Redis, shared by every instance of the bot; unset: in this process.
    redis_url: str | None = None

    # Webhook mode: when WEBHOOK_URL is set, Telegram calls it with each update instead of
    # being polled. The server listens on WEBHOOK_HOST:WEBHOOK_PORT (behind a reverse proxy
    # that terminates TLS) at WEBHOOK_PATH, by default the path of WEBHOOK_URL.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = Field(default=None, validate_default=True)
    webhook_host: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_path: str = ""
    # Prometheus metrics (and /healthz) on a server of their own; off unless METRICS_PORT is
    # set. In webhook mode the webhook server serves them too.
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)  # 0: any free port

    @property
    def webhook_listen_path(self) -> str:
        """The path the webhook server answers updates at."""
        if self.webhook_path:
            return self.webhook_path
        return urlsplit(self.webhook_url or "").path or "/"

    def quiet_hours(self) -> QuietHours:
        return QuietHours(self.quiet_hours_start, self.quiet_hours_end)

    def signup_rules(self) -> SignupRules:
        return SignupRules(
            offer_window=timedelta(hours=self.offer_window_hours),
            max_active_signups=self.max_active_signups,
        )

    @model_validator(mode="after")
    def _rate_within_limits(self) -> Settings:
        ceiling = 1000 if self.allow_paid_broadcast else 30
        if self.send_per_second is not None and self.send_per_second > ceiling:
            raise ValueError(
                "SEND_PER_SECOND above 30 needs ALLOW_PAID_BROADCAST=true (at most 1000)"
            )
        return self

    @field_validator("webhook_url", "webhook_secret", "metrics_port", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # "WEBHOOK_URL=" in .env switches webhook mode off rather than failing.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        # Telegram calls only https URLs; a local Bot API server calls plain http too.
        official = info.data.get("telegram_api_url", OFFICIAL_API_URL) == OFFICIAL_API_URL
        schemes = ("https://",) if official else ("https://", "http://")
        parts = urlsplit(value)
        if not value.startswith(schemes) or not parts.hostname:
            raise ValueError(
                "must be the public https:// URL of the bot's webhook"
                if official
                else "must be the http:// or https:// URL of the bot's webhook"
            )
        if parts.path in SERVICE_PATHS:
            raise ValueError(f"the path {parts.path} is taken by the bot's own endpoint")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Without a secret anyone who learns the URL could feed the bot made-up updates.
        shape = "1 to 256 characters A-Z, a-z, 0-9, _ and -"
        if value is None:
            if info.data.get("webhook_url"):
                raise ValueError(f"required when WEBHOOK_URL is set: {shape}")
            return None
        if not WEBHOOK_SECRET_RE.fullmatch(value.get_secret_value()):
            raise ValueError(f"must be {shape}")
        return value

    @field_validator("webhook_path")
    @classmethod
    def _webhook_path(cls, value: str) -> str:
        if value and (not value.startswith("/") or value in SERVICE_PATHS):
            raise ValueError("a path starting with /, other than /healthz and /metrics")
        return value

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        # BotFather tokens look like "123456789:AA..."; catching a pasted typo here beats a
        # 401 from Telegram after start-up.
        bot_id, _, secret = value.get_secret_value().partition(":")
        if not (bot_id.isdigit() and secret):
            raise ValueError("expected the form 123456789:ABC... from @BotFather")
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(f"one of {', '.join(SUPPORTED_LOCALES)}")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(REDIS_SCHEMES):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value.strip()

    @field_validator("telegram_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.strip():
            return OFFICIAL_API_URL
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class PlaygroundSettings(Settings):
    """The settings of ``python -m bot playground``, which needs no token: it is given the
    made-up one and the playground database, and reads the rest as the bot does."""

    # Where the web chat and the fake Bot API listen, on 127.0.0.1; 0 picks a free port.
    playground_port: int = Field(default=8080, ge=0, le=65535)


class _TokenOnly(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: str = ""


def bot_token_given() -> bool:
    """Whether BOT_TOKEN is set (to anything: a malformed one is reported, not ignored)."""
    return bool(_TokenOnly().bot_token.strip())


def sqlite_path(database_url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    prefix, sep, rest = database_url.partition(":///")
    if not sep or not prefix.startswith("sqlite") or rest in ("", ":memory:"):
        return None
    return Path(rest.split("?", 1)[0])
