"""The result screen: the big number, service, people ahead, estimated wait, the QR code; and, when the
printer failed, a clear note to remember the number."""

from __future__ import annotations

from typing import Any

from kivy.graphics import Color, Rectangle
from kivy.metrics import dp
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from wins_kiosk.model import PrintStatus
from wins_kiosk.screens import theme
from wins_kiosk.screens.theme import Colour
from wins_kiosk.screens.widgets import Panel, QrImage, Text
from wins_kiosk.state import Kiosk


class StatusLine(BoxLayout):  # type: ignore[misc]
    """A line of status text under a thin rule in its colour."""

    def __init__(self, colour: Colour, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.canvas.before:
            Color(*colour)
            self._rule = Rectangle()
        self.bind(pos=self._redraw, size=self._redraw)

    def _redraw(self, *_: Any) -> None:
        self._rule.pos = (self.x + self.width * 0.2, self.top - dp(4))
        self._rule.size = (self.width * 0.6, dp(4))


class ResultScreen(ButtonBehavior, BoxLayout):  # type: ignore[misc]
    """Touch anywhere to finish (once the slip is out)."""

    @staticmethod
    def signature(kiosk: Kiosk) -> tuple[Any, ...]:
        ticket = kiosk.ticket
        return (ticket.id if ticket else None, kiosk.print_status, kiosk.language, kiosk.font_scale)

    def __init__(self, kiosk: Kiosk, **kwargs: Any) -> None:
        super().__init__(orientation="vertical", padding=dp(32), spacing=dp(20), **kwargs)
        self.kiosk = kiosk
        ticket = kiosk.ticket
        assert ticket is not None
        scale = kiosk.font_scale
        failed = kiosk.print_status == PrintStatus.FAILED

        body = BoxLayout(orientation="horizontal", spacing=dp(32))
        left = Panel(orientation="vertical", padding=dp(24), spacing=dp(6))
        left.add_widget(
            Text(kiosk.text("your_number"), size=theme.HEADING, scale=scale, colour=theme.MUTED, size_hint_y=0.14)
        )
        left.add_widget(
            Text(
                ticket.number,
                size=theme.NUMBER,
                scale=min(scale, 1.15),
                bold=True,
                colour=theme.ACCENT,
                size_hint_y=0.42,
            )
        )
        left.add_widget(Text(ticket.service_name, size=theme.HEADING, scale=scale, bold=True, size_hint_y=0.16))
        left.add_widget(Text(kiosk.people_ahead_text(ticket), size=theme.BODY, scale=scale, size_hint_y=0.14))
        left.add_widget(Text(kiosk.wait_text(ticket), size=theme.BODY, scale=scale, size_hint_y=0.14))
        body.add_widget(left)

        right = Panel(orientation="vertical", background=theme.WHITE, size_hint_x=0.42, padding=dp(12), spacing=dp(4))
        self.qr = QrImage(ticket.tracking_url)
        right.add_widget(self.qr)
        caption = kiosk.text("scan_to_follow")
        right.add_widget(
            Text(caption, size=theme.BODY * 0.85, scale=min(scale, 1.15), colour=theme.BLACK, size_hint_y=0.24)
        )
        body.add_widget(right)
        self.add_widget(body)

        status = kiosk.print_status
        if failed:
            banner = Panel(
                orientation="vertical", background=theme.FAULT, size_hint_y=None, height=dp(150 * scale), padding=dp(16)
            )
            banner.add_widget(
                Text(kiosk.text("printer_fault_title"), size=theme.HEADING, scale=scale, bold=True, colour=theme.BLACK)
            )
            banner.add_widget(
                Text(
                    kiosk.text("printer_fault_note", number=ticket.number),
                    size=theme.BODY,
                    scale=scale,
                    colour=theme.BLACK,
                )
            )
        else:
            # A status line, not a button: no filled box, no rounded corners, just a coloured rule above it.
            colour, key = {
                PrintStatus.PRINTING: (theme.MUTED, "issuing"),
                PrintStatus.PRINTED: (theme.SUCCESS, "take_ticket"),
                PrintStatus.NONE: (theme.MUTED, "touch_to_finish"),
            }[status]
            banner = StatusLine(colour, size_hint_y=None, height=dp(80 * scale))
            banner.add_widget(Text(kiosk.text(key), size=theme.HEADING, scale=scale, bold=True, colour=colour))
        self.add_widget(banner)
        if status != PrintStatus.PRINTING:
            self.finish = Text(
                kiosk.text("touch_to_finish"),
                size=theme.SMALL,
                scale=scale,
                colour=theme.MUTED,
                size_hint_y=None,
                height=dp(36 * scale),
            )
            self.finish.focus_key = "finish"
            self.add_widget(self.finish)

    def on_release(self) -> None:
        self.kiosk.tap_result()
