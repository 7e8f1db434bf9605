"""The bot's settings, read from the environment and ``.env`` (documented in ``.env.example``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from embeddings.config import env, load_env

DEFAULT_TELEGRAM_API = "https://api.telegram.org/bot"
_TOKEN_SHAPE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{30,100}$")


class SettingError(ValueError):
    """A setting is missing or malformed; the message names it and says what to do."""


@dataclass(frozen=True)
class AnswerSettings:
    fusion: str = "weighted"  # measured against "rrf" on CMRC: see README
    top_k: int = 3
    # "not found" below this estimated probability that the first excerpt answers;
    # None = the confidence model's own default (see bot/confidence.py and the README)
    min_confidence: float | None = None

    @classmethod
    def from_env(cls) -> "AnswerSettings":
        load_env()
        defaults = cls()
        return cls(
            fusion=env("FUSION") or defaults.fusion,
            top_k=_int("TOP_K", defaults.top_k),
            min_confidence=_probability("MIN_CONFIDENCE"),
        )


@dataclass(frozen=True)
class TelegramSettings:
    token: str
    api_base_url: str
    allowed_chats: frozenset[int]
    admins: frozenset[int]
    rate_limit_per_minute: int
    webhook_url: str
    webhook_listen: str
    webhook_port: int
    index_watch_seconds: float = 10.0  # how often a new build is looked for (0: never)
    webhook_secret: str = ""  # Telegram sends it with every webhook update; random per start when empty
    api_base_file_url: str = ""  # where files are downloaded; empty: derived from api_base_url
    max_upload_bytes: int = 20 * 1024 * 1024  # the largest document an admin may add

    @property
    def file_url(self) -> str:
        return self.api_base_file_url or self.api_base_url.replace("/bot", "/file/bot")

    @classmethod
    def from_env(cls) -> "TelegramSettings":
        load_env()
        token = env("TELEGRAM_BOT_TOKEN")
        if not token:
            raise SettingError(
                "TELEGRAM_BOT_TOKEN is not set: put the token from @BotFather in .env "
                "(see .env.example) or in the environment"
            )
        if not _TOKEN_SHAPE.match(token):
            raise SettingError(
                "TELEGRAM_BOT_TOKEN is malformed: expected <digits>:<35 or so letters> as given "
                "by @BotFather (the value is not shown here)"
            )
        return cls(
            token=token,
            api_base_url=env("TELEGRAM_API_BASE_URL") or DEFAULT_TELEGRAM_API,
            allowed_chats=_ids("TELEGRAM_ALLOWED_CHATS"),
            admins=_ids("TELEGRAM_ADMINS"),
            rate_limit_per_minute=_int("TELEGRAM_RATE_LIMIT_PER_MINUTE", 20),
            webhook_url=env("TELEGRAM_WEBHOOK_URL"),
            webhook_listen=env("TELEGRAM_WEBHOOK_LISTEN") or "0.0.0.0",
            webhook_port=_int("TELEGRAM_WEBHOOK_PORT", 8443),
            index_watch_seconds=_float("INDEX_WATCH_SECONDS", 10.0),
            webhook_secret=env("TELEGRAM_WEBHOOK_SECRET"),
            api_base_file_url=env("TELEGRAM_API_BASE_FILE_URL"),
            max_upload_bytes=int(_float("TELEGRAM_MAX_UPLOAD_MB", 20.0) * 1024 * 1024),
        )


def _ids(name: str) -> frozenset[int]:
    raw = env(name)
    try:
        return frozenset(int(part) for part in raw.replace(" ", "").split(",") if part)
    except ValueError:
        raise SettingError(f"{name}={raw!r}: expected comma-separated numeric ids") from None


def _number(name: str, default, kind=float):
    raw = env(name)
    try:
        return kind(raw) if raw else default
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise SettingError(f"{name}={raw!r}: expected {noun}") from None


def _int(name: str, default: int) -> int:
    return _number(name, default, int)


def _float(name: str, default: float) -> float:
    return _number(name, default, float)


def _probability(name: str) -> float | None:
    value = _float(name, None)
    if value is not None and not 0.0 <= value <= 1.0:
        raise SettingError(f"{name}={value!r}: expected a probability between 0 and 1")
    return value


def index_dir_from(argument: Path | None) -> Path:
    load_env()
    return argument or Path(env("INDEX_DIR") or "index")
