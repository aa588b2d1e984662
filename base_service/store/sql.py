"""SQL that differs between the supported databases, in one place."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite


def insert_for(dialect: str) -> Any:
    """The dialect's INSERT construct (by dialect name), which supports ON CONFLICT on SQLite
    and PostgreSQL."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert
