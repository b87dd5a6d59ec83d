"""Database engines per service: a SQLite file in the embedded run, a PostgreSQL schema in production."""
from __future__ import annotations

import functools
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import DateTime, Engine, String, Table, bindparam, create_engine, event, exc, inspect, text
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.orm import sessionmaker
from sqlalchemy.types import TypeDecorator

from paht.runtime.settings import Settings

try:
    import fcntl
except ImportError:  # pragma: no cover - no Windows build: one process per database file there
    fcntl = None
FILE_LOCKS = fcntl is not None  # whether several processes can share a SQLite file (PAHT_REPLICAS)


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


class Names(TypeDecorator):
    """A short list of names (account names, codes: no commas) as a tuple in Python, one comma-separated string in the
    database. For a few values read with their row; a list that is searched gets a table of its own."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return ",".join(value or ())

    def process_result_value(self, value, dialect):
        return tuple(v for v in (value or "").split(",") if v)


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


def reading(engine: Engine):
    """A connection that only reads (use as `with db.reading(engine) as conn:`): on SQLite it never queues at the
    writers' gate (WriterGate) nor makes a writer wait; a plain `engine.connect()` would take the write lock."""
    return engine.connect().execution_options(**{READ_ONLY: True})


class WriterGate:
    """One SQLite write transaction at a time, handed from one writer to the next at once, in this process and
    across the processes that share the file.

    SQLite lets one writer in; the others poll its busy handler, which sleeps between tries (up to 100 ms
    each), so under load most of a request's time was spent asleep. Writers of one engine queue on a lock
    in the process, and the one at the head then takes an exclusive lock on `<database>.writer-lock` (the
    kernel hands it to the next process waiting the moment it is let go): several processes of one service
    (`PAHT_REPLICAS`) write one after the other without polling. A process that dies lets go of it.
    """

    TIMEOUT_S = 30.0  # as busy_timeout: a writer that never ends is an error, not a hang

    def __init__(self, lock_file: Path | None = None):
        self._lock = threading.Lock()
        self._holder: int | None = None
        self._fd: int | None = None
        if lock_file is not None and FILE_LOCKS:
            self._fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)

    def enter(self, dbapi_connection) -> None:
        if not self._lock.acquire(timeout=self.TIMEOUT_S):
            raise TimeoutError("another write transaction of this service has held the database for 30 s")
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_EX)  # waits, without the GIL, for another process's writer
        except BaseException:
            self._lock.release()
            raise
        self._holder = id(dbapi_connection)

    def leave(self, dbapi_connection) -> None:
        if self._holder is not None and self._holder == id(dbapi_connection):
            self._holder = None
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
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


def lock_path(engine: Engine, name: str) -> Path:
    """`<database>.<name>-lock` beside a SQLite file: the writers' turn ("writer"), the relay's leadership ("relay")."""
    database = Path(engine.url.database)
    return database.with_name(f"{database.name}.{name}-lock")


def file_lock(engine: Engine, name: str):
    """Try to take `<database>.<name>-lock` for this process (SQLite files only): an open descriptor holding the lock,
    or None when another process holds it. The lock goes when the descriptor is closed or the process ends."""
    if not FILE_LOCKS or engine.dialect.name != "sqlite":
        return None
    fd = os.open(lock_path(engine, name), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


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

        gate = WriterGate(lock_path(engine, "writer"))

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
    engine = create_engine(
        url,
        hide_parameters=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # the service's name shows in pg_stat_activity and in PostgreSQL's logs: which service holds a lock or runs a query
        connect_args={"options": f"-csearch_path={schema}", "application_name": f"paht-{service}"},
    )
    _ping_when_idle(engine)
    return engine


IDLE_PING_S = 1.0  # a pooled PostgreSQL connection unused for longer is checked before it is handed out


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection with `SELECT 1` before use, but only when it sat idle for a while.

    SQLAlchemy's pool_pre_ping pings on every checkout: a round trip per transaction under load. A connection
    used a moment ago is almost surely alive; one idle for longer may have been cut (PostgreSQL restarted,
    a firewall's timeout), and is replaced before anyone uses it. A connection that breaks in between fails
    its one operation and the pool drops every connection of that age, as without any ping."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record):
        record.info["paht_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, record, _proxy):
        since = record.info.get("paht_idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_S:
            return
        try:
            cursor = dbapi_conn.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            # psycopg opened a transaction for it: end it, so that the connection is handed out idle (a caller may then
            # set its isolation level, which psycopg refuses inside a transaction)
            dbapi_conn.rollback()
        except Exception as error:  # the pool drops it and hands out another
            raise exc.DisconnectionError() from error


def row_of(obj) -> dict:
    """The column values of a mapped domain object, by column name (for a Core INSERT of a new object)."""
    return {column: getattr(obj, key) for column, key in _columns_of(type(obj))}


@functools.cache
def _columns_of(cls) -> tuple[tuple[str, str], ...]:
    """(column name, attribute name) of every column a mapped class has: read from its mapper once."""
    return tuple((prop.columns[0].name, prop.key) for prop in inspect(cls).column_attrs)


def session_factory(engine: Engine, read_only: bool = False) -> sessionmaker:
    """Sessions of a service; `read_only` ones only read (on SQLite a deferred BEGIN: they never queue at the writers'
    gate nor make a writer wait — a page read no longer takes its turn among the commits)."""
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


def ensure_schema(engine: Engine, schema: str | None) -> None:
    """Create the service's PostgreSQL schema if missing (no-op on SQLite)."""
    if schema is None:
        return
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))


def ping(engine: Engine) -> bool:
    """Return True when the database answers and is migrated (the outbox exists)."""
    try:
        with reading(engine) as conn:
            conn.execute(text("SELECT 1 FROM outbox WHERE 1 = 0"))
        return True
    except Exception:  # health checks report, they never raise
        return False


def among(bind, column, values):
    """`column IN values` with one query text whatever the number of values: on PostgreSQL `column = ANY(:array)` (one
    array parameter: psycopg prepares the statement once and PostgreSQL plans it once, where an IN list is a new text
    for every length), elsewhere IN. `bind`: the session or connection the statement runs on."""
    values = list(values)
    dialect = bind.get_bind().dialect.name if hasattr(bind, "get_bind") else bind.dialect.name
    if dialect == "postgresql" and values:
        from sqlalchemy import any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def set_many(session, table, key: str, value: str, changes: dict, **fixed) -> None:
    """Set `value` of many rows of `table`, found by `key` (and the `fixed` columns' values), in one statement: on
    PostgreSQL `UPDATE … FROM unnest(:keys, :values)` (one round trip, one statement to plan); elsewhere an executemany.
    `changes`: {key: new value}; both integers or strings as the columns are."""
    if not changes:
        return
    from sqlalchemy import bindparam

    if session.get_bind().dialect.name == "postgresql":
        keys, values = list(changes), list(changes.values())
        key_type = "bigint" if isinstance(keys[0], int) else "text"
        value_type = "bigint" if isinstance(values[0], int) else "text"
        where = " AND ".join([f"t.{key} = v.k", *(f"t.{c} = :fixed_{c}" for c in fixed)])
        session.execute(text(f"UPDATE {table.name} AS t SET {value} = v.v FROM unnest(CAST(:keys AS {key_type}[]), "
                             f"CAST(:values AS {value_type}[])) AS v(k, v) WHERE {where}"),
                        {"keys": keys, "values": values, **{f"fixed_{c}": x for c, x in fixed.items()}})
        return
    condition = [table.c[key] == bindparam("_k"), *(table.c[c] == x for c, x in fixed.items())]
    session.execute(table.update().where(*condition).values({value: bindparam("_v")}),
                    [{"_k": k, "_v": v} for k, v in changes.items()])


@functools.lru_cache(maxsize=256)
def upsert(table: Table, columns: tuple[str, ...], keys: tuple[str, ...], add: tuple[str, ...] = (), replace: tuple[str, ...] = (),
           returning: tuple[str, ...] = ()) -> TextClause:
    """`INSERT INTO table (columns) … ON CONFLICT (keys) DO UPDATE` — or DO NOTHING when neither `add` nor `replace` is
    given (no `keys` then: on any unique key) — the same text on PostgreSQL and SQLite: the columns in `add` are added to the stored values, those in
    `replace` replace them. Execute it with one dict (or a list of dicts) holding every one of `columns`.

    SQLAlchemy's own `insert().on_conflict_do_…()` has no cache key: it was compiled again at every execution (a sixth
    of publication's time while it applied a burst of submissions). This is built once per shape, with the table's
    column types on its parameters, so values are bound exactly as the ORM binds them."""
    q = '"{}"'.format
    sets = [f"{q(c)} = {q(table.name)}.{q(c)} + excluded.{q(c)}" for c in add] + [f"{q(c)} = excluded.{q(c)}" for c in replace]
    if sets and not keys:
        raise ValueError("an upsert that updates names the key it conflicts on")
    target = f"({', '.join(q(k) for k in keys)}) " if keys else ""  # none: DO NOTHING on any unique key
    sql = (f"INSERT INTO {q(table.name)} ({', '.join(q(c) for c in columns)}) VALUES ({', '.join(':' + c for c in columns)}) "
           f"ON CONFLICT {target}" + (f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING"))
    if returning:
        sql += " RETURNING " + ", ".join(q(c) for c in returning)
    return text(sql).bindparams(*[bindparam(c, type_=table.c[c].type) for c in columns])
