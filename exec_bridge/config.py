"""Settings of the exec bridge, read from environment variables."""

from __future__ import annotations

import shlex

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


def split_command(command: str) -> list[str]:
    """The argument vector of a command line, split as a POSIX shell would (no expansion)."""
    try:
        argv = shlex.split(command)
    except ValueError as error:
        raise ValueError(f"cannot be split into arguments: {error}") from error
    if not argv:
        raise ValueError("names no program")
    return argv


class Settings(BaseSettings):
    """Every setting; each field is read from the env var of its upper-case name."""

    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, env_ignore_empty=True, frozen=True
    )

    exec_command: str
    """The command line to run, split with shlex and run without a shell."""
    exec_timeout_seconds: float = Field(default=60, gt=0)
    """The longest one run of the command may take; then its whole process group is killed."""
    exec_max_output_bytes: int = Field(default=20 * MIB, ge=1)
    """The most the command may print on stdout; past it the run is killed and fails."""
    cache_seconds: float = Field(default=300, ge=0)
    """How long the result of a run is reused before the command is run again."""
    host: str = Field(default="127.0.0.1", min_length=1)
    """Interface the HTTP server binds to."""
    port: int = Field(default=8083, ge=1, le=65535)
    """TCP port the HTTP server listens on."""
    plugin_token: SecretStr | None = None
    """When set, every /v1 request must carry `Authorization: Bearer <token>`."""
    max_page_size: int = Field(default=500, ge=1, le=10000)
    """The largest page of events served."""
    log_level: str = Field(default="INFO", pattern=r"(?i)^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    """Level of the service's log output."""

    @field_validator("exec_command")
    @classmethod
    def _splits(cls, command: str) -> str:
        split_command(command)
        return command

    @property
    def argv(self) -> list[str]:
        """The command's argument vector."""
        return split_command(self.exec_command)
