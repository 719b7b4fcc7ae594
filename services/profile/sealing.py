"""Personal attributes stored sealed: encrypted under their customer's data key, transparently.

A model declares its personal attributes as `Sealed()` and a `sealing()` method naming the
customer and the part of the record. Together they live in one AES-256-GCM envelope in the
row's `sealed` column, bound to that customer and part (`customer:C…#contact:<id>`), so a
ciphertext copied to another row does not open. Domain code reads and writes the attributes
as plain Python values: they are opened on first use and sealed again before each flush,
with the keyring the session carries in `session.info["keyring"]`.
"""

import json
from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, attributes, object_session

from services.common.keys import field_aad, open_, seal
from services.profile.keyring import Keyring, context_of

_PLAIN = "_crm_plain"
_CHANGED = "_crm_plain_changed"
# The keyring of the session that loaded a row, so it still opens once detached.
_KEYRING = "_crm_keyring"


class SealedRecord(Protocol):
    """A model with a `sealed` column and Sealed attributes."""

    sealed: str | None

    def sealing(self) -> tuple[str, str] | None:
        """The customer this row belongs to and the part of its record it is; None: nothing to seal."""
        ...


class Sealed:
    """A personal attribute kept in its row's sealed envelope.

    Assign a new value to change it (`contact.phones = [...]`): an in-place change of a list or
    dict is not seen, and would not be sealed.
    """

    def __init__(self, default: Callable[[], Any] = lambda: None) -> None:
        self.default = default
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        fields = dict(owner.__dict__.get("__sealed_fields__", {}))
        fields[name] = self.default
        owner.__sealed_fields__ = fields  # type: ignore[attr-defined]

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self
        return plain_values(obj)[self.name]

    def __set__(self, obj: Any, value: Any) -> None:
        plain_values(obj)[self.name] = value
        obj.__dict__[_CHANGED] = True
        if inspect(obj).persistent:
            attributes.flag_modified(obj, "sealed")


def keyring_of(session: Session) -> Keyring:
    """The keyring a profile session carries."""
    keyring = session.info.get("keyring")
    if keyring is None:
        raise RuntimeError("this session has no keyring: open the archive with a Keyring")
    return keyring


def plain_values(obj: Any) -> dict[str, Any]:
    """The opened personal attributes of a row (opened once, then kept on the instance)."""
    values = obj.__dict__.get(_PLAIN)
    if values is not None:
        return values
    fields: dict[str, Callable[[], Any]] = type(obj).__sealed_fields__
    sealed = obj.sealed
    values = {}
    if sealed is not None:
        session = object_session(obj)
        keyring = keyring_of(session) if session is not None else obj.__dict__.get(_KEYRING)
        if keyring is None:
            raise RuntimeError("a sealed row must be read through a session with a keyring")
        subject, part = obj.sealing()
        key = keyring.key(subject)
        values = json.loads(open_(sealed, key=key, aad=field_aad(context_of(subject), part)))
    for name, default in fields.items():
        values.setdefault(name, default())
    obj.__dict__[_PLAIN] = values
    return values


def seal_row(session: Session, obj: Any) -> None:
    """Encrypt a row's personal attributes into its sealed column (making the customer's key)."""
    sealing = obj.sealing()
    if sealing is None:
        return
    subject, part = sealing
    keyring = keyring_of(session)
    obj.__dict__[_KEYRING] = keyring
    key = keyring.ensure(subject)
    payload = json.dumps(plain_values(obj), ensure_ascii=False, separators=(",", ":"))
    obj.sealed = seal(payload, key=key, aad=field_aad(context_of(subject), part))
    obj.__dict__.pop(_CHANGED, None)


@event.listens_for(Session, "before_flush")
def _seal_changed(session: Session, _context: Any, _instances: Any) -> None:
    for obj in [*session.new, *session.dirty]:
        if hasattr(type(obj), "__sealed_fields__") and (obj in session.new or obj.__dict__.get(_CHANGED)):
            seal_row(session, obj)


def watch(cls: type) -> type:
    """Forget a mapped class's opened values whenever a row is (re)loaded from the database."""

    def forget(target: Any, *_args: Any) -> None:
        if target is None:  # already collected
            return
        target.__dict__.pop(_PLAIN, None)
        target.__dict__.pop(_CHANGED, None)

    @event.listens_for(cls, "load")
    def _on_load(target: Any, context: Any) -> None:
        forget(target)
        target.__dict__[_KEYRING] = context.session.info.get("keyring")

    @event.listens_for(cls, "refresh")
    def _on_refresh(target: Any, _context: Any, _attrs: Any) -> None:
        forget(target)

    @event.listens_for(cls, "expire")
    def _on_expire(target: Any, attrs: Any) -> None:
        if attrs is None or "sealed" in attrs:
            forget(target)

    return cls


# Plaintext columns of rows written before their personal data was sealed (revisions 0005 and
# 0006): table -> (key column, customer column, part, columns).
_LEGACY = {
    "customers": ("id", "id", "customer", ("address", "birthday", "notes")),
    "contacts": ("id", "customer_id", "contact:{}", ("name", "phones", "emails", "wechat")),
    "revisions": ("position", "customer_id", "revision:{}", ("changes", "snapshot")),
    "interactions": ("id", "customer_id", "interaction:{}", ("summary",)),
    "service_records": ("id", "customer_id", "service_record:{}", ("description",)),
}
_JSON_COLUMNS = {"phones", "emails", "changes", "snapshot"}


def seal_legacy_rows(engine: Any, keyring: Keyring, *, batch: int = 500) -> int:
    """Move values still in plaintext columns into their rows' sealed envelopes; how many rows."""
    total = 0
    for table_name, (key_column, subject_column, part, columns) in _LEGACY.items():
        table = sa.table(
            table_name,
            sa.column(key_column),
            sa.column(subject_column),
            sa.column("sealed", sa.Text),
            *(sa.column(c, sa.JSON(none_as_null=True) if c in _JSON_COLUMNS else sa.String) for c in columns),
        )
        while True:
            with engine.begin() as conn:
                rows = (
                    conn.execute(
                        sa.select(table)
                        .where(sa.or_(*(table.c[c].isnot(None) for c in columns)))
                        .limit(batch)
                    )
                    .mappings()
                    .all()
                )
                for row in rows:
                    subject = row[subject_column]
                    key = keyring.ensure(subject)
                    aad = field_aad(context_of(subject), part.format(row[key_column]))
                    # A row sealed by an earlier revision keeps what it holds; the columns add to it.
                    values = json.loads(open_(row["sealed"], key=key, aad=aad)) if row["sealed"] else {}
                    values |= {c: row[c] for c in columns if row[c] is not None}
                    payload = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
                    conn.execute(
                        sa.update(table)
                        .where(table.c[key_column] == row[key_column])
                        .values(sealed=seal(payload, key=key, aad=aad), **dict.fromkeys(columns))
                    )
            total += len(rows)
            if len(rows) < batch:
                break
    return total
