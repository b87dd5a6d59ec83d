"""Database engines per service: a SQLite file in the embedded run, a PostgreSQL schema in production."""
from __future__ import annotations

import threading
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


READ_ONLY = "paht_read_only"  # execution option: this connection only reads (SQLite: a deferred BEGIN, no write lock)


class WriterGate:
    """One SQLite write transaction at a time in this process, handed from one writer to the next at once.

    SQLite lets one writer in; the others poll its busy handler, which sleeps between tries (up to 100 ms
    each), so under load most of a request's time was spent asleep. Writers of one engine queue here
    instead and enter when the previous one has committed or rolled back. Each service's database has
    one writing process in the embedded run; another process (a migration) still meets busy_timeout.
    """

    TIMEOUT_S = 30.0  # as busy_timeout: a writer that never ends is an error, not a hang

    def __init__(self):
        self._lock = threading.Lock()
        self._holder: int | None = None

    def enter(self, dbapi_connection) -> None:
        if not self._lock.acquire(timeout=self.TIMEOUT_S):
            raise TimeoutError("another write transaction of this service has held the database for 30 s")
        self._holder = id(dbapi_connection)

    def leave(self, dbapi_connection) -> None:
        if self._holder is not None and self._holder == id(dbapi_connection):
            self._holder = None
            self._lock.release()

    def wrap(self, dialect) -> None:
        """Leave the gate after the DBAPI commit or rollback itself (SQLAlchemy's events fire before it)."""
        commit, rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(connection):
            try:
                commit(connection)
            finally:
                self.leave(getattr(connection, "dbapi_connection", connection))

        def do_rollback(connection):
            try:
                rollback(connection)
            finally:
                self.leave(getattr(connection, "dbapi_connection", connection))

        dialect.do_commit, dialect.do_rollback = do_commit, do_rollback


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

        gate = WriterGate()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")  # a reader in WAL mode: it never waits for a writer, nor makes one wait
                return
            # take the write lock up front (no deadlocked upgrades), first this process's gate: writers queue on it and
            # are handed the lock at once, instead of polling SQLite's busy handler with sleeps of up to 100 ms
            raw = conn.connection.dbapi_connection
            gate.enter(raw)
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                gate.leave(raw)
                raise

        gate.wrap(engine.dialect)

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


def row_of(obj) -> dict:
    """The column values of a mapped domain object, by column name (for a Core INSERT of a new object)."""
    from sqlalchemy import inspect

    mapper = inspect(type(obj))
    return {prop.columns[0].name: getattr(obj, prop.key) for prop in mapper.column_attrs}


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
