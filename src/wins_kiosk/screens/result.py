"""The result screen: the big number, service, people ahead, estimated wait, the QR code; and, when the
printer failed, a clear note to remember the number."""

from __future__ import annotations

from typing import Any

from kivy.metrics import dp
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from wins_kiosk.screens import theme
from wins_kiosk.screens.widgets import Panel, QrImage, Text
from wins_kiosk.state import Kiosk, PrintStatus


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
            colour, key = {
                PrintStatus.PRINTING: (theme.SURFACE_HIGH, "issuing"),
                PrintStatus.PRINTED: (theme.SUCCESS, "take_ticket"),
                PrintStatus.NONE: (theme.SURFACE_HIGH, "touch_to_finish"),
            }[status]
            banner = Panel(background=colour, size_hint_y=None, height=dp(96 * scale), padding=dp(12))
            banner.add_widget(
                Text(kiosk.text(key), size=theme.HEADING, scale=scale, bold=True, colour=theme.text_on(colour))
            )
        self.add_widget(banner)
        if status != PrintStatus.PRINTING:
            self.add_widget(
                Text(
                    kiosk.text("touch_to_finish"),
                    size=theme.SMALL,
                    scale=scale,
                    colour=theme.MUTED,
                    size_hint_y=None,
                    height=dp(36 * scale),
                )
            )

    def on_release(self) -> None:
        self.kiosk.tap_result()
