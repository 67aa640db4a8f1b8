"""What a WINS transaction notes about itself while it runs, kept in its Session's `info`.

Several modules coordinate through these notes (events, the event hub, the queue counts and the caches of
wins.tickets), so they have one home: the keys are private to this module and every reader and writer goes
through the helpers below, which say who sets each note and who consumes it.

| note           | set by                                   | read / cleared by                               |
| read-only      | Database's read sessions                 | the caches' and queue counts' commit listeners  |
| events written | every event write (ORM, Core or raw)     | the event hub's after-commit hook (wakes streams)|
| load neutral   | issuing (True), any other change (False) | the load cache's commit listener                |
| queue deltas   | the queue-count flush listener           | the queue-count commit / rollback listeners     |
| credentials    | a revocation (sign-out, password change, | the principal cache's after-commit hook         |
|   changed      |   deactivation, device revoked/rotated)  |   (wins.deps), which empties the cache          |
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol


class HasInfo(Protocol):
    """A transaction's notes: a Session, or a stand-in for a transaction made without one (raw SQLite)."""

    @property
    def info(self) -> dict[Any, Any]: ...


QueueDeltas = dict[tuple[int, date], list[int]]  # (service id, business day) -> [waiting, waiting priority]

_READ_ONLY = "wins_read_only"
_EVENTS_WRITTEN = "wins_events_written"
_LOAD_NEUTRAL = "wins_load_neutral"
_QUEUE_DELTAS = "wins_queue_deltas"
_CREDENTIALS_CHANGED = "wins_credentials_changed"


def read_only_info() -> dict[str, Any]:
    """The `info` a read-only session factory starts its sessions with."""
    return {_READ_ONLY: True}


def is_read_only(tx: HasInfo) -> bool:
    return bool(tx.info.get(_READ_ONLY))


# -- events --------------------------------------------------------------------------------------------


def note_events_written(tx: HasInfo) -> None:
    tx.info[_EVENTS_WRITTEN] = True


def events_written(tx: HasInfo) -> bool:
    return bool(tx.info.get(_EVENTS_WRITTEN))


def take_events_written(tx: HasInfo) -> bool:
    """Whether the committed transaction wrote events; clears the note (the hub wakes its streams once)."""
    return bool(tx.info.pop(_EVENTS_WRITTEN, False))


def forget_events_written(tx: HasInfo) -> None:
    """The transaction rolled back: its events never happened."""
    tx.info.pop(_EVENTS_WRITTEN, None)


# -- sign-ins -------------------------------------------------------------------------------------------


def note_credentials_changed(tx: HasInfo) -> None:
    """This transaction revokes sign-ins or device tokens: once it commits, this process stops serving cached
    principals at once (other processes within `wins.deps.PRINCIPAL_CACHE_SECONDS`)."""
    tx.info[_CREDENTIALS_CHANGED] = True


def credentials_changed(tx: HasInfo) -> bool:
    return bool(tx.info.get(_CREDENTIALS_CHANGED))


# -- what a transaction changed, for wins.tickets' caches and queue counts -----------------------------------


def note_load_neutral(tx: HasInfo) -> None:
    """This transaction only issues tickets (so far): it changes no service's load. Ignored once anything else
    was written or decided."""
    if not events_written(tx) and _LOAD_NEUTRAL not in tx.info:
        tx.info[_LOAD_NEUTRAL] = True


def note_load_changed(tx: HasInfo) -> None:
    """This transaction changes a service's load (a call, a finish, a transfer …)."""
    tx.info[_LOAD_NEUTRAL] = False


def take_load_neutral(tx: HasInfo) -> bool:
    """Whether the committed transaction was load-neutral; clears the note."""
    return bool(tx.info.pop(_LOAD_NEUTRAL, False))


def queue_deltas(tx: HasInfo) -> QueueDeltas:
    """The queue-length changes this transaction has made so far (created empty on first use)."""
    deltas: QueueDeltas = tx.info.setdefault(_QUEUE_DELTAS, {})
    return deltas


def take_queue_deltas(tx: HasInfo) -> QueueDeltas | None:
    """The queue-length changes to apply at commit (or to drop at rollback); clears the note."""
    deltas: QueueDeltas | None = tx.info.pop(_QUEUE_DELTAS, None)
    return deltas
