"""SQL that differs between the supported databases, in one place."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def insert_for(conn: Connection) -> Any:
    """The dialect's INSERT construct, which supports ON CONFLICT on SQLite and PostgreSQL."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
