"""The start screen: branch name, one big button per service, "now serving", language and text size."""

from __future__ import annotations

from functools import partial
from typing import Any

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image

from wins_kiosk.screens import theme
from wins_kiosk.screens.widgets import HoldArea, Panel, Text, Tile
from wins_kiosk.state import Kiosk


def header(kiosk: Kiosk, scale: float) -> BoxLayout:
    """Logo and branch name; holding the name for two seconds asks for the operator PIN."""
    bar = BoxLayout(orientation="horizontal", size_hint_y=None, height=dp(96), spacing=dp(20))
    logo = kiosk.config.logo_path
    if logo is not None and logo.is_file():
        bar.add_widget(Image(source=str(logo), fit_mode="contain", size_hint_x=None, width=dp(160)))
    bar.add_widget(
        HoldArea(
            kiosk.branch_name or kiosk.text("welcome"),
            on_hold=kiosk.operator.request,
            size=theme.TITLE,
            scale=scale,
            bold=True,
            halign="left",
        )
    )
    bar.add_widget(
        Text(
            kiosk.text("speech_hint"),
            size=theme.SMALL * 0.9,
            scale=min(scale, 1.15),
            colour=theme.MUTED,
            halign="right",
            size_hint_x=0.6,
        )
    )
    return bar


class StartScreen(BoxLayout):  # type: ignore[misc]
    @staticmethod
    def signature(kiosk: Kiosk) -> tuple[Any, ...]:
        return (
            kiosk.language,
            kiosk.font_scale,
            tuple(kiosk.services),
            tuple(kiosk.stopped_services),
            kiosk.branch_name,
            kiosk.notice,
            tuple(kiosk.languages),
            kiosk.help_status,
            kiosk.priority_choice is not None,
            tuple(c.get("key") for c in kiosk.priority_categories),
        )

    def __init__(self, kiosk: Kiosk, **kwargs: Any) -> None:
        super().__init__(orientation="vertical", padding=dp(32), spacing=dp(20), **kwargs)
        self.kiosk = kiosk
        scale = kiosk.font_scale
        self.add_widget(header(kiosk, scale))

        body = BoxLayout(orientation="horizontal", spacing=dp(28))
        left = BoxLayout(orientation="vertical", spacing=dp(16))
        left.add_widget(
            Text(
                kiosk.text("choose_service"),
                size=theme.HEADING,
                scale=scale,
                colour=theme.MUTED,
                halign="left",
                size_hint_y=None,
                height=dp(56 * scale),
            )
        )
        if kiosk.notice:
            notice = Panel(background=theme.FAULT, size_hint_y=None, height=dp(80 * scale), padding=dp(12))
            notice.add_widget(Text(kiosk.text(kiosk.notice), size=theme.SMALL, scale=scale, colour=theme.BLACK))
            left.add_widget(notice)
        if kiosk.priority_choice is not None:
            priority = kiosk.text("priority_chosen", label=kiosk.priority_label(kiosk.priority_choice))
            notice = Panel(background=theme.ACCENT, size_hint_y=None, height=dp(70 * scale), padding=dp(12))
            notice.add_widget(Text(priority, size=theme.BODY, scale=scale, bold=True, colour=theme.BLACK))
            left.add_widget(notice)
        services, stopped = kiosk.services, kiosk.stopped_services
        if not services:
            left.add_widget(Text(kiosk.text("no_services"), size=theme.HEADING, scale=scale))
        if services or stopped:
            columns = 1 if len(services) + len(stopped) <= 3 else 2
            grid = GridLayout(cols=columns, spacing=dp(18))
            for service in services:
                # Closed by its hours: greyed with "Closed · opens at …", still a button (a tap says why not).
                colour = theme.hex_colour(service.colour) if service.open_now else theme.SURFACE_HIGH
                grid.add_widget(
                    Tile(
                        kiosk.service_label(service),
                        on_tap=partial(kiosk.tap_service, service.id),
                        focus_key=f"service:{service.id}",
                        background=colour,
                        size=theme.SERVICE if service.open_now else theme.BODY,
                        scale=scale,
                        bold=service.open_now,
                        padding=(dp(16), dp(8)),
                    )
                )
            for service in stopped:
                # Stopped by staff (as on the web kiosk): named, so nobody looks for it, greyed, and no button.
                note = Panel(background=theme.SURFACE, padding=(dp(16), dp(8)))
                note.add_widget(Text(kiosk.service_label(service), size=theme.BODY, scale=scale, colour=theme.MUTED))
                grid.add_widget(note)
            left.add_widget(grid)
        extra = BoxLayout(orientation="horizontal", size_hint_y=None, height=dp(84 * min(scale, 1.2)), spacing=dp(14))
        if kiosk.priority_categories:
            key = "priority_button" if kiosk.priority_choice is None else "priority_cancel"
            action = kiosk.open_priority if kiosk.priority_choice is None else kiosk.cancel_priority
            extra.add_widget(
                Tile(
                    kiosk.text(key),
                    on_tap=action,
                    focus_key="priority",
                    size=theme.BODY,
                    scale=min(scale, 1.2),
                    bold=True,
                    background=theme.ACCENT,
                )
            )
        extra.add_widget(
            Tile(
                kiosk.text("help_button"),
                on_tap=kiosk.request_help,
                focus_key="help",
                size=theme.BODY,
                scale=min(scale, 1.2),
                bold=True,
                background=theme.HELP,
            )
        )
        left.add_widget(extra)
        body.add_widget(left)

        # The called numbers are large already: they keep their size in big-text mode so they never wrap.
        serving = Panel(orientation="vertical", size_hint_x=0.44, padding=dp(18), spacing=dp(8))
        serving.add_widget(
            Text(
                kiosk.text("now_serving"),
                size=theme.HEADING,
                scale=min(scale, 1.1),
                bold=True,
                colour=theme.ACCENT,
                size_hint_y=None,
                height=dp(60),
            )
        )
        self.serving_rows = BoxLayout(orientation="vertical", spacing=dp(6))
        serving.add_widget(self.serving_rows)
        body.add_widget(serving)
        self.add_widget(body)

        footer = BoxLayout(orientation="horizontal", size_hint_y=None, height=dp(84 * min(scale, 1.2)), spacing=dp(14))
        for code, name in kiosk.language_choices():
            chosen = code == kiosk.language
            footer.add_widget(
                Tile(
                    name,
                    on_tap=partial(kiosk.set_language, code),
                    focus_key=f"lang:{code}",
                    size=theme.BODY,
                    scale=min(scale, 1.2),
                    bold=chosen,
                    background=theme.WHITE if chosen else theme.SURFACE_HIGH,
                )
            )
        big = kiosk.text("normal_text") if kiosk.big_font else kiosk.text("big_text")
        footer.add_widget(
            Tile(
                f"A+  {big}" if not kiosk.big_font else f"A   {big}",
                on_tap=kiosk.toggle_big_font,
                focus_key="big_text",
                size=theme.BODY,
                scale=min(scale, 1.2),
                size_hint_x=1.6,
                background=theme.SURFACE_HIGH,
            )
        )
        self.add_widget(footer)
        self._shown: tuple[Any, ...] = ()
        self.update()

    def update(self) -> None:
        """Only the "now serving" list changes in place (a rebuild could swallow a tap in progress)."""
        kiosk = self.kiosk
        rows = tuple((n.number, n.counter_name) for n in kiosk.now_serving)
        if rows == self._shown:
            return
        self._shown = rows
        self.serving_rows.clear_widgets()
        # Number and counter the same size (a customer needs both), in normal and bigger text alike.
        scale = min(kiosk.font_scale, 1.0)
        if not rows:
            self.serving_rows.add_widget(
                Text(kiosk.text("nobody_called"), size=theme.SERVING_NUMBER, scale=scale, colour=theme.MUTED)
            )
        for number, counter in rows:
            row = BoxLayout(orientation="horizontal", spacing=dp(10))
            row.add_widget(
                Text(number, size=theme.SERVING_NUMBER, scale=scale, bold=True, halign="left", size_hint_x=0.5)
            )
            row.add_widget(
                Text(
                    kiosk.text("counter", counter=counter),
                    size=theme.SERVING_NUMBER,
                    scale=scale,
                    bold=True,
                    colour=theme.ACCENT,
                    halign="right",
                    shorten=True,
                    shorten_from="left",
                )
            )
            self.serving_rows.add_widget(row)
