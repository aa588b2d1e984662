"""The base service's settings: one validated object, built once from the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from base_service.errors import ConfigError
from base_service.registry import PluginEntry, parse_plugin_urls


def _parse_plugins(value: object) -> object:
    if isinstance(value, str):
        try:
            return parse_plugin_urls(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
    return value


_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


class PluginOverride(BaseModel, extra="forbid"):
    """Per-plugin settings that win over the manifest and the global defaults."""

    interval_seconds: int | None = Field(default=None, ge=1)
    timeout_seconds: float | None = Field(default=None, gt=0)
    token: SecretStr | None = None
    token_file: Path | None = None

    @model_validator(mode="after")
    def _read_token_file(self) -> PluginOverride:
        # Docker/Kubernetes secrets arrive as files; read once, at start-up.
        if self.token_file is None:
            return self
        if self.token is not None:
            raise ValueError("give either token or token_file, not both")
        try:
            secret = self.token_file.read_text().strip()
        except OSError as exc:
            raise ValueError(f"token_file {self.token_file}: {exc.strerror}") from None
        if not secret:
            raise ValueError(f"token_file {self.token_file} is empty")
        self.token = SecretStr(secret)
        return self


@dataclass(frozen=True)
class PluginConfig:
    """Everything the base service knows about a plugin before contacting it."""

    plugin_id: str
    url: str
    interval_override: int | None
    read_timeout: float
    token: SecretStr | None


class Settings(BaseSettings):
    """Configuration, read only from environment variables (see the README's table)."""

    # Numbers must be finite: an "inf" timeout or lease would never end.
    model_config = SettingsConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    plugin_urls: Annotated[tuple[PluginEntry, ...], NoDecode, BeforeValidator(_parse_plugins)] = ()
    plugin_overrides: dict[str, PluginOverride] = Field(default_factory=dict)
    database_url: str = "sqlite+aiosqlite:///data/marquee.db"
    admin_token: SecretStr | None = None

    default_interval_seconds: int = Field(default=6 * 3600, ge=1)
    failure_backoff_seconds: int = Field(default=60, ge=1)
    max_concurrent_runs: int = Field(default=8, ge=1)
    scheduler_poll_seconds: float = Field(default=5.0, gt=0)
    lease_seconds: float = Field(default=30.0, ge=1)
    first_run_spread_seconds: float = Field(default=5.0, ge=0)

    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(default=30.0, gt=0)
    run_timeout_seconds: float = Field(default=600.0, gt=0)
    retry_attempts: int = Field(default=4, ge=1)
    retry_after_cap_seconds: float = Field(default=60.0, ge=0)
    max_response_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    page_size: int = Field(default=500, ge=1, le=10000)
    max_pages_per_run: int = Field(default=2000, ge=1)
    max_events_per_run: int = Field(default=500_000, ge=1)
    quarantine_max_ratio: float = Field(default=0.5, ge=0, le=1)
    shrink_guard_ratio: float = Field(default=0.5, ge=0, le=1)
    shrink_guard_min_events: int = Field(default=20, ge=0)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    stale_after_intervals: float = Field(default=3.0, gt=0)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()

    @field_validator("database_url")
    @classmethod
    def _async_database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "is not a database URL; e.g. sqlite+aiosqlite:///data/marquee.db or "
                "postgresql+asyncpg://user:password@host/db"
            ) from None
        if url.drivername not in _DRIVERS:
            raise ValueError(
                f"driver {url.drivername!r} is not supported; use one of {', '.join(_DRIVERS)}"
            )
        return value

    @field_validator("admin_token", mode="before")
    @classmethod
    def _empty_token_is_unset(cls, value: object) -> object:
        # compose passes `ADMIN_TOKEN: ${ADMIN_TOKEN:-}` as an empty string when unset.
        return None if value == "" else value

    @field_validator("plugin_overrides")
    @classmethod
    def _overrides_name_registered_plugins(
        cls, value: dict[str, PluginOverride], info: ValidationInfo
    ) -> dict[str, PluginOverride]:
        known = {entry.plugin_id for entry in info.data.get("plugin_urls", ())}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"names plugins not in PLUGIN_URLS: {', '.join(unknown)}")
        return value

    def plugins(self) -> list[PluginConfig]:
        """Return the registered plugins with their overrides applied."""
        configs = []
        for entry in self.plugin_urls:
            override = self.plugin_overrides.get(entry.plugin_id, PluginOverride())
            configs.append(
                PluginConfig(
                    plugin_id=entry.plugin_id,
                    url=entry.url,
                    interval_override=override.interval_seconds,
                    read_timeout=override.timeout_seconds or self.read_timeout_seconds,
                    token=override.token,
                )
            )
        return configs
