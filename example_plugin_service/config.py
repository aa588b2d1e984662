"""Settings of the example plugin service, read from environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The bundled demo venues, so the service shows something useful with no configuration.
SAMPLE_VENUES_FILE = Path(__file__).resolve().parent / "sample" / "venues.yaml"


class Settings(BaseSettings):
    """Every setting of the service; each field is read from the env var of its upper-case name."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, frozen=True)

    host: str = Field(default="127.0.0.1", min_length=1)
    """Interface the HTTP server binds to."""
    port: int = Field(default=8081, ge=1, le=65535)
    """TCP port the HTTP server listens on."""
    venues_file: Path = SAMPLE_VENUES_FILE
    """YAML file listing the venues and their feeds."""
    plugin_id: str = Field(
        default="ics-feeds", max_length=64, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
    )
    """The plugin's own identifier, reported in the manifest."""
    plugin_token: SecretStr | None = None
    """When set, every /v1 request must carry `Authorization: Bearer <token>`."""
    refresh_interval_seconds: int = Field(default=21600, ge=60, le=604800)
    """How often the base service is advised to read the plugin."""
    max_page_size: int = Field(default=500, ge=1, le=10000)
    """The largest page of events the plugin returns."""
    window_past_days: int = Field(default=1, ge=0, le=3660)
    """How many days before now events are still reported."""
    window_future_days: int = Field(default=400, ge=1, le=3660)
    """How many days ahead events are reported; over a year, so annual events always show."""
    cache_seconds: float = Field(default=300, ge=0)
    """How long a parsed feed is reused before it is read again."""
    feed_timeout_seconds: float = Field(default=10, gt=0)
    """The longest one feed download may take."""
    feed_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    """The largest feed accepted, in bytes."""
    log_level: str = Field(default="INFO", pattern=r"(?i)^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    """Level of the service's log output."""
