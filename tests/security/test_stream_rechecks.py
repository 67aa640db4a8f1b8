"""An open stream re-reads its sign-in every WINS_STREAM_RECHECK_SECONDS (wins.events.access.StreamAccess). A
chain's display boards are many devices: their re-checks are gathered into a few database rounds per period, and
a revoked or re-tokened board is still found out within the period. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.seed import Seeded
from wins.auth import Principal, resolve_token
from wins.config import Settings
from wins.db import Database
from wins.devices.models import DeviceKind
from wins.devices.service import create_device, revoke_device, rotate_token
from wins.events.access import StreamAccess

BOARDS = 40
STREAMS_PER_BOARD = 3


@pytest.fixture
def boards(settings: Settings, seeded: Seeded) -> list[str]:
    db = Database(settings)
    tokens = []
    with db.session() as session:
        for i in range(BOARDS):
            tokens.append(create_device(session, name=f"board {i}", kind=DeviceKind.display, actor=None)[1])
    db.dispose()
    return tokens


def signed_in(db: Database, settings: Settings, tokens: list[str]) -> list[Principal]:
    with db.session(write=False) as session:
        return [
            resolve_token(session, token, secret_key=settings.effective_secret_key, max_age=3600) for token in tokens
        ]


async def at_once(access: StreamAccess, principals: list[Principal]) -> list[bool]:
    return await asyncio.wait_for(asyncio.gather(*(access.still_valid(p) for p in principals)), 30)


def test_many_boards_rechecks_take_a_few_rounds_and_still_find_a_revoked_one(
    settings: Settings, boards: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(settings)
    access = StreamAccess(db, settings.model_copy(update={"stream_recheck_seconds": 4.0}))
    principals = signed_in(db, settings, boards)
    now = [1000.0]
    monkeypatch.setattr("wins.events.access.time.monotonic", lambda: now[0])

    async def every_stream_asks(spread: float) -> list[bool]:
        """Each board's streams ask in turn over `spread` seconds, as their re-check timers come due."""
        answers = []
        for i, principal in enumerate(principals * STREAMS_PER_BOARD):
            now[0] += spread / (BOARDS * STREAMS_PER_BOARD)
            answers.append(await access.still_valid(principal))
            if i % 7 == 0:  # some streams ask at the same moment as others
                answers.extend(await asyncio.gather(*(access.still_valid(p) for p in principals[:5])))
        return answers

    # The boards' streams open at once (a restart): the first question is read alone, all others in one round.
    everyone = principals * STREAMS_PER_BOARD
    assert all(asyncio.run(at_once(access, everyone)))
    assert access.database_checks == 2  # 120 questions about 40 boards (was one round per board)

    # A period later, the streams ask again, spread over the period as their timers are: every answer has run
    # out, and the boards whose answers run out together are read together.
    now[0] += 4.0
    before = access.database_checks
    assert all(asyncio.run(every_stream_asks(4.0)))
    assert 1 <= access.database_checks - before <= 6

    # Board 3 is revoked and board 4 gets a new token: both are found out within one period, no other is.
    with db.session() as session:
        revoke_device(session, principals[3].device.id, actor=None)  # type: ignore[union-attr]
        rotate_token(session, principals[4].device.id, actor=None)  # type: ignore[union-attr]
    now[0] += 2.0 + 0.001  # half a period: every cached answer has run out
    answers = asyncio.run(at_once(access, principals))
    assert [i for i, ok in enumerate(answers) if not ok] == [3, 4]
    db.dispose()


def test_a_fresh_check_after_a_sign_in_ended_is_not_served_from_the_cache(
    settings: Settings, boards: list[str]
) -> None:
    db = Database(settings)
    access = StreamAccess(db, settings)
    principals = signed_in(db, settings, boards[:2])
    assert asyncio.run(access.still_valid(principals[0])) is True
    with db.session() as session:
        revoke_device(session, principals[0].device.id, actor=None)  # type: ignore[union-attr]
    assert asyncio.run(access.still_valid(principals[0])) is True  # cached: the auth.ended event is what says
    assert asyncio.run(access.still_valid(principals[0], fresh=True)) is False
    assert asyncio.run(access.still_valid(principals[1])) is True
    db.dispose()
