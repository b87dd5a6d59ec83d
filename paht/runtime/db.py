"""Database engines per service: a SQLite file in the embedded run, a PostgreSQL schema in production."""
from __future__ import annotations

from pathlib import Path

from datetime import datetime, timezone

from sqlalchemy import DateTime, Engine, create_engine, event, text
from sqlalchemy.orm import sessionmaker
from sqlalchemy.types import TypeDecorator

from paht.runtime.settings import Settings


class UtcDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC in Python, on PostgreSQL and on SQLite (which drops zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        # PostgreSQL answers in the session's time zone (+07:00 on a server set to Asia/Ho_Chi_Minh).
        return value.astimezone(timezone.utc)


def schema_for(settings: Settings, service: str) -> str | None:
    """Return the PostgreSQL schema of a service, or None on SQLite."""
    if not settings.database_url:
        return None
    return f"{settings.db_schema_prefix}{service}"


def url_for(settings: Settings, service: str) -> str:
    """Return the SQLAlchemy URL a service uses."""
    if settings.database_url:
        url = settings.database_url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url
    folder = Path(settings.data) / "db"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / f'{service}.sqlite3').resolve()}"


def make_engine(settings: Settings, service: str) -> Engine:
    """Create the engine of a service; on PostgreSQL its schema is the search_path."""
    url = url_for(settings, service)
    if url.startswith("sqlite"):
        # hide_parameters: personal data must never reach logs through an error message
        engine = create_engine(url, hide_parameters=True, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every SQLite run
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # an acknowledged report survives a crash
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # take the write lock up front: no deadlocked upgrades
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        # Let "begin" above issue BEGIN itself instead of pysqlite's implicit one.
        @event.listens_for(engine, "connect", insert=True)
        def _no_implicit_begin(dbapi_conn, _record):
            dbapi_conn.isolation_level = None

        return engine
    schema = schema_for(settings, service)
    return create_engine(
        url,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"options": f"-csearch_path={schema}"},
    )


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False)


def ensure_schema(engine: Engine, schema: str | None) -> None:
    """Create the service's PostgreSQL schema if missing (no-op on SQLite)."""
    if schema is None:
        return
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))


def ping(engine: Engine) -> bool:
    """Return True when the database answers and is migrated (the outbox exists)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM outbox WHERE 1 = 0"))
        return True
    except Exception:  # health checks report, they never raise
        return False
