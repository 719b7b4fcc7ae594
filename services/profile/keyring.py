"""Per-customer data keys, kept wrapped in a key store apart from the archive.

Every customer (a data subject) has one 256-bit data key that seals its personal fields, its
contacts and its history. The key is stored only wrapped by the key provider (Vault transit
or the local key file), and only in the key store: a database of its own, never in the
archive's tables, so a backup of the archive holds ciphertext without any key. Erasing a
customer destroys its wrapped key (crypto-shredding): every copy of its ciphertext, in the
archive, its replicas or its backups, becomes noise.
"""

import logging
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from cachetools import TTLCache
from sqlalchemy import Integer, LargeBinary, String, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import Database, UTCDateTime
from services.common.keys import DecryptionFailed, KeyProvider, KeySettings, key_version_of, open_provider

log = logging.getLogger(__name__)
# Unwrapped keys kept in memory: enough for a busy working set, short enough that a key
# destroyed through another replica does not linger.
CACHE_SIZE = 50_000
CACHE_SECONDS = 300.0


class KeystoreBase(DeclarativeBase):
    """The key store's own metadata (a separate database from the archive)."""


class SubjectKey(KeystoreBase):
    __tablename__ = "subject_keys"

    subject_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    key_version: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rewrapped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ShreddedSubject(KeystoreBase):
    """Subjects whose key was destroyed: replayed after restoring a key-store backup."""

    __tablename__ = "shredded_subjects"

    subject_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    shredded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KeyDestroyed(DecryptionFailed):
    """The subject's data key no longer exists: its data was erased."""


def context_of(subject_id: str) -> str:
    """The key-provider context binding a wrapped key to its customer."""
    return f"customer:{subject_id}"


def keystore_url(explicit: str, data_dir: Path) -> str:
    """The key store's URL: the configured one, or a private SQLite file beside the key file."""
    if explicit:
        return explicit
    folder = data_dir / "keys"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    path = folder / "subject-keys.db"
    path.touch(mode=0o600, exist_ok=True)
    return f"sqlite:///{path.resolve()}"


class Keyring:
    """Creates, opens, rewraps and destroys customers' data keys."""

    def __init__(self, provider: KeyProvider, url: str) -> None:
        self.provider = provider
        self.db = Database(url, service="profile_keystore", pool_size=5)
        # One table, owned here alone; created in place rather than through the archive's
        # migrations, which must never touch this database.
        KeystoreBase.metadata.create_all(self.db.engine)
        self._cache: TTLCache[str, bytes] = TTLCache(maxsize=CACHE_SIZE, ttl=CACHE_SECONDS)
        self._lock = threading.Lock()
        self._index_keys: dict[str, bytes] = {}

    def key(self, subject_id: str) -> bytes:
        """The subject's data key; KeyDestroyed when it was erased or never had one."""
        with self._lock:
            cached = self._cache.get(subject_id)
        if cached is not None:
            return cached
        return self.prefetch([subject_id])[subject_id]

    def prefetch(self, subject_ids: Iterable[str], *, missing_ok: bool = False) -> dict[str, bytes]:
        """Data keys of several subjects with one key-store read.

        A subject without a key raises KeyDestroyed, or with missing_ok is left out of the result.
        """
        wanted = set(subject_ids)
        found: dict[str, bytes] = {}
        with self._lock:
            for subject in list(wanted):
                if (cached := self._cache.get(subject)) is not None:
                    found[subject] = cached
                    wanted.discard(subject)
        if wanted:
            with self.db.session_scope(readonly=True) as session:
                rows = {
                    r.subject_id: r.wrapped
                    for r in session.scalars(select(SubjectKey).where(SubjectKey.subject_id.in_(wanted)))
                }
            for subject in wanted:
                if subject not in rows and missing_ok:
                    continue
                if subject not in rows:
                    raise KeyDestroyed(f"customer {subject} has no data key: it was erased (or never stored)")
                found[subject] = self._remember(
                    subject, self.provider.unwrap(rows[subject], context_of(subject))
                )
        return found

    def index_key(self, purpose: str) -> bytes:
        """The blind-index key of a purpose (cached: it never changes)."""
        key = self._index_keys.get(purpose)
        if key is None:
            key = self._index_keys[purpose] = self.provider.index_key(purpose)
        return key

    def ensure(self, subject_id: str) -> bytes:
        """The subject's data key, made and stored first if it has none yet."""
        try:
            return self.key(subject_id)
        except KeyDestroyed:
            pass
        with self.db.session_scope(readonly=True) as session:
            if session.get(ShreddedSubject, subject_id) is not None:
                raise KeyDestroyed(f"customer {subject_id} was erased; its ID is not reused")
        data_key = self.provider.generate_data_key(context_of(subject_id))
        try:
            # Committed before the archive's transaction: a key without a record is harmless,
            # a record without its key would be lost.
            with self.db.session_scope() as session:
                session.add(
                    SubjectKey(
                        subject_id=subject_id,
                        wrapped=data_key.wrapped,
                        key_version=data_key.version,
                        created_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            return self.key(subject_id)  # made by a concurrent writer
        return self._remember(subject_id, data_key.plaintext)

    def destroy(self, subject_id: str) -> bool:
        """Destroy the subject's data key for good; whether it had one."""
        with self.db.session_scope() as session:
            removed = session.execute(delete(SubjectKey).where(SubjectKey.subject_id == subject_id)).rowcount
            if session.get(ShreddedSubject, subject_id) is None:
                session.add(ShreddedSubject(subject_id=subject_id, shredded_at=datetime.now(UTC)))
        with self._lock:
            self._cache.pop(subject_id, None)
        log.info("data key destroyed", extra={"crm.customer.id": subject_id})
        return bool(removed)

    def is_destroyed(self, subject_id: str) -> bool:
        """Whether the subject's key was destroyed by an erasure."""
        with self.db.session_scope(readonly=True) as session:
            return session.get(ShreddedSubject, subject_id) is not None

    def rewrap(self, *, batch: int = 500) -> int:
        """Rewrap one batch of keys older than the provider's newest version; how many were moved."""
        latest = self.provider.latest_version()
        moved = 0
        with self.db.session_scope() as session:
            rows = session.scalars(
                select(SubjectKey)
                .where(SubjectKey.key_version < latest)
                .order_by(SubjectKey.subject_id)
                .limit(batch)
                # An erasure deleting one of these keys waits for this batch, never the reverse.
                .with_for_update(skip_locked=True)
            )
            for row in rows:
                row.wrapped = self.provider.rewrap(row.wrapped, context_of(row.subject_id))
                row.key_version = key_version_of(row.wrapped)
                row.rewrapped_at = datetime.now(UTC)
                moved += 1
        return moved

    def rewrap_all(self, *, batch: int = 500) -> Iterator[int]:
        """Rewrap in batches until no key is older than the newest version, yielding each count."""
        while moved := self.rewrap(batch=batch):
            yield moved

    def versions(self) -> dict[int, int]:
        """How many keys are wrapped under each key version (rotation progress)."""
        with self.db.session_scope(readonly=True) as session:
            rows = session.execute(
                select(SubjectKey.key_version, func.count()).group_by(SubjectKey.key_version)
            ).all()
        return {int(version): int(count) for version, count in rows}

    def ping(self) -> bool:
        """Whether the key store and the key provider answer."""
        return self.db.ping() and self.provider.health()

    def dispose(self) -> None:
        """Close the key store's connections."""
        self.db.dispose()

    def _remember(self, subject_id: str, key: bytes) -> bytes:
        with self._lock:
            self._cache[subject_id] = key
        return key


def open_keyring(settings: KeySettings, keystore: str) -> Keyring:
    """The keyring over the configured key provider and key store."""
    return Keyring(open_provider(settings), keystore)


def open_archive(url: str, keyring: Keyring) -> Database:
    """The archive's database, whose sessions seal and open personal data with `keyring`."""
    return Database(url, service="profile", session_info={"keyring": keyring})
