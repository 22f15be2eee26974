"""Engine and sessions: SQLite in WAL mode on one machine, PostgreSQL at scale, the same models for both.

The API and every worker process open their own engine on `settings.database`; the tables are created on first use
(no migrations yet: the schema is versioned with the package). Nullable columns added to a model later are added to
an existing database on first use, so an upgraded service keeps its LASSO_HOME; anything else needs a migration.
"""

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from threading import Lock

from sqlalchemy import DateTime, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator


class Base(DeclarativeBase):
    pass


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, also on SQLite (which drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


_engines: dict[str, tuple[Engine, sessionmaker]] = {}
_lock = Lock()


def normalize_url(url: str) -> str:
    """postgresql:// and postgres:// mean psycopg 3 (the driver we ship)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers (API) never block the writer (worker)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _create_private(db: Path) -> None:
    """The SQLite file (webhook secrets in clear) is 0600 from its creation, in a 0700 folder; SQLite gives its WAL
    and shared-memory files the database's mode. An older, wider file is narrowed."""
    db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(db, os.O_WRONLY | os.O_CREAT, 0o600))
    with contextlib.suppress(OSError):  # not ours to change (another user's file): leave it as it is
        os.chmod(db, 0o600)


def get_sessionmaker(url: str) -> sessionmaker:
    """One engine per URL per process; creates the tables the first time."""
    url = normalize_url(url)
    with _lock:
        if url not in _engines:
            if url.startswith("sqlite"):
                db_path = make_url(url).database
                if db_path and db_path != ":memory:":
                    _create_private(Path(db_path))
                # a connection per concurrent request (the API's thread pool has 40 threads), plus the worker's
                engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, pool_size=20,
                                       max_overflow=40)
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
            from api import models  # noqa: F401  (registers the tables)

            Base.metadata.create_all(engine)
            _add_missing_columns(engine)
            _engines[url] = (engine, sessionmaker(engine, expire_on_commit=False))
        return _engines[url][1]


def _add_missing_columns(engine: Engine) -> None:
    """ALTER TABLE ADD COLUMN for nullable model columns an older database lacks (create_all skips existing tables).

    Several processes may start at once: one that loses the race finds the column there and carries on.
    """
    quote = engine.dialect.identifier_preparer.quote
    for table in Base.metadata.sorted_tables:
        have = {c["name"] for c in inspect(engine).get_columns(table.name)}
        for column in table.columns:
            if column.name in have or not column.nullable:
                continue
            ddl = (f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} "
                   f"{column.type.compile(engine.dialect)}")
            try:
                with engine.begin() as conn:
                    conn.execute(text(ddl))
            except DBAPIError:
                if column.name not in {c["name"] for c in inspect(engine).get_columns(table.name)}:
                    raise


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session committed on success and rolled back on error (workers and CLI; routes use `deps.SessionDep`)."""
    session = get_sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose_all() -> None:
    """Close pooled connections (after fork, and in tests)."""
    with _lock:
        for engine, _ in _engines.values():
            engine.dispose()
        _engines.clear()
