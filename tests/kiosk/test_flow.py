"""The kiosk's screen flow: one table, one guarded way to change the screen."""

from __future__ import annotations

import logging

import pytest

from wins_kiosk.flow import ALLOWED, ScreenFlow
from wins_kiosk.model import Screen


def test_every_screen_has_a_row_and_every_screen_is_reachable() -> None:
    assert set(ALLOWED) == set(Screen)
    reachable = {Screen.UNAVAILABLE}
    frontier = [Screen.UNAVAILABLE]
    while frontier:
        for nxt in ALLOWED[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(Screen)


def test_every_screen_can_get_back_to_start_or_unavailable() -> None:
    for screen, targets in ALLOWED.items():
        if screen != Screen.UNAVAILABLE:
            assert Screen.UNAVAILABLE in targets, screen
        if screen != Screen.START:
            assert Screen.START in targets, screen


def test_a_change_out_of_turn_is_refused_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    flow = ScreenFlow(Screen.OPERATOR)
    with caplog.at_level(logging.WARNING, logger="wins_kiosk.flow"):
        assert not flow.go(Screen.RESULT)  # a late ticket answer must not pull the operator out of the menu
    assert flow.screen == Screen.OPERATOR
    assert "operator -> result refused" in caplog.text
    assert flow.go(Screen.OPERATOR)  # staying put is always fine
    assert flow.go(Screen.START)
    now: Screen = flow.screen  # (a fresh read: mypy would keep the narrowing from the assert above)
    assert now == Screen.START
