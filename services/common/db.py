"""Database engine and unit-of-work handling, for SQLite (embedded) and PostgreSQL."""

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from services.common import metrics, telemetry


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front so two writers never deadlock on upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """One database: engines, sessions, and the unit-of-work scope."""

    def __init__(
        self, url: str, *, service: str, pool_size: int = 10, session_info: dict[str, Any] | None = None
    ) -> None:
        self.url = url
        # SQLite has one writer at a time, and a writer that finds the lock taken polls for it,
        # sleeping up to 100 ms between tries: the lock then sits idle while writers sleep. In
        # one process, writers queue on a lock of ours instead and go the moment it is free.
        self._write_lock: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if url.startswith("sqlite"):
            self.engine = _sqlite_engine(url, immediate=True)
            self._read_engine = _sqlite_engine(url, immediate=False)
            self._write_lock = threading.RLock()
        else:
            self.engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
            self._read_engine = self.engine
        metrics.register_pool(service, self.engine)
        telemetry.instrument_sqlalchemy({self.engine, self._read_engine})
        # session_info: collaborators every session carries (e.g. the profile's keyring).
        self._writer = sessionmaker(self.engine, expire_on_commit=False, info=session_info)
        self._reader = sessionmaker(self._read_engine, expire_on_commit=False, info=session_info)

    @contextmanager
    def session_scope(self, *, readonly: bool = False) -> Iterator[Session]:
        """One unit of work: commits once at the end (unless readonly), rolls back on error, closes."""
        with contextlib.nullcontext() if readonly else self._write_lock:
            session = (self._reader if readonly else self._writer)()
            try:
                yield session
                if not readonly:
                    session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    def ping(self) -> bool:
        """Whether the database answers."""
        try:
            with self._read_engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:  # noqa: BLE001 - readiness only reports
            return False

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        self._read_engine.dispose()
