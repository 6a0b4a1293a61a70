"""The PostgreSQL server a benchmark that needs one runs on, and its own named database there."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    """``DATABASE_URL`` when it names PostgreSQL, else the local server's ``test`` database."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else DEFAULT_URL


def fresh_database(name: str) -> str:
    """``name`` dropped (if present) and created empty on that server; returns its URL. It is kept after the
    run, for looking at."""
    import psycopg

    parts = urlsplit(server_url())
    scheme = "postgresql" if parts.scheme == "postgres" else parts.scheme
    with psycopg.connect(urlunsplit((scheme, parts.netloc, "/postgres", "", "")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))
