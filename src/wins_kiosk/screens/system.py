"""The in-between screens: issuing, temporarily unavailable, the operator PIN pad and menu."""

from __future__ import annotations

from functools import partial
from typing import Any

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from wins_kiosk.screens import theme
from wins_kiosk.screens.start import header
from wins_kiosk.screens.widgets import Panel, Text, Tile
from wins_kiosk.state import Kiosk


class IssuingScreen(BoxLayout):  # type: ignore[misc]
    @staticmethod
    def signature(kiosk: Kiosk) -> tuple[Any, ...]:
        return (kiosk.language, kiosk.font_scale)

    def __init__(self, kiosk: Kiosk, **kwargs: Any) -> None:
        super().__init__(orientation="vertical", padding=dp(48), **kwargs)
        self.add_widget(Text(kiosk.text("issuing"), size=theme.TITLE, scale=kiosk.font_scale, bold=True))


class PriorityScreen(BoxLayout):  # type: ignore[misc]
    """ "I need priority (…)": one big button per category the branch offers on kiosks, and Back."""

    @staticmethod
    def signature(kiosk: Kiosk) -> tuple[Any, ...]:
        return (kiosk.language, kiosk.font_scale, tuple(c.get("key") for c in kiosk.priority_categories))

    def __init__(self, kiosk: Kiosk, **kwargs: Any) -> None:
        super().__init__(orientation="vertical", padding=dp(32), spacing=dp(18), **kwargs)
        scale = kiosk.font_scale
        self.add_widget(header(kiosk, scale))
        self.add_widget(
            Text(
                kiosk.text("priority_title"),
                size=theme.HEADING,
                scale=scale,
                bold=True,
                size_hint_y=None,
                height=dp(70 * scale),
            )
        )
        grid = GridLayout(cols=1 if len(kiosk.priority_categories) <= 3 else 2, spacing=dp(18))
        for category in kiosk.priority_categories:
            key = str(category["key"])
            grid.add_widget(
                Tile(
                    kiosk.text("priority_choice", label=kiosk.priority_label(category)),
                    on_tap=partial(kiosk.choose_priority, key),
                    focus_key=f"priority:{key}",
                    size=theme.HEADING,
                    scale=scale,
                    bold=True,
                    background=theme.ACCENT,
                )
            )
        self.add_widget(grid)
        self.add_widget(
            Tile(
                kiosk.text("back"),
                on_tap=kiosk.cancel_priority,
                focus_key="back",
                size=theme.BODY,
                scale=min(scale, 1.2),
                size_hint_y=None,
                height=dp(84 * min(scale, 1.2)),
            )
        )


class UnavailableScreen(BoxLayout):  # type: ignore[misc]
    @staticmethod
    def signature(kiosk: Kiosk) -> tuple[Any, ...]:
        return (kiosk.language, kiosk.font_scale, kiosk.branch_name)

    def __init__(self, kiosk: Kiosk, **kwargs: Any) -> None:
        super().__init__(orientation="vertical", padding=dp(32), spacing=dp(24), **kwargs)
        scale = kiosk.font_scale
        self.add_widget(header(kiosk, scale))
        card = Panel(orientation="vertical", padding=dp(48), spacing=dp(16))
        card.add_widget(Widget(size_hint_y=0.3))
        card.add_widget(
            Text(kiosk.text("unavailable_title"), size=theme.TITLE * 1.3, scale=scale, bold=True, colour=theme.ACCENT)
        )
        card.add_widget(Text(kiosk.text("unavailable_body"), size=theme.HEADING, scale=scale))
        card.add_widget(Text(kiosk.text("unavailable_retrying"), size=theme.SMALL, scale=scale, colour=theme.MUTED))
        card.add_widget(Widget(size_hint_y=0.3))
        self.add_widget(card)


class PinScreen(BoxLayout):  # type: ignore[misc]
    @staticmethod
    def signature(kiosk: Kiosk) -> tuple[Any, ...]:
        return (kiosk.language, kiosk.operator.pin_entry, kiosk.operator.pin_error)

    def __init__(self, kiosk: Kiosk, **kwargs: Any) -> None:
        super().__init__(orientation="horizontal", padding=dp(40), spacing=dp(40), **kwargs)
        info = BoxLayout(orientation="vertical", spacing=dp(16))
        info.add_widget(Text(kiosk.text("operator_title"), size=theme.TITLE, bold=True))
        info.add_widget(Text(kiosk.text("operator_enter_pin"), size=theme.HEADING, colour=theme.MUTED))
        # Roboto has no "●"; DejaVuSans ships with Kivy and has it.
        dots = " ".join("●" * len(kiosk.operator.pin_entry)) or " "
        info.add_widget(Text(dots, size=theme.TITLE, colour=theme.ACCENT, font_name="DejaVuSans"))
        info.add_widget(
            Text(
                kiosk.text(kiosk.operator.pin_error) if kiosk.operator.pin_error else "",
                size=theme.BODY,
                colour=theme.DANGER,
            )
        )
        info.add_widget(
            Tile(kiosk.text("operator_cancel"), on_tap=kiosk.operator.close, size=theme.BODY, size_hint_y=0.6)
        )
        self.add_widget(info)
        pad = GridLayout(cols=3, spacing=dp(14), size_hint_x=1.1)
        for key in "123456789":
            pad.add_widget(Tile(key, on_tap=partial(kiosk.operator.digit, key), size=theme.TITLE, bold=True))
        pad.add_widget(Tile("⌫", on_tap=kiosk.operator.backspace, size=theme.TITLE, font_name="DejaVuSans"))
        pad.add_widget(Tile("0", on_tap=lambda: kiosk.operator.digit("0"), size=theme.TITLE, bold=True))
        pad.add_widget(
            Tile(
                kiosk.text("operator_ok"),
                on_tap=kiosk.operator.submit,
                size=theme.HEADING,
                bold=True,
                background=theme.SUCCESS,
            )
        )
        self.add_widget(pad)


class OperatorScreen(BoxLayout):  # type: ignore[misc]
    @staticmethod
    def signature(kiosk: Kiosk) -> tuple[Any, ...]:
        return (
            kiosk.language,
            kiosk.fullscreen,
            kiosk.printer_state,
            kiosk.operator.message,
            kiosk.online,
            kiosk.printer.pending_count(),
        )

    def __init__(self, kiosk: Kiosk, **kwargs: Any) -> None:
        super().__init__(orientation="vertical", padding=dp(40), spacing=dp(16), **kwargs)
        self.add_widget(Text(kiosk.text("operator_title"), size=theme.TITLE, bold=True, size_hint_y=0.5))
        lines = [
            kiosk.text("operator_online" if kiosk.online else "operator_offline")
            + f"  ({kiosk.config.server_url})"
            + (f"  — {kiosk.text('operator_token_refused')}" if kiosk.connection.unauthorized else ""),
            kiosk.text("operator_printer", state=kiosk.printer_state_text())
            + (f"  ({kiosk.config.printer_url})" if kiosk.config.printer_url else ""),
            kiosk.text("operator_spool", count=kiosk.printer.pending_count()),
            kiosk.operator.message or kiosk.printer_message,
        ]
        for line in lines:
            self.add_widget(Text(line, size=theme.SMALL, colour=theme.MUTED, halign="left", size_hint_y=0.35))
        buttons = GridLayout(cols=2, spacing=dp(16))
        fullscreen = "operator_exit_fullscreen" if kiosk.fullscreen else "operator_enter_fullscreen"
        buttons.add_widget(Tile(kiosk.text(fullscreen), on_tap=kiosk.operator.toggle_fullscreen, size=theme.BODY))
        buttons.add_widget(Tile(kiosk.text("operator_print_test"), on_tap=kiosk.operator.print_test, size=theme.BODY))
        buttons.add_widget(
            Tile(kiosk.text("operator_quit"), on_tap=kiosk.operator.quit, size=theme.BODY, background=theme.DANGER)
        )
        buttons.add_widget(
            Tile(kiosk.text("operator_cancel"), on_tap=kiosk.operator.close, size=theme.BODY, background=theme.SUCCESS)
        )
        self.add_widget(buttons)
